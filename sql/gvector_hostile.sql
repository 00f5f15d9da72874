-- Hostile arguments to every SQL-callable function of the install script,
-- as an unprivileged role: each is an ERROR with an SQLSTATE and a hint, or
-- a valid result; nothing crashes, and no gvector that breaks the type's
-- rules (1..16000 dimensions, finite elements) can be built or stored.
-- Also: values below the float4 range read as the nearest float4, cosine
-- distance of tiny and huge vectors, and the type modifier's hint.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
DROP ROLE IF EXISTS gv_hostile;
CREATE ROLE gv_hostile;
RESET client_min_messages;

CREATE FUNCTION pg_temp.err(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; hint text;
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || CASE WHEN hint <> '' THEN ' [hint given]' ELSE ' [NO HINT]' END;
END $$;

-- an untyped column a role may only insert into (and read back)
CREATE TABLE hostile_store (v gvector);
GRANT INSERT, SELECT ON hostile_store TO gv_hostile;
SET ROLE gv_hostile;

-- the aggregates' support functions are not callable by PUBLIC (the
-- aggregates run them with their owner's rights) ...
SELECT pg_temp.err($$SELECT gvector_sum(array_fill(1::float8, array[40000]))$$);
SELECT pg_temp.err($$SELECT gvector_avg('{1}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_accum('{0}'::float8[], '[1]')$$);
SELECT pg_temp.err($$SELECT gvector_combine('{1,1}'::float8[], '{1,1}'::float8[])$$);
-- ... and the aggregates work for every role
SELECT avg(v), sum(v) FROM (VALUES ('[1,2]'::gvector), ('[3,5]')) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::gvector)) t(v) WHERE false;
SELECT pg_temp.err($$SELECT sum(v) FROM (VALUES ('[3e38]'::gvector), ('[3e38]')) t(v)$$);

-- the type's I/O functions called directly
SELECT pg_temp.err($$SELECT gvector_in('[1,2]', 0, 3)$$);
SELECT gvector_in('[1,2]', 0, -1), gvector_in('[1,2]', 0, -7);
SELECT pg_temp.err($$SELECT gvector_in('[1,NaN]', 0, -1)$$);
SELECT pg_temp.err($$SELECT gvector_typmod_in('{-1}')$$);
SELECT pg_temp.err($$SELECT gvector_typmod_in('{16001}')$$);
SELECT pg_temp.err($$SELECT gvector_typmod_in('{1,2}')$$);
SELECT pg_temp.err($$SELECT gvector_typmod_in('{abc}')$$);
SELECT pg_temp.err($$SELECT gvector_typmod_in('{99999999999}')$$);
SELECT gvector_typmod_out(-5)::text = '', gvector_typmod_out(2147483647);
SELECT pg_temp.err($$SELECT gvector_recv(NULL::internal, 0, -1)$$);
SELECT gvector_send('[1,-0,3]');
SELECT pg_temp.err($$SELECT gvector('[1,2]', 5, false)$$);
SELECT gvector('[1,2]', -1, true), gvector('[1,2]', 2, true);
-- array casts: too long, nulls, nested, NaN, overflow
SELECT pg_temp.err($$SELECT array_to_gvector(array_fill(1::real, array[40000]), -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector(array_fill(1::float8, array[16001]), -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector('{}'::int[], -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector('{1,NULL}'::numeric[], -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector('{{1},{2}}'::float8[], -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector('{NaN}'::float8[], -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector('{-Infinity}'::numeric[], -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector('{1e300}'::float8[], -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector('{1e39}'::numeric[], -1, false)$$);
SELECT pg_temp.err($$SELECT array_to_gvector('{1,2}'::real[], 3, false)$$);
SELECT gvector_to_float4('[1,2]', -1, false), gvector_to_float8('[1,2]', 5, true),
       gvector_to_int4('[1.5,-2.5]', -1, false), gvector_to_numeric('[0.1]', -1, false);
SELECT pg_temp.err($$SELECT gvector_to_int4('[3e9]', -1, false)$$);
-- arithmetic that would leave the float4 range, and concatenation past 16000
SELECT pg_temp.err($$SELECT '[3e38]'::gvector + '[3e38]'$$);
SELECT pg_temp.err($$SELECT '[-3e38]'::gvector - '[3e38]'$$);
SELECT pg_temp.err($$SELECT '[1e30]'::gvector * '[1e30]'$$);
SELECT pg_temp.err($$SELECT '[1e-30]'::gvector * '[1e-30]'$$);
SELECT pg_temp.err($$SELECT array_fill(1::real, array[9000])::gvector || array_fill(1::real, array[7001])::gvector$$);
-- subvector at the edges of int4
SELECT pg_temp.err($$SELECT subvector('[1,2,3]', 2147483647, 2147483647)$$);
SELECT pg_temp.err($$SELECT subvector('[1,2,3]', -2147483648, 2147483647)$$);
SELECT pg_temp.err($$SELECT subvector('[1,2,3]', 2, -1)$$);
SELECT pg_temp.err($$SELECT subvector('[1,2,3]', -5, 3)$$);
-- distances of different dimensions, norms, normalising
SELECT pg_temp.err($$SELECT l2_distance('[1]', '[1,2]')$$);
SELECT pg_temp.err($$SELECT cosine_distance('[1]', '[1,2]')$$);
SELECT pg_temp.err($$SELECT gvector_l2_squared_distance('[1]', '[1,2]')$$);
SELECT vector_norm('[3e38,3e38]') > 4e38, l2_normalize('[1e-45,0]'), l2_normalize('[0,0]');
SELECT gvector_cmp('[1,2]', '[1,2,3]'), gvector_hash('[0]') = gvector_hash('[-0]');
SELECT gvector_metric_l2(), gvector_metric_ip(), gvector_metric_cosine(), gvector_metric_l1();
SELECT pg_temp.err($$SELECT gv_hnsw_handler(NULL::internal)$$);
-- the management schema is open to every role (each function checks the caller's rights on
-- the table it reads); internal ones are revoked
SELECT pg_temp.err($$SELECT * FROM gigavector.take_query_samples()$$);
SELECT pg_temp.err($$SELECT * FROM gigavector.simd_info()$$);

-- nothing that breaks the type's rules can be stored through the untyped column
SELECT pg_temp.err($$INSERT INTO hostile_store SELECT array_fill(1::float8, array[40000])::gvector$$);
SELECT pg_temp.err($$INSERT INTO hostile_store VALUES ('[]')$$);
SELECT pg_temp.err($$INSERT INTO hostile_store VALUES ('[NaN,5]')$$);
SELECT pg_temp.err($$INSERT INTO hostile_store SELECT avg(v) FROM (VALUES ('[1]'::gvector)) t(v)$$);
SELECT count(*) FROM hostile_store;
RESET ROLE;

-- as the owner, the support functions check whatever array they are given
SELECT pg_temp.err($$SELECT vector_dims(gvector_sum(array_fill(1::float8, array[40000])))$$);
SELECT pg_temp.err($$SELECT l2_distance(gvector_sum(array_fill(1::float8, array[40000])), gvector_sum(array_fill(1::float8, array[40000])))$$);
SELECT pg_temp.err($$SELECT gvector_sum('{1}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_sum('{1,NaN,5}'::float8[])$$);
SELECT pg_temp.err($$SELECT vector_dims(gvector_avg(array_fill(1::float8, array[16002])))$$);
SELECT pg_temp.err($$SELECT gvector_avg('{-2,1,1}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_avg('{1.5,1,1}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_avg('{Infinity,1}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_sum('{1,1e300}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_sum('{}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_sum('{{1,2}}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_sum('{1,NULL}'::float8[])$$);
SELECT gvector_sum('{0}'::float8[]) IS NULL, gvector_avg('{2,1,3}'::float8[]), gvector_sum('{2,1,3}'::float8[]);
SELECT pg_temp.err($$SELECT gvector_accum('{1,2}'::float8[], '[1,2]')$$);
SELECT pg_temp.err($$SELECT gvector_accum('{-1,2}'::float8[], '[1]')$$);
SELECT gvector_accum('{1,2}'::float8[], '[5]');
SELECT pg_temp.err($$SELECT gvector_combine('{1,2}'::float8[], '{1,2,3}'::float8[])$$);
SELECT pg_temp.err($$SELECT gvector_combine('{1,2}'::float8[], array_fill(1::float8, array[40000]))$$);
SELECT gvector_combine('{1,2}'::float8[], '{0}'::float8[]), gvector_combine('{1,2}'::float8[], '{3,4}'::float8[]);

-- values below the float4 range read as the nearest float4 (zero or a
-- denormal), as pgvector reads them; above it they stay an error
SELECT '[1e-46,1]'::gvector, '[1e-45]'::gvector, '[-1e-50]'::gvector;
SELECT '{1e-46}'::float8[]::gvector, '{1e-45,-1e-300}'::float8[]::gvector, '{1e-46,2}'::numeric[]::gvector;
SELECT '{1.4e-45}'::numeric[]::gvector = '[1e-45]'::gvector;
SELECT pg_temp.err($$SELECT '[1e39]'::gvector$$);
SELECT pg_temp.err($$SELECT '{1e39}'::numeric[]::gvector$$);

-- cosine distance neither underflows nor overflows
SELECT '[1e-25,2e-25,3e-25]'::gvector <=> '[1,2,3]';
SELECT ('[1e19,2e19,3e19]'::gvector <=> '[1,2,3]') < 1e-12;
SELECT '[1e-30,0]'::gvector <=> '[0,1e-30]', '[1e30,0]'::gvector <=> '[-1e30,0]';
SELECT cosine_distance('[1e-45,1e-45]', '[1,1]') < 1e-12, ('[0,0]'::gvector <=> '[1,1]')::text;
SELECT ('[1e-20,2e-20]'::gvector <=> '[2e-20,4e-20]') < 1e-12;

-- the type modifier's hint names the type, not a column
SELECT pg_temp.err($$SELECT '[1,2,3]'::gvector(2)$$);
SELECT '[1,2,3]'::gvector(2);

DROP TABLE hostile_store;
DROP ROLE gv_hostile;
