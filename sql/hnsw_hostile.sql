-- gv_hnsw against hostile data and roles: sq8 recall on data whose
-- dimensions have very different ranges, lazy training of an index built
-- empty, reclaiming deleted zero vectors, cosine of tiny vectors through the
-- index, who may inspect an index, options that only a rebuild could apply,
-- and the hints for expressions.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
DROP ROLE IF EXISTS gv_nosee;
DROP ROLE IF EXISTS gv_see;
DROP ROLE IF EXISTS gv_stats;
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

-- recall@10 of 50 queries through the index (with the session's settings)
-- against the exact answer of a sequential scan; op is <->, <=> or <#>
CREATE FUNCTION pg_temp.recall(tab text, op text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE r float8;
BEGIN
    SET LOCAL enable_seqscan = off;
    EXECUTE format('CREATE TEMP TABLE ann ON COMMIT DROP AS SELECT q.id, ARRAY(SELECT t.id FROM %I t
                    ORDER BY t.v %s q.v LIMIT 10) AS ids FROM %I q WHERE q.id <= 50', tab, op, tab || '_q');
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    EXECUTE format('CREATE TEMP TABLE ex ON COMMIT DROP AS SELECT q.id, ARRAY(SELECT t.id FROM %I t
                    ORDER BY t.v %s q.v LIMIT 10) AS ids FROM %I q WHERE q.id <= 50', tab, op, tab || '_q');
    SELECT avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)) / 10.0) INTO r
      FROM ann a JOIN ex e USING (id);
    DROP TABLE ann;
    DROP TABLE ex;
    RETURN r;
END $$;

SELECT setseed(0.25);
-- (a) one outlier dimension: [1000, 31 values in -1..1] (recall 0.06 with
-- per-vector sq8 ranges, which gave every other element the same code)
CREATE TABLE outlier (id int, v gvector(32));
INSERT INTO outlier SELECT i, (ARRAY[1000::real] || ARRAY(SELECT (random() * 2 - 1)::real
    FROM generate_series(1, 31) WHERE i > 0))::gvector FROM generate_series(1, 10000) i;
CREATE TABLE outlier_q AS SELECT i AS id, (ARRAY[1000::real] || ARRAY(SELECT (random() * 2 - 1)::real
    FROM generate_series(1, 31) WHERE i > 0))::gvector AS v FROM generate_series(1, 50) i;
CREATE INDEX outlier_l2 ON outlier USING gv_hnsw (v gvector_l2_ops);
SELECT storage, trained_rows, coded_from FROM gigavector.hnsw_stats('outlier_l2');
SELECT pg_temp.recall('outlier', '<->') >= 0.95 AS outlier_l2_recall_ok;
DROP INDEX outlier_l2;
-- (under cosine these vectors are nearly parallel, and float rounding of
-- 1 - a.b alone costs recall: f32 slots are the baseline)
CREATE INDEX outlier_cos ON outlier USING gv_hnsw (v gvector_cosine_ops) WITH (storage = f32);
SELECT pg_temp.recall('outlier', '<=>') AS f32_recall \gset
DROP INDEX outlier_cos;
CREATE INDEX outlier_cos ON outlier USING gv_hnsw (v gvector_cosine_ops);
SELECT pg_temp.recall('outlier', '<=>') >= :f32_recall - 0.02 AS outlier_cosine_recall_ok;
DROP INDEX outlier_cos;
-- (b) a constant offset per dimension: dimension d is 100 d plus noise in -1..1
CREATE TABLE offsets (id int, v gvector(32));
INSERT INTO offsets SELECT i, ARRAY(SELECT (100 * d + random() * 2 - 1)::real
    FROM generate_series(1, 32) d WHERE i > 0)::gvector FROM generate_series(1, 10000) i;
CREATE TABLE offsets_q AS SELECT i AS id, ARRAY(SELECT (100 * d + random() * 2 - 1)::real
    FROM generate_series(1, 32) d WHERE i > 0)::gvector AS v FROM generate_series(1, 50) i;
