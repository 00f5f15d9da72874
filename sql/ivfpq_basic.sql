-- gv_ivfpq: options, builds on empty, tiny and clustered tables, every
-- operator class, both code widths and re-rank modes, exact order, inserts,
-- VACUUM, filters, zero vectors, and ALTER INDEX. Results are compared with
-- exact answers computed by sequential scans in the same test.
SET client_min_messages = warning;  -- (derived options vary with the SIMD path)
-- 3000 rows in 30 clusters of 24 dimensions (centres in [-5, 5]), from a
-- fixed formula
CREATE TABLE ivf (id int PRIMARY KEY, v gvector(24));
INSERT INTO ivf
SELECT i, (SELECT array_agg(((i % 30) * 7 + j * 13) % 11 - 5 + sin(i * 12.9898 + j * 78.233) * 1.5)::real[]
           FROM generate_series(1, 24) j)::gvector
FROM generate_series(1, 3000) i;
-- queries: 20 more rows of the same kind, not in the table (calibration
-- measures recall on the table's own rows: queries like them get it)
CREATE TABLE ivf_q AS
SELECT i AS qid, (SELECT array_agg(((i % 30) * 7 + j * 13) % 11 - 5 + sin(i * 12.9898 + j * 78.233) * 1.5)::real[]
                  FROM generate_series(1, 24) j)::gvector AS q
FROM generate_series(5001, 5020) i;

-- recall@10 of an index scan against the exact answer (sequential scan)
CREATE FUNCTION ivf_recall(op text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE r record; hits int := 0; total int := 0; idx int[]; ex int[];
BEGIN
  FOR r IN SELECT * FROM ivf_q LOOP
    SET LOCAL enable_seqscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM ivf ORDER BY v %s $1 LIMIT 10) s', op)
      INTO idx USING r.q;
    SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM ivf ORDER BY v %s $1, id LIMIT 10) s', op)
      INTO ex USING r.q;
    RESET enable_indexscan;
    hits := hits + (SELECT count(*) FROM unnest(idx) x WHERE x = ANY (ex));
    total := total + 10;
  END LOOP;
  RETURN hits::float8 / total;
