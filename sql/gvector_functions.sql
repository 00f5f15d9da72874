-- gvector distance operators, functions and aggregates
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
RESET client_min_messages;

SELECT '[0,0]'::gvector <-> '[3,4]'::gvector AS l2,
       '[1,2,3]'::gvector <#> '[4,5,6]'::gvector AS neg_ip,
       '[1,0]'::gvector <=> '[0,1]'::gvector AS cos_orth,
       '[1,1]'::gvector <=> '[2,2]'::gvector AS cos_same,
       '[1,1]'::gvector <=> '[-1,-1]'::gvector AS cos_opposite,
       '[1,2,3]'::gvector <+> '[4,0,3]'::gvector AS l1;
SELECT l2_distance('[0,0]'::gvector, '[3,4]'), inner_product('[1,2,3]'::gvector, '[4,5,6]'),
       cosine_distance('[1,0]'::gvector, '[1,0]'), l1_distance('[1,2,3]'::gvector, '[4,0,3]');
-- cosine with a zero vector has no direction: NaN, as in pgvector
SELECT '[0,0]'::gvector <=> '[1,1]'::gvector AS cos_zero;

SELECT vector_dims('[1,2,3]'::gvector), vector_norm('[3,4]'::gvector);
SELECT l2_normalize('[3,4]'::gvector), l2_normalize('[0,0]'::gvector);
SELECT round(vector_norm(l2_normalize('[1,2,3,4,5,6,7]'::gvector))::numeric, 6) AS unit;
SELECT subvector('[1,2,3,4,5]'::gvector, 2, 3) AS mid, subvector('[1,2,3,4,5]'::gvector, 4, 10) AS clipped,
       subvector('[1,2,3,4,5]'::gvector, 0, 2) AS from_zero;

-- aggregates
CREATE TABLE agg (g int, v gvector(2));
INSERT INTO agg VALUES (1, '[1,2]'), (1, '[3,4]'), (2, '[10,20]'), (2, NULL);
SELECT g, avg(v), sum(v) FROM agg GROUP BY g ORDER BY g;
SELECT avg(v), sum(v) FROM agg;
SELECT avg(v), sum(v) FROM agg WHERE false;
-- parallel aggregation gives the same answer
CREATE TABLE agg_big AS SELECT i, ARRAY[i % 7, i % 11, 1]::real[]::gvector AS v FROM generate_series(1, 100000) i;
ANALYZE agg_big;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT avg(v), sum(v) FROM agg_big;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- exact nearest neighbours without an index
CREATE TABLE pts AS SELECT i AS id, ARRAY[i % 10, i / 10]::real[]::gvector AS v FROM generate_series(0, 99) i;
SELECT id, round((v <-> '[3.2,4.1]')::numeric, 6) AS d FROM pts ORDER BY v <-> '[3.2,4.1]' LIMIT 5;
SELECT id FROM pts ORDER BY v <+> '[3.2,4.1]', id LIMIT 5;
SELECT id FROM pts ORDER BY v <#> '[1,1]', id LIMIT 3;
SELECT id FROM pts WHERE id > 0 ORDER BY round((v <=> '[1,1]')::numeric, 6), id LIMIT 3;
PREPARE knn(gvector) AS SELECT id FROM pts ORDER BY v <-> $1 LIMIT 3;
EXECUTE knn('[9,9]');

DROP TABLE agg, agg_big, pts;
