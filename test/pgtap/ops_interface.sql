-- pgTAP: the operability interface (issue 10): the views and functions
-- exist with their columns and properties, rights are as documented, and
-- the functions keep their promises on a small table (recall 1 when every
-- list is probed, index_suggest grows with the rows, health is healthy on a
-- fresh index, index_check of a sound index is empty).
BEGIN;
SELECT plan(39);

SELECT has_view('gigavector', 'index_stats', 'view index_stats');
SELECT has_view('gigavector', 'health', 'view health');
SELECT has_view('gigavector', 'dashboard', 'view dashboard');
SELECT columns_are('gigavector', 'health',
    ARRAY['schemaname', 'relname', 'indexrelname', 'access_method', 'status', 'reason', 'action'],
    'health has its columns');
SELECT has_column('gigavector', 'index_stats', col, 'index_stats.' || col)
  FROM unnest(ARRAY['dead_ratio', 'size_bytes', 'scans', 'tuples_returned', 'inserts', 'mean_ms',
                    'p50_ms', 'p95_ms', 'p99_ms', 'recent_qps', 'last_recall', 'recall_k',
                    'recall_settings', 'recall_measured_at', 'stats_since']) col;
SELECT has_function('gigavector', 'measure_recall', ARRAY['regclass', 'integer', 'integer', 'text'],
                    'measure_recall(index, queries, k, source)');
SELECT has_function('gigavector', 'tune', ARRAY['regclass', 'double precision', 'integer', 'integer', 'text', 'gvector[]'],
                    'tune(index, target_recall, k, queries)');
SELECT has_function('gigavector', 'index_suggest', ARRAY['integer', 'bigint', 'bigint', 'double precision'],
                    'index_suggest(dimensions, expected_rows, memory_budget_bytes, target_recall)');
SELECT has_function('gigavector', 'index_check', ARRAY['regclass', 'boolean'], 'index_check(index, heapallindexed)');
SELECT has_function('gigavector', 'stats_reset', ARRAY['regclass'], 'stats_reset(index)');
SELECT volatility_is('gigavector', 'measure_recall', ARRAY['regclass', 'integer', 'integer', 'text'],
                     'volatile', 'measure_recall is volatile (it writes its result)');
SELECT ok(NOT has_function_privilege('public', 'gigavector.take_query_samples()', 'EXECUTE'),
          'PUBLIC may not take the sampled queries out of shared memory');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'gigavector.query_samples'::regclass),
          'query_samples is under row-level security');

-- a small table, both methods
SELECT setseed(0.5);
CREATE TEMP TABLE tap_ops (id int PRIMARY KEY, v gvector(6));
INSERT INTO tap_ops SELECT i, array_agg((random() * 2 - 1)::real ORDER BY k)::gvector
  FROM generate_series(1, 1500) i, generate_series(1, 6) k GROUP BY i;
SET client_min_messages = warning;
CREATE INDEX tap_ops_ivf ON tap_ops USING gv_ivfpq (v gvector_l2_ops);
RESET client_min_messages;

SELECT is((SELECT count(*) FROM gigavector.index_check('tap_ops_ivf', true)), 0::bigint,
          'a sound index has no problems');
SELECT is((SELECT status FROM gigavector.health WHERE indexrelname = 'tap_ops_ivf'), 'healthy',
          'a fresh index is healthy');
SET LOCAL gigavector.ivfpq_probes = 1000;  -- every list: exact candidates
SET LOCAL gigavector.ivfpq_rerank_candidates = 1500;
SELECT is((SELECT recall FROM gigavector.measure_recall('tap_ops_ivf', 20)), 1::float8,
          'probing every list with room for every row gives recall 1');
SET LOCAL gigavector.ivfpq_probes = 1;
SET LOCAL gigavector.ivfpq_rerank_candidates = 10;
SELECT cmp_ok((SELECT recall FROM gigavector.measure_recall('tap_ops_ivf', 40)), '<', 1::float8,
              'one list and 10 candidates miss rows');
SELECT is((SELECT count(*) FROM gigavector.index_search('tap_ops_ivf', (SELECT v FROM tap_ops WHERE id = 1), 7)),
          7::bigint, 'index_search returns k rows');
SELECT ok((SELECT bool_and(s.distance = (SELECT t.v <-> q.v FROM tap_ops t WHERE t.ctid = s.tid))
             FROM (SELECT v FROM tap_ops WHERE id = 1) q,
                  gigavector.index_search('tap_ops_ivf', q.v, 5) s),
          'index_search gives the distances the operator computes (not the index''s own squared L2)');
SELECT is((SELECT tid FROM gigavector.index_search('tap_ops_ivf', (SELECT v FROM tap_ops WHERE id = 1), 1)),
          (SELECT ctid FROM tap_ops WHERE id = 1), 'a row''s own vector finds it first');
SELECT cmp_ok((SELECT estimated_size_bytes FROM gigavector.index_suggest(128, 1000000) WHERE access_method = 'gv_hnsw'),
              '>', (SELECT estimated_size_bytes FROM gigavector.index_suggest(128, 100000) WHERE access_method = 'gv_hnsw'),
              'index_suggest: more rows, a larger estimate');
SELECT is((SELECT count(*) FROM gigavector.index_suggest(768, 1000000) WHERE recommended), 1::bigint,
          'index_suggest recommends exactly one method');
SELECT is((SELECT access_method FROM gigavector.index_suggest(768, 10000000, 1000000000) WHERE recommended),
          'gv_ivfpq', 'a tight memory budget recommends gv_ivfpq');
SELECT ok((SELECT bool_and(property IS NOT NULL AND value IS NOT NULL) FROM gigavector.index_info('tap_ops_ivf')),
          'index_info rows are complete');
SELECT ok((SELECT count(*) FROM gigavector.tune_candidates('tap_ops_ivf')) > 5,
          'gv_ivfpq offers tune a grid of settings');
SELECT * FROM finish();
ROLLBACK;