CREATE INDEX offsets_l2 ON offsets USING gv_hnsw (v gvector_l2_ops);
SELECT pg_temp.recall('offsets', '<->') >= 0.95 AS offsets_l2_recall_ok;
-- (c) spreads from 0.001 to 1000, and inner product
CREATE TABLE spreads (id int, v gvector(30));
INSERT INTO spreads SELECT i, ARRAY(SELECT ((random() * 2 - 1) * 10 ^ (d % 7 - 3))::real
    FROM generate_series(0, 29) d WHERE i > 0)::gvector FROM generate_series(1, 10000) i;
CREATE TABLE spreads_q AS SELECT i AS id, ARRAY(SELECT ((random() * 2 - 1) * 10 ^ (d % 7 - 3))::real
    FROM generate_series(0, 29) d WHERE i > 0)::gvector AS v FROM generate_series(1, 50) i;
CREATE INDEX spreads_ip ON spreads USING gv_hnsw (v gvector_ip_ops);
SELECT pg_temp.recall('spreads', '<#>') >= 0.95 AS spreads_ip_recall_ok;
DROP TABLE offsets, offsets_q, spreads, spreads_q;

-- (d) dimensions constant over the data (blank pixels: MNIST has 67 of 784)
-- take no code byte: 48 of 64 coded, smaller slots, fewer pages than the same
-- data with those dimensions jittered; rows inserted later that are not
-- constant there are kept exact (uncoded) and still found
CREATE TABLE blank (id int, v gvector(64));
INSERT INTO blank SELECT i, ARRAY(SELECT CASE WHEN d <= 16 THEN 0 ELSE random() END::real
    FROM generate_series(1, 64) d WHERE i > 0)::gvector FROM generate_series(1, 6000) i;
CREATE TABLE blank_q AS SELECT i AS id, ARRAY(SELECT CASE WHEN d <= 16 THEN 0 ELSE random() END::real
    FROM generate_series(1, 64) d WHERE i > 0)::gvector AS v FROM generate_series(1, 50) i;
CREATE TABLE jittered AS SELECT id, ARRAY(SELECT CASE WHEN d <= 16 THEN random() * 0.1 ELSE x END::real
    FROM unnest(v::real[]) WITH ORDINALITY u(x, d))::gvector(64) AS v FROM blank;
CREATE INDEX blank_l2 ON blank USING gv_hnsw (v gvector_l2_ops);
CREATE INDEX jittered_l2 ON jittered USING gv_hnsw (v gvector_l2_ops);
SELECT s.coded_dimensions, j.coded_dimensions AS jittered_coded, s.pages < j.pages AS fewer_pages
  FROM gigavector.hnsw_stats('blank_l2') s, gigavector.hnsw_stats('jittered_l2') j;
SELECT pg_temp.recall('blank', '<->') >= 0.95 AS blank_l2_recall_ok;
DROP INDEX blank_l2;
CREATE INDEX blank_ip ON blank USING gv_hnsw (v gvector_ip_ops);
SELECT pg_temp.recall('blank', '<#>') >= 0.95 AS blank_ip_recall_ok;
DROP INDEX blank_ip;
CREATE INDEX blank_l1 ON blank USING gv_hnsw (v gvector_l1_ops);
SELECT pg_temp.recall('blank', '<+>') >= 0.95 AS blank_l1_recall_ok;
INSERT INTO blank SELECT 10000 + id, v FROM jittered WHERE id <= 20;
SELECT uncoded_nodes FROM gigavector.hnsw_stats('blank_l1');
SET enable_seqscan = off;
SELECT count(*) AS jittered_rows_found FROM jittered j
 WHERE (SELECT b.id FROM blank b ORDER BY b.v <+> j.v LIMIT 1) = 10000 + j.id AND j.id <= 20;
RESET enable_seqscan;
SELECT * FROM gigavector.hnsw_check('blank_l1');
SELECT * FROM gigavector.hnsw_check('jittered_l2');
DROP TABLE blank, blank_q, jittered;

