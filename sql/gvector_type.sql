-- gvector type: text I/O, typmods, casts, comparison, btree/hash use
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
RESET client_min_messages;

-- text input, whitespace tolerant; output in shortest exact form
SELECT '[1,2.5,-3]'::gvector;
SELECT '  [ 1 ,  2.5,-3 ]  '::gvector;
SELECT E'[\t1,\n2]'::gvector;
SELECT '[1e-45, 3.4028235e38, -3.4028235e38, 1.17549435e-38]'::gvector;
SELECT '[0.1, 0.30000001, 3.14159265, -0, 0]'::gvector;
SELECT '[1.5]'::gvector(1);

-- every float4 survives a text round trip (a sample of bit patterns)
SELECT count(*) AS mismatches
FROM (SELECT ('[' || string_agg(f::text, ',') || ']')::gvector AS v, array_agg(f) AS a
      FROM (SELECT (i * 7919.123457 - 50000)::real * 1.0e-3::real AS f
            FROM generate_series(1, 2000) i) s) t
WHERE (t.v::text)::gvector::real[] <> t.a;

-- decimal text is rounded to float4 exactly as float4in (strtof) rounds it:
-- long digit strings, exponents, denormals, '+' signs and hex forms
SELECT count(*) AS mismatches
FROM (SELECT s, ('[' || s || ']')::gvector::real[] AS got, ARRAY[s::real] AS want
      FROM (SELECT (i * 0.7390851332151607::float8 * 10::float8 ^ (i % 61 - 30))::text AS s
            FROM generate_series(1, 3000) i
            UNION ALL SELECT unnest(ARRAY['+1.5', '0x1p-3', '-0x1.8p1', '1.40129846e-45', '1e-40',
                                         '3.40282356e38', '.5', '5.', '000123.4500',
                                         '16777217', '0.100000001490116119384765625'])) q) t
WHERE got <> want;

-- typmod enforcement
CREATE TABLE items (id int PRIMARY KEY, v gvector(3));
INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, '[1,2,3]'), (4, '[0,0,0]'), (5, NULL);
SELECT * FROM items ORDER BY id;
SELECT '[1,2,3]'::gvector(3);
\d items

-- casts from and to arrays
SELECT ARRAY[1,2,3]::real[]::gvector;
SELECT ARRAY[1.5,2,3]::double precision[]::gvector;
SELECT ARRAY[1,2,3]::integer[]::gvector;
SELECT ARRAY[1.25,2,3]::numeric[]::gvector(3);
SELECT '[1,2.5,-3]'::gvector::real[];
SELECT '[1,2.5,-3]'::gvector::double precision[];
SELECT '[1,2.5,-3.5]'::gvector::integer[];
SELECT '[1,2.5,-3]'::gvector::numeric[];
INSERT INTO items VALUES (6, ARRAY[7,8,9]::real[]);
SELECT v FROM items WHERE id = 6;

-- equality, ordering, DISTINCT, GROUP BY, UNIQUE
SELECT '[1,2,3]'::gvector = '[1,2,3]'::gvector AS eq, '[1,2,3]'::gvector <> '[1,2,4]'::gvector AS ne,
       '[1,2]'::gvector < '[1,2,3]'::gvector AS shorter_first, '[0,-0]'::gvector = '[-0,0]'::gvector AS signed_zero;
SELECT v FROM items ORDER BY v NULLS FIRST, id;
SELECT DISTINCT v FROM items WHERE v IS NOT NULL ORDER BY v;
SELECT v, count(*) FROM items GROUP BY v ORDER BY v;
SET enable_sort = off;
SET enable_hashagg = on;
SELECT v, count(*) FROM items GROUP BY v ORDER BY count(*) DESC, v;
RESET enable_sort;
RESET enable_hashagg;
CREATE TABLE uniq (v gvector UNIQUE);
INSERT INTO uniq VALUES ('[1,2]'), ('[1,2,3]');
INSERT INTO uniq VALUES ('[1,2]');
CREATE INDEX items_v_btree ON items (v);
SET enable_seqscan = off;
SELECT id FROM items WHERE v = '[1,2,3]' ORDER BY id;
RESET enable_seqscan;

-- element-wise arithmetic and concatenation
SELECT '[1,2,3]'::gvector + '[4,5,6]'::gvector AS sum,
       '[1,2,3]'::gvector - '[4,5,6]'::gvector AS diff,
       '[1,2,3]'::gvector * '[4,5,6]'::gvector AS product,
       '[1,2]'::gvector || '[3]'::gvector AS concat;

-- binary send format: int16 dim, int16 0, float4 big-endian
SELECT gvector_send('[1,-2]'::gvector);

-- large vectors: 16000 dimensions are accepted and round trip
SELECT vector_dims(array_fill(0.5::real, ARRAY[16000])::gvector);
SELECT (array_fill(0.25::real, ARRAY[16000])::gvector)::text::gvector = array_fill(0.25::real, ARRAY[16000])::gvector AS roundtrip_16000;
CREATE TABLE wide (v gvector(16000));
INSERT INTO wide SELECT array_fill(i::real, ARRAY[16000])::gvector FROM generate_series(1, 3) i;
SELECT vector_dims(v), v = array_fill(2::real, ARRAY[16000])::gvector AS is_two FROM wide ORDER BY v;

DROP TABLE items, uniq, wide;
