-- Operating indexes from psql, without shared_preload_libraries (the
-- regression cluster does not preload; TAP 013 covers the shared-memory
-- counters): index_facts, index_info, index_check (planted faults),
-- measure_recall (against an independent computation), tune, index_suggest,
-- the views, EXPLAIN's line, rights and errors, for gv_hnsw and gv_ivfpq.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
RESET client_min_messages;

CREATE SCHEMA ops_test;
GRANT USAGE ON SCHEMA ops_test TO PUBLIC;
CREATE FUNCTION ops_test.err(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; hint text;
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || CASE WHEN hint <> '' THEN ' [hint given]' ELSE ' [NO HINT]' END;
END $$;

-- EXPLAIN (ANALYZE)'s GigaVector line, numbers masked.
CREATE FUNCTION ops_test.explain_line(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
        IF line LIKE 'GigaVector%' THEN
            RETURN NEXT regexp_replace(line, '\d+', 'N', 'g');
        END IF;
    END LOOP;
END $$;

-- two tables with the same 3000 rows of 12-d vectors, one index each
SELECT setseed(0.31);
CREATE TABLE ops_h (id int PRIMARY KEY, v gvector(12));
INSERT INTO ops_h
SELECT i, array_agg((random() * 2 - 1)::real ORDER BY k)::gvector
  FROM generate_series(1, 3000) i, generate_series(1, 12) k GROUP BY i;
CREATE TABLE ops_i AS SELECT * FROM ops_h;
ALTER TABLE ops_i ADD PRIMARY KEY (id);
SET client_min_messages = warning;
CREATE INDEX ops_hnsw ON ops_h USING gv_hnsw (v gvector_l2_ops);
CREATE INDEX ops_ivf ON ops_i USING gv_ivfpq (v gvector_l2_ops);
RESET client_min_messages;

-- facts: what the views read from the index itself
SELECT access_method, dimensions, live_entries, dead_entries,
       options ~ '^m=16, ef_construction=64, storage=sq8, ef_search=\d+ \(derived\)$' AS options_ok,
       am_status
  FROM gigavector.index_facts('ops_hnsw');
SELECT access_method, dimensions, live_entries, dead_entries,
       options ~ '^lists=\d+ \(derived\), subvectors=6 \(derived\), bits=4 \(derived\), rerank=heap, probes=\d+ \(derived\), rerank_candidates=\d+ \(derived\)$' AS options_ok,
       am_status
  FROM gigavector.index_facts('ops_ivf');

-- info: the structure, in the spirit of pgstatindex
SELECT property, CASE WHEN property IN ('access_method', 'dimensions', 'm', 'storage', 'live_nodes',
                                        'deleted_nodes', 'unreachable_nodes', 'problems')
                      THEN value ELSE '(varies)' END AS value
  FROM gigavector.index_info('ops_hnsw')
 WHERE property !~ '^nodes_on_level_[1-9]';  -- how many levels a build draws varies
SELECT property, CASE WHEN property IN ('access_method', 'dimensions', 'codebook', 'rerank',
                                        'live_entries', 'dead_entries', 'tail_share', 'residual_growth')
                      THEN value ELSE '(varies)' END AS value
  FROM gigavector.index_info('ops_ivf');
-- the level counts add up: every live node is on level 0
SELECT (SELECT value FROM gigavector.index_info('ops_hnsw') WHERE property = 'nodes_on_level_0')
     = (SELECT value FROM gigavector.index_info('ops_hnsw') WHERE property = 'live_nodes') AS level0_all;

-- index_check: sound indexes give no rows, with and without heapallindexed
SELECT * FROM gigavector.index_check('ops_hnsw');
SELECT * FROM gigavector.index_check('ops_hnsw', heapallindexed => true);
SELECT * FROM gigavector.index_check('ops_ivf', true);

-- planted fault 1: rows the index never saw (indisready off while they are
-- inserted). The entries are all sound, so only heapallindexed finds them.
UPDATE pg_index SET indisready = false WHERE indexrelid IN ('ops_hnsw'::regclass, 'ops_ivf'::regclass);
INSERT INTO ops_h SELECT id + 10000, v FROM ops_h WHERE id <= 3;
INSERT INTO ops_i SELECT id + 10000, v FROM ops_i WHERE id <= 3;
UPDATE pg_index SET indisready = true WHERE indexrelid IN ('ops_hnsw'::regclass, 'ops_ivf'::regclass);
SELECT count(*) FROM gigavector.index_check('ops_hnsw');
SELECT regexp_replace(problem, '\(\d+,\d+\)', '(b,o)') AS problem
  FROM gigavector.index_check('ops_hnsw', true);
SELECT regexp_replace(problem, '\(\d+,\d+\)', '(b,o)') AS problem
  FROM gigavector.index_check('ops_ivf', true);
-- the outcome is kept, and health calls the index unhealthy
SELECT indexrelname, status, reason ~ '^index_check found 3 problem' AS reason_ok, action
  FROM gigavector.health ORDER BY 1;
REINDEX INDEX ops_hnsw;
REINDEX INDEX ops_ivf;
SELECT count(*) FROM gigavector.index_check('ops_hnsw', true);
SELECT count(*) FROM gigavector.index_check('ops_ivf', true);
SELECT indexrelname, status FROM gigavector.health ORDER BY 1;

-- planted fault 2: entries whose rows VACUUM removed behind the index's
-- back (VACUUM skips an index that is not ready, so its entries keep
-- pointing at line pointers it frees).
UPDATE pg_index SET indisready = false WHERE indexrelid IN ('ops_hnsw'::regclass, 'ops_ivf'::regclass);
DELETE FROM ops_h WHERE id IN (5, 6);
DELETE FROM ops_i WHERE id IN (5, 6);
VACUUM (INDEX_CLEANUP ON) ops_h, ops_i;
UPDATE pg_index SET indisready = true WHERE indexrelid IN ('ops_hnsw'::regclass, 'ops_ivf'::regclass);
SELECT regexp_replace(problem, '\(\d+,\d+\)', '(b,o)') AS problem
  FROM gigavector.index_check('ops_hnsw');
SELECT regexp_replace(problem, '\(\d+,\d+\)', '(b,o)') AS problem
  FROM gigavector.index_check('ops_ivf');
REINDEX INDEX ops_hnsw;
REINDEX INDEX ops_ivf;
SELECT count(*) FROM gigavector.index_check('ops_hnsw', true);
SELECT count(*) FROM gigavector.index_check('ops_ivf', true);

-- measure_recall against an independent computation: the index's answer
-- through the planner (seqscan off) and the exact one (index scans off),
-- matched by id, for 20 query vectors taken from the table. One probe and
-- 10 candidates: low enough to miss rows.
CREATE TEMP TABLE q AS SELECT id, v FROM ops_i WHERE id BETWEEN 100 AND 119;
SET gigavector.ivfpq_probes = 1;
SET gigavector.ivfpq_rerank_candidates = 10;
SET enable_seqscan = off;
CREATE TEMP TABLE by_index AS
SELECT q.id AS qid, r.id FROM q, LATERAL (SELECT id FROM ops_i ORDER BY v <-> q.v LIMIT 10) r;
RESET enable_seqscan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
CREATE TEMP TABLE exact AS
SELECT q.id AS qid, r.id FROM q, LATERAL (SELECT id FROM ops_i ORDER BY v <-> q.v LIMIT 10) r;
RESET enable_indexscan;
RESET enable_bitmapscan;
SELECT round((SELECT count(*) FROM by_index JOIN exact USING (qid, id)) / 200.0, 3)
     = round((SELECT recall FROM gigavector.measure_recall('ops_ivf',
                                                           (SELECT array_agg(v ORDER BY id) FROM q)))::numeric, 3)
       AS measure_recall_agrees,
       (SELECT count(*) FROM by_index JOIN exact USING (qid, id)) < 190 AS index_missed_some;
-- stored for the views, with the settings it ran with
SELECT recall_k, recall_settings ~ 'probes=1 \(gigavector.ivfpq_probes\)' AS settings_ok,
       last_recall < 0.95 AS below
  FROM gigavector.index_stats WHERE indexrelname = 'ops_ivf';
-- a measurement under a session override says nothing of the index's
-- defaults: health does not judge by it
SELECT status FROM gigavector.health WHERE indexrelname = 'ops_ivf';
RESET gigavector.ivfpq_probes;
RESET gigavector.ivfpq_rerank_candidates;
-- one at the defaults below the target makes the index degraded, with tune
-- as the action
SET gigavector.target_recall = 0.9999;
SELECT recall < 0.9999 AS below FROM gigavector.measure_recall('ops_ivf', 40);
SELECT status, reason ~ '^measured recall@10 0\.\d+ is below the target 0.9999$' AS reason_ok, action
  FROM gigavector.health WHERE indexrelname = 'ops_ivf';
RESET gigavector.target_recall;
-- the other forms: drawn from the table; k
SELECT queries, k, source, recall BETWEEN 0.5 AND 1 AS recall_ok, mean_ms > 0 AS timed
  FROM gigavector.measure_recall('ops_ivf', 30, 5);

-- tune: the cheapest setting reaching the target, kept as the index's default
SELECT count(*) FILTER (WHERE chosen) AS chosen_rows,
       bool_and(recall BETWEEN 0 AND 1) AS recalls_ok,
       bool_or(chosen AND recall >= 0.97) AS chosen_reaches,
       count(*) >= 1 AS curve_has_points
  FROM gigavector.tune('ops_hnsw', 0.97, queries => 60);
SELECT reloptions[1] ~ '^ef_search=\d+$' AS stored FROM pg_class WHERE relname = 'ops_hnsw';
SELECT count(*) FILTER (WHERE chosen) AS chosen_rows,
       bool_or(chosen AND recall >= 0.97) AS chosen_reaches
  FROM gigavector.tune('ops_ivf', 0.97, queries => 60);
SELECT reloptions ~ '^\{probes=\d+,rerank_candidates=\d+\}$' AS stored
  FROM (SELECT reloptions::text FROM pg_class WHERE relname = 'ops_ivf') s;
-- a new session scans with the stored settings (no SET anywhere)
\c
SELECT options ~ 'ef_search=\d+$' AS option_in_effect FROM gigavector.index_stats WHERE indexrelname = 'ops_hnsw';
SELECT recall >= 0.94 AS reaches FROM gigavector.measure_recall('ops_hnsw', 60);
SELECT target_recall FROM gigavector.index_stats ORDER BY indexrelname;

-- EXPLAIN (ANALYZE) shows what the scan did
SET enable_seqscan = off;
SELECT ops_test.explain_line('SELECT id FROM ops_h ORDER BY v <-> (SELECT v FROM ops_h WHERE id = 7) LIMIT 10');
SELECT ops_test.explain_line('SELECT id FROM ops_i ORDER BY v <-> (SELECT v FROM ops_i WHERE id = 7) LIMIT 10');
RESET enable_seqscan;

-- the views without preloading: counts from pg_stat_all_indexes, no timings
SELECT pg_stat_force_next_flush();
SELECT indexrelname, access_method, operator_class, dimensions, live_entries,
       size_bytes = pg_relation_size(indexrelid) AS size_ok, scans > 0 AS scanned, p50_ms,
       counters_source
  FROM gigavector.index_stats ORDER BY indexrelname;
SELECT gigavector.counters_available(), count(*) FROM gigavector.index_counters();
SELECT stats_reset IS NOT NULL AS reset FROM gigavector.stats_reset();
SELECT * FROM gigavector.dashboard WHERE false;  -- its columns

-- dead rows: degraded until VACUUM
DELETE FROM ops_i WHERE id % 4 = 0;
SELECT pg_stat_force_next_flush();
SELECT indexrelname, status, reason, action FROM gigavector.health WHERE indexrelname = 'ops_ivf';
VACUUM ops_i;
SELECT indexrelname, status, reason FROM gigavector.health WHERE indexrelname = 'ops_ivf';

-- a size limit
SET gigavector.health_max_index_size = '64kB';
SELECT indexrelname, status, reason ~ 'above gigavector.health_max_index_size' AS reason_ok
  FROM gigavector.health ORDER BY 1;
RESET gigavector.health_max_index_size;

-- index_suggest: from the measured trade-offs
SELECT recommended, access_method, options, estimated_size_bytes, estimated_build_seconds, reason
  FROM gigavector.index_suggest(100, 100000);
SELECT recommended, access_method, pg_size_pretty(estimated_size_bytes) AS size, reason
  FROM gigavector.index_suggest(1536, 20000000, memory_budget_bytes => 68719476736);
SELECT recommended, access_method, options FROM gigavector.index_suggest(384, 500000, target_recall => 0.99);
SELECT create_index FROM gigavector.index_suggest(100, 100000) WHERE recommended;

-- rights: a role sees only the indexes of tables it may SELECT
CREATE ROLE ops_reader;
CREATE TABLE ops_mine (id int, v gvector(3));
ALTER TABLE ops_mine OWNER TO ops_reader;
INSERT INTO ops_mine VALUES (1, '[1,2,3]'), (2, '[3,2,1]');
SET client_min_messages = warning;
CREATE INDEX ops_mine_idx ON ops_mine USING gv_hnsw (v gvector_l2_ops);
RESET client_min_messages;
SET ROLE ops_reader;
SELECT indexrelname FROM gigavector.index_stats;
SELECT indexrelname FROM gigavector.health;
SELECT count(*) FROM gigavector.recall_history;
SELECT count(*) FROM gigavector.check_history;
SELECT ops_test.err($$SELECT * FROM gigavector.index_check('ops_hnsw')$$);
SELECT ops_test.err($$SELECT * FROM gigavector.index_info('ops_ivf')$$);
SELECT ops_test.err($$SELECT * FROM gigavector.measure_recall('ops_hnsw', 5)$$);
SELECT ops_test.err($$SELECT * FROM gigavector.index_search('ops_hnsw', '[1,2,3,4,5,6,7,8,9,10,11,12]', 3)$$);
SELECT ops_test.err($$SELECT gigavector.stats_reset('ops_hnsw')$$);
SELECT ops_test.err($$SELECT * FROM gigavector.take_query_samples()$$);
SELECT count(*) FROM gigavector.index_check('ops_mine_idx', true);
RESET ROLE;
GRANT SELECT ON ops_h TO ops_reader;
SET ROLE ops_reader;
SELECT indexrelname FROM gigavector.index_stats ORDER BY 1;
SELECT ops_test.err($$SELECT * FROM gigavector.tune('ops_hnsw')$$);
SELECT ops_test.err($$SELECT * FROM gigavector.index_check('ops_hnsw')$$);
SELECT count(*) FROM gigavector.hnsw_check('ops_hnsw');
SELECT queries FROM gigavector.measure_recall('ops_hnsw', 5);
RESET ROLE;

-- errors
SELECT ops_test.err($$SELECT * FROM gigavector.index_check('ops_h_pkey')$$);
SELECT ops_test.err($$SELECT * FROM gigavector.index_info('ops_h')$$);
SELECT ops_test.err($$SELECT * FROM gigavector.index_facts(0)$$);
SELECT ops_test.err($$SELECT * FROM gigavector.measure_recall('ops_hnsw', 0)$$);
SELECT ops_test.err($$SELECT * FROM gigavector.measure_recall('ops_hnsw', 10, 0)$$);
SELECT ops_test.err($$SELECT * FROM gigavector.measure_recall('ops_hnsw', 10, 10, 'bogus')$$);
SELECT ops_test.err($$SELECT * FROM gigavector.measure_recall('ops_hnsw', 10, 10, 'sampled')$$);
SELECT ops_test.err($$SELECT * FROM gigavector.measure_recall('ops_hnsw', '{}'::gvector[])$$);
SELECT ops_test.err($$SELECT * FROM gigavector.measure_recall('ops_hnsw', ARRAY['[1,2]'::gvector])$$);
SELECT ops_test.err($$SELECT * FROM gigavector.tune('ops_hnsw', 1.5)$$);
SELECT ops_test.err($$SELECT * FROM gigavector.index_suggest(0, 10)$$);
SELECT ops_test.err($$SELECT * FROM gigavector.index_suggest(10, 0)$$);
SELECT ops_test.err($$SELECT * FROM gigavector.index_search('ops_hnsw', '[1,2,3,4,5,6,7,8,9,10,11,12]', 0)$$);
SELECT ops_test.err($$SELECT gigavector.stats_reset('ops_h')$$);
SELECT * FROM gigavector.index_check(NULL);

DROP TABLE ops_h, ops_i, ops_mine;
DROP ROLE ops_reader;
SET client_min_messages = warning;
DROP SCHEMA ops_test CASCADE;