-- an index built on an empty table trains its ranges on its first 1000
-- nodes, at the insert that reaches them; nodes before that are read in full
CREATE TABLE late (id int, v gvector(32));
CREATE INDEX late_l2 ON late USING gv_hnsw (v gvector_l2_ops);
INSERT INTO late SELECT id, v FROM outlier WHERE id <= 600;
SELECT nodes, trained_rows, coded_from FROM gigavector.hnsw_stats('late_l2');
CREATE TABLE late_q AS SELECT * FROM outlier_q;
SELECT pg_temp.recall('late', '<->') >= 0.95 AS untrained_recall_ok;
INSERT INTO late SELECT id, v FROM outlier WHERE id > 600 AND id <= 5000;
SELECT nodes, trained_rows, coded_from FROM gigavector.hnsw_stats('late_l2');
SELECT pg_temp.recall('late', '<->') >= 0.95 AS trained_late_recall_ok;
SELECT * FROM gigavector.hnsw_check('late_l2');
DROP TABLE late, late_q;

-- deleted zero vectors under cosine are reclaimed by VACUUM like other rows:
-- six rounds of 500 inserts, a delete and a VACUUM keep the index's size
CREATE TABLE zeros (id serial, v gvector(4));
CREATE INDEX zeros_cos ON zeros USING gv_hnsw (v gvector_cosine_ops);
INSERT INTO zeros (v) SELECT '[1,2,3,4]' FROM generate_series(1, 10);
INSERT INTO zeros (v) SELECT '[0,0,0,0]' FROM generate_series(1, 500);
SELECT pg_relation_size('zeros_cos') / 8192 AS pages_after_first_round \gset
DELETE FROM zeros WHERE v = '[0,0,0,0]';
VACUUM zeros;
SELECT free_slots, zero_vectors FROM gigavector.hnsw_stats('zeros_cos');
INSERT INTO zeros (v) SELECT '[0,0,0,0]' FROM generate_series(1, 500);
DELETE FROM zeros WHERE v = '[0,0,0,0]';
VACUUM zeros;
INSERT INTO zeros (v) SELECT '[0,0,0,0]' FROM generate_series(1, 500);
DELETE FROM zeros WHERE v = '[0,0,0,0]';
VACUUM zeros;
INSERT INTO zeros (v) SELECT '[0,0,0,0]' FROM generate_series(1, 500);
DELETE FROM zeros WHERE v = '[0,0,0,0]';
VACUUM zeros;
INSERT INTO zeros (v) SELECT '[0,0,0,0]' FROM generate_series(1, 500);
DELETE FROM zeros WHERE v = '[0,0,0,0]';
VACUUM zeros;
INSERT INTO zeros (v) SELECT '[0,0,0,0]' FROM generate_series(1, 500);
DELETE FROM zeros WHERE v = '[0,0,0,0]';
VACUUM zeros;
SELECT pg_relation_size('zeros_cos') / 8192 = :pages_after_first_round AS size_kept,
       free_slots, zero_vectors FROM gigavector.hnsw_stats('zeros_cos');
INSERT INTO zeros (v) SELECT '[0,0,0,0]' FROM generate_series(1, 300);
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE v = '[0,0,0,0]') AS zeros_found, count(*) AS rows_found
  FROM (SELECT v FROM zeros ORDER BY v <=> '[1,1,1,1]' LIMIT 1000) s;
RESET enable_seqscan;
SELECT * FROM gigavector.hnsw_check('zeros_cos');
DROP TABLE zeros;

-- tiny vectors under cosine: the index orders them as a sequential scan does
CREATE TABLE tiny (id int, v gvector(3));
INSERT INTO tiny VALUES (1, '[1e-25,2e-25,3e-25]'), (2, '[3,2,1]'), (3, '[1,2,2.9]'), (4, '[-1,-2,-3]');
CREATE INDEX tiny_cos ON tiny USING gv_hnsw (v gvector_cosine_ops);
SET enable_seqscan = off;
SELECT id, round((v <=> '[1,2,3]')::numeric, 6) AS d FROM tiny ORDER BY v <=> '[1,2,3]';
RESET enable_seqscan;
SELECT id, round((v <=> '[1,2,3]')::numeric, 6) AS d FROM tiny ORDER BY v <=> '[1,2,3]';
DROP TABLE tiny;

