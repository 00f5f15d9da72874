-- gv_hnsw storage modes and build paths: wide vectors (coded mode with
-- vector pages spanning pages, up to 16000 dimensions), builds that outgrow
-- maintenance_work_mem, CREATE INDEX CONCURRENTLY, REINDEX [CONCURRENTLY]
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
RESET client_min_messages;

CREATE FUNCTION pg_temp.random_vector(dim int, seed int) RETURNS gvector LANGUAGE sql AS $$
    SELECT array_agg(sin(seed * 7919.0 + k * 104729.0)::real ORDER BY k)::gvector
    FROM generate_series(1, dim) k $$;

-- self-search: every row finds itself at distance 0 through the index
CREATE FUNCTION pg_temp.self_misses(tbl regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE misses bigint;
BEGIN
    SET LOCAL enable_seqscan = off;
    EXECUTE format('SELECT count(*) FROM %s a WHERE NOT EXISTS (
        SELECT 1 FROM (SELECT b.id, b.v <-> a.v AS d FROM %s b ORDER BY b.v <-> a.v LIMIT 1) s WHERE s.d = 0)', tbl, tbl)
        INTO misses;
    RETURN misses;
END $$;

-- 1536 dimensions with storage = f32: the float vector in the node slot
CREATE TABLE w1536 (id int, v gvector(1536));
INSERT INTO w1536 SELECT i, pg_temp.random_vector(1536, i) FROM generate_series(1, 300) i;
CREATE INDEX w1536_l2 ON w1536 USING gv_hnsw (v gvector_l2_ops) WITH (storage = f32);
SELECT storage, nodes FROM gigavector.hnsw_stats('w1536_l2');
INSERT INTO w1536 SELECT i, pg_temp.random_vector(1536, i) FROM generate_series(301, 350) i;
SELECT pg_temp.self_misses('w1536') AS misses, (SELECT count(*) FROM gigavector.hnsw_check('w1536_l2')) AS problems;

-- 3072 dimensions: codes in the slot, the vector spans two pages
CREATE TABLE w3072 (id int, v gvector(3072));
INSERT INTO w3072 SELECT i, pg_temp.random_vector(3072, i) FROM generate_series(1, 200) i;
CREATE INDEX w3072_l2 ON w3072 USING gv_hnsw (v gvector_l2_ops);
CREATE INDEX w3072_cos ON w3072 USING gv_hnsw (v gvector_cosine_ops);
INSERT INTO w3072 SELECT i, pg_temp.random_vector(3072, i) FROM generate_series(201, 240) i;
SELECT pg_temp.self_misses('w3072') AS misses, (SELECT count(*) FROM gigavector.hnsw_check('w3072_l2')) AS problems;
SET enable_seqscan = off;
SELECT id FROM w3072 ORDER BY v <=> pg_temp.random_vector(3072, 17) LIMIT 1;
RESET enable_seqscan;

-- 16000 dimensions: no codes fit; traversal reads the full vectors
CREATE TABLE w16000 (id int, v gvector(16000));
INSERT INTO w16000 SELECT i, pg_temp.random_vector(16000, i) FROM generate_series(1, 40) i;
CREATE INDEX w16000_l2 ON w16000 USING gv_hnsw (v gvector_l2_ops);
INSERT INTO w16000 SELECT i, pg_temp.random_vector(16000, i) FROM generate_series(41, 50) i;
SELECT pg_temp.self_misses('w16000') AS misses, (SELECT count(*) FROM gigavector.hnsw_check('w16000_l2')) AS problems;
DROP TABLE w1536, w3072, w16000;

-- a build that outgrows maintenance_work_mem goes on page by page, with a NOTICE
CREATE TABLE grow (id int, v gvector(64));
INSERT INTO grow SELECT i, pg_temp.random_vector(64, i) FROM generate_series(1, 3000) i;
SET maintenance_work_mem = '1MB';
CREATE INDEX grow_l2 ON grow USING gv_hnsw (v gvector_l2_ops);
RESET maintenance_work_mem;
SELECT pg_temp.self_misses('grow') AS misses, (SELECT count(*) FROM gigavector.hnsw_check('grow_l2')) AS problems;

-- a cancelled build (here by statement_timeout) errors out cleanly and
-- leaves no index behind; the session goes on
SET statement_timeout = '20ms';
CREATE INDEX grow_cancelled ON grow USING gv_hnsw (v gvector_l2_ops);
RESET statement_timeout;
SELECT count(*) AS leftover FROM pg_class WHERE relname = 'grow_cancelled';

-- concurrent builds and rebuilds
CREATE INDEX CONCURRENTLY grow_cos ON grow USING gv_hnsw (v gvector_cosine_ops);
REINDEX INDEX grow_l2;
REINDEX INDEX CONCURRENTLY grow_cos;
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'grow'::regclass ORDER BY 1::text;
SELECT pg_temp.self_misses('grow') AS misses;
DROP TABLE grow;
