-- gv_hnsw plans on a table that was never analyzed (as right after COPY and
-- CREATE INDEX, before autovacuum): 784-d vectors are TOASTed, so the heap
-- is small and the planner knows nothing of the rows. It must still take the
-- index for a kNN LIMIT, and a sequential scan or the btree where those are
-- cheaper (a LIMIT near the table's size, a selective filter).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
CREATE TABLE plans (id int PRIMARY KEY, v gvector(784)) WITH (autovacuum_enabled = false);
SELECT setseed(0.5);
INSERT INTO plans
  SELECT i, (SELECT array_agg((random() * 255)::real) FROM generate_series(1, 784) WHERE i > 0)::gvector
    FROM generate_series(1, 1500) i;
CREATE INDEX plans_v ON plans USING gv_hnsw (v gvector_l2_ops);
SELECT count(*) = 0 AS no_column_statistics FROM pg_stats WHERE tablename = 'plans';
-- kNN with a small LIMIT: the index
EXPLAIN (COSTS OFF) SELECT id FROM plans ORDER BY v <-> (SELECT v FROM plans WHERE id = 1) LIMIT 10;
-- and it answers: the query's own row first
SELECT id FROM plans ORDER BY v <-> (SELECT v FROM plans WHERE id = 7) LIMIT 1;
-- a LIMIT beyond the table: a sequential scan and a sort
EXPLAIN (COSTS OFF) SELECT id FROM plans ORDER BY v <-> (SELECT v FROM plans WHERE id = 1) LIMIT 50000;
-- a filter that keeps one row: the btree, then a sort
EXPLAIN (COSTS OFF) SELECT id FROM plans WHERE id = 5 ORDER BY v <-> (SELECT v FROM plans WHERE id = 1) LIMIT 10;
-- the index created first, the rows inserted after (CREATE INDEX saw an
-- empty table, so the planner's row count comes from the heap's pages alone)
CREATE TABLE plans2 (id int PRIMARY KEY, v gvector(784)) WITH (autovacuum_enabled = false);
CREATE INDEX plans2_v ON plans2 USING gv_hnsw (v gvector_l2_ops);
INSERT INTO plans2 SELECT * FROM plans;
EXPLAIN (COSTS OFF) SELECT id FROM plans2 ORDER BY v <-> (SELECT v FROM plans WHERE id = 1) LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM plans2 ORDER BY v <-> (SELECT v FROM plans WHERE id = 1) LIMIT 50000;
DROP TABLE plans2;
-- the same after ANALYZE
ANALYZE plans;
EXPLAIN (COSTS OFF) SELECT id FROM plans ORDER BY v <-> (SELECT v FROM plans WHERE id = 1) LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM plans ORDER BY v <-> (SELECT v FROM plans WHERE id = 1) LIMIT 50000;
DROP TABLE plans;
