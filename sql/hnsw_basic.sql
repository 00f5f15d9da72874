-- gv_hnsw: interface, options, errors, small tables, NULLs, duplicates,
-- filtered queries, plans
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

-- empty, 1-row and 2-row tables
CREATE TABLE small (id int, v gvector(3));
CREATE INDEX small_l2 ON small USING gv_hnsw (v gvector_l2_ops);
SET enable_seqscan = off;
SELECT id FROM small ORDER BY v <-> '[1,1,1]' LIMIT 5;
INSERT INTO small VALUES (1, '[1,2,3]');
SELECT id FROM small ORDER BY v <-> '[1,1,1]' LIMIT 5;
INSERT INTO small VALUES (2, '[0,0,0]'), (3, NULL);
SELECT id FROM small ORDER BY v <-> '[1,1,1]' LIMIT 5;
SELECT id FROM small ORDER BY v <-> NULL LIMIT 5;
SELECT * FROM gigavector.hnsw_check('small_l2');
REINDEX INDEX small_l2;
SELECT id FROM small ORDER BY v <-> '[3,3,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM small ORDER BY v <-> '[3,3,3]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE small;

-- every operator class, against the exact order (seq scan)
SELECT setseed(0.5);
CREATE TABLE items (id int PRIMARY KEY, category int, v gvector(8));
INSERT INTO items
SELECT i, i % 50, (SELECT array_agg(round((random() * 10)::numeric, 1)::real) FROM generate_series(1, 8) WHERE i > 0)::gvector
FROM generate_series(1, 2000) i;
CREATE INDEX items_l2 ON items USING gv_hnsw (v gvector_l2_ops);
CREATE INDEX items_ip ON items USING gv_hnsw (v gvector_ip_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX items_cos ON items USING gv_hnsw (v gvector_cosine_ops) WITH (ef_search = 100);
CREATE INDEX items_l1 ON items USING gv_hnsw (v gvector_l1_ops);
ANALYZE items;
CREATE TABLE queries AS SELECT id AS qid, v AS q FROM items WHERE id % 100 = 7;

CREATE FUNCTION pg_temp.recall(op text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE hits int := 0; total int := 0; r record; exact int[]; approx int[];
BEGIN
    FOR r IN SELECT q FROM queries LOOP
        SET LOCAL enable_indexscan = off;
        EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v %s $1, id LIMIT 10) s', op) INTO exact USING r.q;
        SET LOCAL enable_indexscan = on;
        SET LOCAL enable_seqscan = off;
        EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v %s $1 LIMIT 10) s', op) INTO approx USING r.q;
        SET LOCAL enable_seqscan = on;
        hits := hits + (SELECT count(*) FROM unnest(approx) a WHERE a = ANY(exact));
        total := total + 10;
    END LOOP;
    RETURN round(hits::numeric / total, 2);
END $$;
SET gigavector.hnsw_ef_search = 80;
SELECT pg_temp.recall('<->') >= 0.95 AS l2_ok, pg_temp.recall('<#>') >= 0.80 AS ip_ok,
       pg_temp.recall('<=>') >= 0.90 AS cos_ok, pg_temp.recall('<+>') >= 0.90 AS l1_ok;

-- the planner picks the right index per operator, and returns distances in order
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <#> '[1,2,3,4,5,6,7,8]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '[1,2,3,4,5,6,7,8]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <+> '[1,2,3,4,5,6,7,8]' LIMIT 3;
RESET enable_seqscan;
-- without enable_seqscan = off, the planner picks the index for ORDER BY ... LIMIT
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10;
-- also on a larger table; a selective WHERE on a btree column goes to the btree
CREATE TABLE big AS SELECT i AS id, ARRAY[i % 101, i % 103, i % 107, i % 109]::real[]::gvector(4) AS v
FROM generate_series(1, 30000) i;
CREATE INDEX big_l2 ON big USING gv_hnsw (v gvector_l2_ops);
ANALYZE big;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY v <-> '[1,2,3,4]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM big WHERE id = 5 ORDER BY v <-> '[1,2,3,4]' LIMIT 10;
DROP TABLE big;
-- a selective WHERE on a btree column: the btree and a sort instead
CREATE INDEX items_category ON items (category);
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE id = 5 ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10;

-- results come in non-decreasing distance, also past ef_search and with filters
SET enable_seqscan = off;
SET gigavector.hnsw_ef_search = 10;
SELECT count(*) AS returned, bool_and(d >= prev) AS ordered
FROM (SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY ord) AS prev
      FROM (SELECT row_number() OVER () AS ord, d
            FROM (SELECT v <-> '[5,5,5,5,5,5,5,5]' AS d FROM items ORDER BY v <-> '[5,5,5,5,5,5,5,5]' LIMIT 300) s) s2) s3;