-- inspecting an index needs SELECT on its table (or ownership, or
-- pg_read_all_stats), by name and by OID alike
CREATE ROLE gv_nosee;
CREATE ROLE gv_see;
CREATE ROLE gv_stats IN ROLE pg_read_all_stats;
GRANT USAGE ON SCHEMA gigavector TO gv_nosee, gv_see, gv_stats;
GRANT SELECT ON outlier TO gv_see;
CREATE INDEX outlier_l2 ON outlier USING gv_hnsw (v gvector_l2_ops);
SELECT 'outlier_l2'::regclass::oid AS idx_oid \gset
SET ROLE gv_nosee;
SELECT pg_temp.err($$SELECT nodes FROM gigavector.hnsw_stats('outlier_l2')$$);
SELECT pg_temp.err($$SELECT * FROM gigavector.hnsw_check('outlier_l2')$$);
SELECT pg_temp.err(format($$SELECT nodes FROM gigavector.hnsw_stats(%s)$$, :idx_oid));
SELECT pg_temp.err(format($$SELECT * FROM gigavector.hnsw_check(%s)$$, :idx_oid));
SET ROLE gv_see;
SELECT nodes FROM gigavector.hnsw_stats('outlier_l2');
SELECT count(*) FROM gigavector.hnsw_check(:idx_oid);
SET ROLE gv_stats;
SELECT nodes FROM gigavector.hnsw_stats(:idx_oid);
RESET ROLE;
SELECT pg_temp.err($$SELECT * FROM gigavector.hnsw_stats('outlier_q')$$);
SELECT pg_temp.err($$SELECT * FROM gigavector.hnsw_check(0)$$);

-- options that shape the pages cannot be changed on a built index; the
-- ones read at scan time can
SELECT pg_temp.err($$ALTER INDEX outlier_l2 SET (m = 24)$$);
SELECT pg_temp.err($$ALTER INDEX outlier_l2 SET (ef_construction = 100)$$);
SELECT pg_temp.err($$ALTER INDEX outlier_l2 SET (storage = f32)$$);
SELECT pg_temp.err($$ALTER INDEX outlier_l2 SET (ef_search = 100)$$);
SELECT pg_temp.err($$ALTER INDEX outlier_l2 SET (m = 16, storage = sq8)$$);
SELECT reloptions FROM pg_class WHERE relname = 'outlier_l2';
ALTER INDEX outlier_l2 SET (m = 24);
-- storage = f32 beyond what a slot holds is an error, not a silent sq8
CREATE TABLE wide (v gvector(2000));
SELECT pg_temp.err($$CREATE INDEX ON wide USING gv_hnsw (v gvector_l2_ops) WITH (storage = f32)$$);
CREATE INDEX ON wide USING gv_hnsw (v gvector_l2_ops) WITH (storage = f32);
SELECT pg_temp.err($$CREATE INDEX ON wide USING gv_hnsw (v gvector_l2_ops) WITH (storage = f32, m = 4)$$);
DROP TABLE wide;

-- an expression without dimensions: the hint says to cast it
CREATE TABLE untyped (v gvector);
CREATE INDEX ON untyped USING gv_hnsw ((l2_normalize(v)) gvector_l2_ops);
CREATE INDEX ON untyped USING gv_hnsw (v gvector_l2_ops);
CREATE INDEX untyped_expr ON untyped USING gv_hnsw ((l2_normalize(v)::gvector(3)) gvector_l2_ops);
INSERT INTO untyped VALUES ('[1,2,3]');
INSERT INTO untyped VALUES ('[1,2]');
DROP TABLE untyped;

-- the extension does not advertise what it does not have
SELECT comment FROM pg_available_extensions WHERE name = 'gigavector';

DROP TABLE outlier, outlier_q;
DROP OWNED BY gv_nosee, gv_see, gv_stats;
DROP ROLE gv_nosee;
DROP ROLE gv_see;
DROP ROLE gv_stats;