END $$;
-- whether index scans return k rows in exact distance order (the SQL
-- operator's value; cosine's may differ from the index's float value on
-- unit vectors by rounding, 1e-6 at most)
CREATE FUNCTION ivf_in_order(op text, k int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r record; d float8[];
BEGIN
  SET LOCAL enable_seqscan = off;
  FOR r IN SELECT * FROM ivf_q LOOP
    EXECUTE format('SELECT array_agg(d) FROM (SELECT v %s $1 AS d FROM ivf ORDER BY v %s $1 LIMIT %s) s', op, op, k)
      INTO d USING r.q;
    IF EXISTS (SELECT 1 FROM generate_subscripts(d, 1) i WHERE i > 1 AND d[i] < d[i - 1] - CASE op WHEN '<=>' THEN 1e-6 ELSE 0 END)
       OR cardinality(d) <> k THEN
      RETURN false;
    END IF;
  END LOOP;
  RETURN true;
END $$;

-- options are range-checked
CREATE INDEX ON ivf USING gv_ivfpq (v gvector_l2_ops) WITH (bits = 5);
CREATE INDEX ON ivf USING gv_ivfpq (v gvector_l2_ops) WITH (lists = -1);
CREATE INDEX ON ivf USING gv_ivfpq (v gvector_l2_ops) WITH (rerank = nowhere);
CREATE INDEX ON ivf USING gv_ivfpq (v gvector_l2_ops) WITH (subvectors = 25);
CREATE INDEX ON ivf USING gv_ivfpq (v gvector_l2_ops) WITH (probes = 70000);

-- defaults derived from the data, measured, and readable afterwards
CREATE INDEX ivf_l2 ON ivf USING gv_ivfpq (v gvector_l2_ops);
SELECT dimensions, lists, subvectors, bits, rerank, derived, exact_scans, built_rows,
       live_entries, packed_entries, tail_entries, probes BETWEEN 1 AND lists AS probes_ok,
       rerank_candidates >= 10 AS rerank_ok, calibration_recall >= 0.95 AS measured_ok
FROM gigavector.ivfpq_stats('ivf_l2');
SELECT * FROM gigavector.ivfpq_check('ivf_l2');
SELECT ivf_recall('<->') >= 0.9 AS recall_ok, ivf_in_order('<->', 10) AS ordered;
-- probing every list with every entry as a candidate is exact
SET gigavector.ivfpq_probes = 30;
SET gigavector.ivfpq_rerank_candidates = 3000;
SELECT ivf_recall('<->') AS exact_recall;
RESET gigavector.ivfpq_probes;
RESET gigavector.ivfpq_rerank_candidates;
-- the planner uses it
EXPLAIN (COSTS OFF) SELECT id FROM ivf ORDER BY v <-> (SELECT q FROM ivf_q WHERE qid = 1) LIMIT 5;
-- a filter that keeps one row in 50 still gets its 10 rows, in order
SELECT count(*), bool_and(id % 50 = 0)
FROM (SELECT id FROM ivf WHERE id % 50 = 0
      ORDER BY v <-> (SELECT q FROM ivf_q WHERE qid = 3) LIMIT 10) s;
-- LIMIT beyond the candidates: every row comes back once
SELECT count(*), count(DISTINCT id)
FROM (SELECT id FROM ivf ORDER BY v <-> (SELECT q FROM ivf_q WHERE qid = 4)) s;

-- inserts go to the lists' tails; deleted rows leave with VACUUM
INSERT INTO ivf SELECT 3000 + id, v FROM ivf WHERE id <= 100 ORDER BY id;
DELETE FROM ivf WHERE id BETWEEN 11 AND 100;
SELECT live_entries, tail_entries FROM gigavector.ivfpq_stats('ivf_l2');
VACUUM ivf;
SELECT live_entries, dead_entries, tail_entries FROM gigavector.ivfpq_stats('ivf_l2');
SELECT * FROM gigavector.ivfpq_check('ivf_l2');
-- an inserted row is found by its own vector (with its twin, id - 3000),
-- with every list probed (the defaults are approximate)
SET gigavector.ivfpq_probes = 65535;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ivf
  ORDER BY v <-> (SELECT v FROM ivf WHERE id = 3005) LIMIT 2) s;
RESET gigavector.ivfpq_probes;
-- a deleted row is never returned
SELECT count(*) FROM (SELECT id FROM ivf ORDER BY v <-> (SELECT v FROM ivf WHERE id = 3050) LIMIT 50) s
WHERE id BETWEEN 11 AND 100;
SELECT ivf_recall('<->') >= 0.9 AS recall_after_churn;

-- VACUUM re-packs: unpacked tails go into fast-scan blocks, dead entries
-- leave; every row is still found by its own vector
INSERT INTO ivf SELECT i, (SELECT array_agg(((i % 30) * 7 + j * 13) % 11 - 5
                                  + sin(i * 12.9898 + j * 78.233) * 1.5)::real[]
                           FROM generate_series(1, 24) j)::gvector