SELECT count(*) AS returned, bool_and(d >= prev) AS ordered, bool_and(category = 7) AS filtered
FROM (SELECT category, d, lag(d, 1, 0::float8) OVER (ORDER BY ord) AS prev
      FROM (SELECT row_number() OVER () AS ord, category, d
            FROM (SELECT category, v <-> '[5,5,5,5,5,5,5,5]' AS d FROM items WHERE category + 0 = 7
                  ORDER BY v <-> '[5,5,5,5,5,5,5,5]' LIMIT 10) s) s2) s3;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE category + 0 = 7 ORDER BY v <-> '[5,5,5,5,5,5,5,5]' LIMIT 40;
-- all 40 rows of a category: the scan goes on far past ef_search = 10 ...
SELECT count(*) AS all_found FROM (SELECT id FROM items WHERE category + 0 = 7 ORDER BY v <-> '[5,5,5,5,5,5,5,5]' LIMIT 40) s;
-- ... unless gigavector.max_scan_tuples stops it
SET gigavector.max_scan_tuples = 5;
SELECT count(*) < 40 AS bounded FROM (SELECT id FROM items WHERE category + 0 = 7 ORDER BY v <-> '[5,5,5,5,5,5,5,5]' LIMIT 40) s;
RESET gigavector.max_scan_tuples;
RESET gigavector.hnsw_ef_search;
RESET enable_seqscan;

-- storage: sq8 codes in the slots (default) or f32 vectors; both return the
-- same rows in exact distance order
CREATE INDEX items_l2_f32 ON items USING gv_hnsw (v gvector_l2_ops) WITH (storage = f32);
SELECT indexrelid::regclass AS index, s.storage, s.nodes, s.pages > 0 AS has_pages
  FROM pg_index, gigavector.hnsw_stats(indexrelid) s
 WHERE indexrelid IN ('items_l2'::regclass, 'items_l2_f32'::regclass) ORDER BY 1;
SET enable_seqscan = off;
SET gigavector.hnsw_ef_search = 400;  -- (past the 2000 rows' calibrated default: exact answers)
CREATE TEMP TABLE via_sq8 AS SELECT q.qid, array_agg(s.id ORDER BY s.ord) AS ids
  FROM queries q CROSS JOIN LATERAL (SELECT id, row_number() OVER () AS ord FROM
    (SELECT id FROM items ORDER BY v <-> q.q LIMIT 10) x) s GROUP BY q.qid;
DROP INDEX items_l2;
CREATE TEMP TABLE via_f32 AS SELECT q.qid, array_agg(s.id ORDER BY s.ord) AS ids
  FROM queries q CROSS JOIN LATERAL (SELECT id, row_number() OVER () AS ord FROM
    (SELECT id FROM items ORDER BY v <-> q.q LIMIT 10) x) s GROUP BY q.qid;
SELECT count(*) AS queries, count(*) FILTER (WHERE a.ids = b.ids) AS same_rows
  FROM via_sq8 a JOIN via_f32 b USING (qid);
RESET gigavector.hnsw_ef_search;
RESET enable_seqscan;
ALTER INDEX items_l2_f32 RENAME TO items_l2;

-- joins, subqueries, prepared statements
PREPARE knn(gvector, int) AS SELECT id FROM items ORDER BY v <-> $1 LIMIT $2;
EXECUTE knn('[1,1,1,1,1,1,1,1]', 3);
SELECT q.qid, (SELECT id FROM items ORDER BY v <-> q.q LIMIT 1) = q.qid AS finds_itself FROM queries q ORDER BY qid LIMIT 5;

-- inserts after the build, deletes and VACUUM
INSERT INTO items SELECT i, 0, ARRAY[i, i, i, i, i, i, i, i]::real[]::gvector FROM generate_series(3001, 3100) i;
SELECT id FROM items ORDER BY v <-> '[3050.2,3050.2,3050.2,3050.2,3050.2,3050.2,3050.2,3050.2]' LIMIT 3;
DELETE FROM items WHERE id BETWEEN 3040 AND 3060;
VACUUM items;
SELECT id FROM items ORDER BY v <-> '[3050.2,3050.2,3050.2,3050.2,3050.2,3050.2,3050.2,3050.2]' LIMIT 3;
SELECT count(*) AS problems FROM gigavector.hnsw_check('items_l2');
-- VACUUM put the 21 dead nodes' slots on the free list; inserts reuse them
SELECT nodes, free_slots, deleted, reused, repaired > 0 AS repaired FROM gigavector.hnsw_stats('items_l2');
INSERT INTO items SELECT i, 0, ARRAY[i, i, i, i, i, i, i, i]::real[]::gvector FROM generate_series(3045, 3049) i;
SELECT nodes, free_slots, deleted, reused FROM gigavector.hnsw_stats('items_l2');
SELECT id FROM items ORDER BY v <-> '[3050.2,3050.2,3050.2,3050.2,3050.2,3050.2,3050.2,3050.2]' LIMIT 3;
SELECT count(*) AS problems FROM gigavector.hnsw_check('items_l2');
SELECT pg_temp.err($$SELECT * FROM gigavector.hnsw_stats('items')$$);
SELECT count(*) AS problems FROM gigavector.hnsw_check('items_ip');

-- thousands of identical vectors, and zero vectors under cosine
CREATE TABLE dups (id int, v gvector(4));
INSERT INTO dups SELECT i, '[1,1,1,1]' FROM generate_series(1, 3000) i;
INSERT INTO dups SELECT i, ARRAY[i, 0, 0, 1]::real[]::gvector FROM generate_series(3001, 3100) i;
INSERT INTO dups VALUES (4000, '[0,0,0,0]');
CREATE INDEX dups_l2 ON dups USING gv_hnsw (v gvector_l2_ops);
CREATE INDEX dups_cos ON dups USING gv_hnsw (v gvector_cosine_ops);
SET enable_seqscan = off;
SET gigavector.hnsw_ef_search = 100;
SELECT count(*) AS zero_distance FROM (SELECT v <-> '[1,1,1,1]' AS d FROM dups ORDER BY v <-> '[1,1,1,1]' LIMIT 50) s WHERE d = 0;
SELECT id FROM dups ORDER BY v <-> '[3050,0,0,1]' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM dups ORDER BY v <=> '[1,0,0,0]' LIMIT 5) s;
SELECT count(*) AS problems FROM gigavector.hnsw_check('dups_l2');
-- zero vectors under cosine have no direction (distance NaN, which sorts
-- last): the index keeps them outside the graph and returns them after every
-- other row, as a sequential scan orders them; also after inserts and VACUUM
INSERT INTO dups VALUES (4001, '[0,0,0,0]');
SET gigavector.hnsw_ef_search = 5000;  -- every graph row in the first batch
SELECT count(*) AS returned, array_agg(id ORDER BY id) FILTER (WHERE ord > 3100) AS last
FROM (SELECT id, row_number() OVER () AS ord
      FROM (SELECT id FROM dups ORDER BY v <=> '[1,0,0,0]' LIMIT 5000) s) s2;
