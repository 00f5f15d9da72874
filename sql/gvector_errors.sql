-- every bad input gives an ERROR with an SQLSTATE, a message and a hint,
-- and the session goes on working
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
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

-- malformed text
SELECT pg_temp.err($$SELECT '[1,2'::gvector$$);
SELECT pg_temp.err($$SELECT '[1,,2]'::gvector$$);
SELECT pg_temp.err($$SELECT '[a]'::gvector$$);
SELECT pg_temp.err($$SELECT '1,2'::gvector$$);
SELECT pg_temp.err($$SELECT '[1 2]'::gvector$$);
SELECT pg_temp.err($$SELECT '[1,2]x'::gvector$$);
SELECT pg_temp.err($$SELECT '[,1]'::gvector$$);
SELECT pg_temp.err($$SELECT '[1,]'::gvector$$);
SELECT pg_temp.err($$SELECT ''::gvector$$);
-- empty, NaN, infinities, out of range
SELECT pg_temp.err($$SELECT '[]'::gvector$$);
SELECT pg_temp.err($$SELECT '[NaN]'::gvector$$);
SELECT pg_temp.err($$SELECT '[1,Infinity]'::gvector$$);
SELECT pg_temp.err($$SELECT '[-inf]'::gvector$$);
SELECT pg_temp.err($$SELECT '[1e39]'::gvector$$);
SELECT pg_temp.err($$SELECT '[-1e39]'::gvector$$);
SELECT pg_temp.err($$SELECT ARRAY['NaN']::real[]::gvector$$);
SELECT pg_temp.err($$SELECT ARRAY['Infinity']::double precision[]::gvector$$);
SELECT pg_temp.err($$SELECT ARRAY[1e39]::double precision[]::gvector$$);
SELECT pg_temp.err($$SELECT ARRAY['NaN']::numeric[]::gvector$$);
SELECT pg_temp.err($$SELECT ARRAY[1,NULL]::real[]::gvector$$);
SELECT pg_temp.err($$SELECT ARRAY[[1,2],[3,4]]::real[]::gvector$$);
SELECT pg_temp.err($$SELECT '{}'::real[]::gvector$$);
SELECT pg_temp.err($$SELECT '[1e30]'::gvector::integer[]$$);
-- too many dimensions
SELECT pg_temp.err($$SELECT array_fill(1::real, ARRAY[16001])::gvector$$);
SELECT pg_temp.err($$SELECT ('[' || repeat('1,', 16000) || '1]')::gvector$$);
SELECT pg_temp.err($$SELECT array_fill(1::real, ARRAY[9000])::gvector || array_fill(1::real, ARRAY[9000])::gvector$$);
-- typmods
SELECT pg_temp.err($$SELECT '[1,2]'::gvector(3)$$);
SELECT pg_temp.err($$CREATE TABLE bad (v gvector(0))$$);
SELECT pg_temp.err($$CREATE TABLE bad (v gvector(16001))$$);
SELECT pg_temp.err($$CREATE TABLE bad (v gvector(3, 2))$$);
CREATE TABLE t3 (v gvector(3));
SELECT pg_temp.err($$INSERT INTO t3 VALUES ('[1,2]')$$);
SELECT pg_temp.err($$INSERT INTO t3 VALUES (ARRAY[1,2,3,4]::real[])$$);
SELECT pg_temp.err($$UPDATE t3 SET v = '[1]'$$);
-- different dimensions
SELECT pg_temp.err($$SELECT '[1,2]'::gvector <-> '[1,2,3]'$$);
SELECT pg_temp.err($$SELECT '[1,2]'::gvector <#> '[1,2,3]'$$);
SELECT pg_temp.err($$SELECT '[1,2]'::gvector <=> '[1,2,3]'$$);
SELECT pg_temp.err($$SELECT '[1,2]'::gvector <+> '[1,2,3]'$$);
SELECT pg_temp.err($$SELECT '[1,2]'::gvector + '[1,2,3]'$$);
SELECT pg_temp.err($$SELECT avg(v) FROM (VALUES ('[1,2]'::gvector), ('[1,2,3]')) t(v)$$);
-- arithmetic overflow and underflow
SELECT pg_temp.err($$SELECT '[3e38]'::gvector + '[3e38]'$$);
SELECT pg_temp.err($$SELECT '[1e30]'::gvector * '[1e30]'$$);
SELECT pg_temp.err($$SELECT '[1e-30]'::gvector * '[1e-30]'$$);
SELECT pg_temp.err($$SELECT sum(v) FROM (VALUES ('[3e38]'::gvector), ('[3e38]')) t(v)$$);
-- subvector out of range
SELECT pg_temp.err($$SELECT subvector('[1,2,3]'::gvector, 4, 1)$$);
SELECT pg_temp.err($$SELECT subvector('[1,2,3]'::gvector, 1, -1)$$);
SELECT pg_temp.err($$SELECT subvector('[1,2,3]'::gvector, -5, 2)$$);

-- malformed binary input, through a binary COPY file built by hand (a
-- relative path is in the server's data directory):
-- a valid file first, then truncated and corrupted variants
CREATE TABLE bin (v gvector);
CREATE FUNCTION pg_temp.copy_file(payload bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
        || '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea $$;
CREATE FUNCTION pg_temp.try_binary(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.lo_from_bytea(4242002, pg_temp.copy_file(payload));
    PERFORM pg_catalog.lo_export(4242002, 'gigavector_regress_bad.bin');
    PERFORM pg_catalog.lo_unlink(4242002);
    RETURN pg_temp.err($q$COPY bin FROM 'gigavector_regress_bad.bin' (FORMAT binary)$q$);
END $$;
SELECT pg_temp.try_binary(gvector_send('[1,2]'));                          -- valid
SELECT v FROM bin;
SELECT pg_temp.try_binary('\x0002'::bytea);                                  -- truncated header
SELECT pg_temp.try_binary('\x000200003f800000'::bytea);                      -- truncated elements
SELECT pg_temp.try_binary('\x000100013f800000'::bytea);                      -- reserved field set
SELECT pg_temp.try_binary('\x000000003f800000'::bytea);                      -- zero dimensions
SELECT pg_temp.try_binary('\xffff00003f800000'::bytea);                      -- negative dimensions
SELECT pg_temp.try_binary('\x3e8100003f800000'::bytea);                      -- 16001 dimensions
SELECT pg_temp.try_binary('\x000100007fc00000'::bytea);                      -- NaN
SELECT pg_temp.try_binary('\x000100007f800000'::bytea);                      -- +Infinity
SELECT pg_temp.try_binary('\x000100003f8000003f800000'::bytea);              -- trailing bytes
SELECT count(*) AS rows_after_bad_copies FROM bin;

-- the session still works
SELECT '[1,2,3]'::gvector <-> '[1,2,3]' AS still_working;
DROP TABLE t3, bin;