FROM generate_series(6001, 8000) i;
SELECT live_entries, packed_entries, tail_entries FROM gigavector.ivfpq_stats('ivf_l2');
VACUUM ivf;
SELECT live_entries, dead_entries, packed_entries, tail_entries, residual_growth < 1.1 AS no_drift
FROM gigavector.ivfpq_stats('ivf_l2');
DELETE FROM ivf WHERE id > 6000 AND id % 3 = 0;
VACUUM ivf;
-- lists with a tenth of their entries dead are re-packed (the others keep
-- them, marked: fewer than the 666 deleted remain)
SELECT live_entries, dead_entries < 666 AS repacked, packed_entries, tail_entries
FROM gigavector.ivfpq_stats('ivf_l2');
SELECT * FROM gigavector.ivfpq_check('ivf_l2');
-- (every list probed, 200 candidates: whether the rows are there, not the
-- defaults' recall)
SET enable_seqscan = off;
SET gigavector.ivfpq_probes = 65535;
SET gigavector.ivfpq_rerank_candidates = 200;
SELECT count(*) AS not_found_by_own_vector FROM ivf AS x
  LEFT JOIN LATERAL (SELECT y.v <-> x.v AS d FROM ivf y ORDER BY y.v <-> x.v LIMIT 1) s ON true
 WHERE x.id % 7 = 0 AND (s.d IS NULL OR s.d <> 0);
RESET gigavector.ivfpq_probes;
RESET gigavector.ivfpq_rerank_candidates;
RESET enable_seqscan;
DELETE FROM ivf WHERE id > 6000;

-- options that shape the pages cannot change; search settings can
ALTER INDEX ivf_l2 SET (lists = 5);
ALTER INDEX ivf_l2 SET (probes = 4, rerank_candidates = 50);
SELECT probes, rerank_candidates FROM gigavector.ivfpq_stats('ivf_l2');
SET gigavector.ivfpq_probes = 2;
SELECT probes FROM gigavector.ivfpq_stats('ivf_l2');
RESET gigavector.ivfpq_probes;
DROP INDEX ivf_l2;

-- every operator class; 8-bit codes; re-rank from the index's copy
CREATE INDEX ivf_ip ON ivf USING gv_ivfpq (v gvector_ip_ops) WITH (lists = 20);
SELECT ivf_recall('<#>') >= 0.9 AS ip_recall, ivf_in_order('<#>', 10) AS ip_ordered;
DROP INDEX ivf_ip;
CREATE INDEX ivf_cos ON ivf USING gv_ivfpq (v gvector_cosine_ops) WITH (bits = 8, subvectors = 6);
SELECT bits, subvectors FROM gigavector.ivfpq_stats('ivf_cos');
SELECT ivf_recall('<=>') >= 0.9 AS cos_recall, ivf_in_order('<=>', 10) AS cos_ordered;
DROP INDEX ivf_cos;
CREATE INDEX ivf_l1 ON ivf USING gv_ivfpq (v gvector_l1_ops) WITH (rerank = index);
SELECT rerank FROM gigavector.ivfpq_stats('ivf_l1');
SELECT ivf_recall('<+>') >= 0.9 AS l1_recall, ivf_in_order('<+>', 10) AS l1_ordered;
INSERT INTO ivf SELECT 5000 + id, v FROM ivf WHERE id BETWEEN 101 AND 120;
SET gigavector.ivfpq_probes = 65535;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ivf
  ORDER BY v <+> (SELECT v FROM ivf WHERE id = 5105) LIMIT 2) s;
RESET gigavector.ivfpq_probes;
SELECT * FROM gigavector.ivfpq_check('ivf_l1');
DROP INDEX ivf_l1;

-- built on an empty table: every row is found, in exact order
CREATE TABLE ivf_empty (id int, v gvector(3));
SET client_min_messages = notice;
CREATE INDEX ivf_empty_idx ON ivf_empty USING gv_ivfpq (v gvector_cosine_ops);
SET client_min_messages = warning;
INSERT INTO ivf_empty SELECT i, ARRAY[i % 7, i % 5, 1]::gvector FROM generate_series(1, 300) i;
INSERT INTO ivf_empty VALUES (301, '[0,0,0]'), (302, NULL);
SET enable_seqscan = off;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM ivf_empty ORDER BY v <=> '[1,2,3]') s;
-- the zero vector (no direction) comes last
SELECT id FROM ivf_empty ORDER BY v <=> '[1,2,3]' OFFSET 299 LIMIT 5;
-- the nearest twelve, as a sequential scan finds them
SELECT array_agg(round((v <=> '[1.3,3.7,0.2]')::numeric, 6)) FROM
  (SELECT v FROM ivf_empty ORDER BY v <=> '[1.3,3.7,0.2]' LIMIT 12) s;
SET enable_seqscan = on;
SET enable_indexscan = off;
SELECT array_agg(round((v <=> '[1.3,3.7,0.2]')::numeric, 6)) FROM
  (SELECT v FROM ivf_empty ORDER BY v <=> '[1.3,3.7,0.2]' LIMIT 12) s;
RESET enable_indexscan;
RESET enable_seqscan;
SELECT exact_scans, live_entries, zero_vectors FROM gigavector.ivfpq_stats('ivf_empty_idx');