DELETE FROM dups WHERE id = 4000;
VACUUM dups;
SELECT count(*) AS returned, array_agg(id ORDER BY id) FILTER (WHERE ord > 3100) AS last
FROM (SELECT id, row_number() OVER () AS ord
      FROM (SELECT id FROM dups ORDER BY v <=> '[1,0,0,0]' LIMIT 5000) s) s2;
SELECT count(*) AS problems FROM gigavector.hnsw_check('dups_cos');
SET gigavector.hnsw_ef_search = 100;
CREATE TABLE zeros (id int, v gvector(3));
INSERT INTO zeros VALUES (1, '[0,0,0]'), (2, '[0,0,0]');
CREATE INDEX zeros_cos ON zeros USING gv_hnsw (v gvector_cosine_ops);
INSERT INTO zeros VALUES (3, '[0,0,0]'), (4, '[1,2,3]');
SELECT id FROM zeros ORDER BY v <=> '[1,2,3]' LIMIT 1;
SELECT array_agg(id ORDER BY id) AS all_rows FROM (SELECT id FROM zeros ORDER BY v <=> '[1,2,3]' LIMIT 10) s;
SELECT count(*) AS problems FROM gigavector.hnsw_check('zeros_cos');
DROP TABLE zeros;
RESET enable_seqscan;
RESET gigavector.hnsw_ef_search;

-- bad options, bad columns, bad arguments
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v gvector_l2_ops) WITH (m = 1)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v gvector_l2_ops) WITH (m = 101)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v gvector_l2_ops) WITH (ef_construction = 3)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v gvector_l2_ops) WITH (m = 40, ef_construction = 50)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v gvector_l2_ops) WITH (ef_search = -1)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v gvector_l2_ops) WITH (nonsense = 1)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v gvector_l2_ops) WITH (storage = f16)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (id)$$);
SELECT pg_temp.err($$CREATE INDEX ON items USING gv_hnsw (v gvector_l2_ops, id)$$);
CREATE TABLE nodim (v gvector);
SELECT pg_temp.err($$CREATE INDEX ON nodim USING gv_hnsw (v gvector_l2_ops)$$);
SELECT pg_temp.err($$SET gigavector.hnsw_ef_search = -1$$);
SELECT pg_temp.err($$SET gigavector.max_scan_tuples = -1$$);
SELECT pg_temp.err($$SELECT * FROM gigavector.hnsw_check('items_category')$$);
SELECT pg_temp.err($$INSERT INTO items VALUES (9999, 1, '[1,2,3]')$$);
SET enable_seqscan = off;
SELECT pg_temp.err($$SELECT id FROM items ORDER BY v <-> '[1,2,3]' LIMIT 1$$);
RESET enable_seqscan;
DROP TABLE items, queries, dups, nodim;