-- wide vectors: 16000 dimensions (an untrained index; rerank = index keeps
-- each vector over 8 pages), and 2000 dimensions trained on 1100 rows (the
-- subvectors capped so that a block of 32 codes fits a page)
SET client_min_messages = warning;
CREATE TABLE ivf_wide (id int, v gvector(16000));
INSERT INTO ivf_wide SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 0.011)::real)
                                FROM generate_series(1, 16000) j)::gvector
FROM generate_series(1, 30) i;
CREATE INDEX ivf_wide_i ON ivf_wide USING gv_ivfpq (v gvector_l2_ops) WITH (rerank = index);
INSERT INTO ivf_wide SELECT 100 + id, v FROM ivf_wide WHERE id <= 3;
SET enable_seqscan = off;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ivf_wide
  ORDER BY v <-> (SELECT v FROM ivf_wide WHERE id = 2) LIMIT 2) s;
SELECT count(*) FROM gigavector.ivfpq_check('ivf_wide_i');
DROP INDEX ivf_wide_i;
-- a sample that cannot fit in maintenance_work_mem is refused clearly
SET maintenance_work_mem = '1MB';
CREATE INDEX ivf_wide_h ON ivf_wide USING gv_ivfpq (v gvector_l2_ops);
RESET maintenance_work_mem;
CREATE INDEX ivf_wide_h ON ivf_wide USING gv_ivfpq (v gvector_l2_ops);
SELECT id FROM ivf_wide ORDER BY v <-> (SELECT v FROM ivf_wide WHERE id = 17) LIMIT 1;
RESET enable_seqscan;
CREATE TABLE ivf_2k (id int, v gvector(2000));
INSERT INTO ivf_2k SELECT i, (SELECT array_agg((i % 10) + sin(i * 12.9898 + j * 78.233)::real)
                              FROM generate_series(1, 2000) j)::gvector
FROM generate_series(1, 1100) i;
CREATE INDEX ivf_2k_idx ON ivf_2k USING gv_ivfpq (v gvector_l2_ops);
SELECT lists, subvectors, exact_scans, live_entries FROM gigavector.ivfpq_stats('ivf_2k_idx');
SET enable_seqscan = off;
SET gigavector.ivfpq_probes = 65535;
SELECT count(*) AS not_found_by_own_vector FROM ivf_2k AS x
  LEFT JOIN LATERAL (SELECT y.v <-> x.v AS d FROM ivf_2k y ORDER BY y.v <-> x.v LIMIT 1) s ON true
 WHERE x.id % 50 = 0 AND (s.d IS NULL OR s.d <> 0);
RESET gigavector.ivfpq_probes;
RESET enable_seqscan;
DROP TABLE ivf_wide, ivf_2k;

-- inspection needs the table's rights; other indexes are refused
CREATE ROLE ivf_nobody;
GRANT USAGE ON SCHEMA gigavector TO ivf_nobody;
SET ROLE ivf_nobody;
SELECT count(*) FROM gigavector.ivfpq_stats('ivf_empty_idx');
SELECT count(*) FROM gigavector.ivfpq_check('ivf_empty_idx');
SELECT count(*) FROM gigavector.ivfpq_stats(0);
RESET ROLE;
REVOKE USAGE ON SCHEMA gigavector FROM ivf_nobody;
DROP ROLE ivf_nobody;
SELECT count(*) FROM gigavector.ivfpq_check('ivf_pkey');
SELECT count(*) FROM gigavector.ivfpq_stats('ivf');
SELECT count(*) FROM gigavector.ivfpq_stats(NULL);

-- bad input
INSERT INTO ivf_empty VALUES (400, '[1,2]');
SELECT * FROM ivf_empty ORDER BY v <=> '[1,2]' LIMIT 1;
CREATE TABLE ivf_nodim (v gvector);
CREATE INDEX ON ivf_nodim USING gv_ivfpq (v gvector_l2_ops);
DROP TABLE ivf, ivf_q, ivf_empty, ivf_nodim;
DROP FUNCTION ivf_recall(text), ivf_in_order(text, int);
