-- pgTAP property tests for gvector: metric axioms, normalisation, round trips.
-- Run with pg_prove against a database with pgtap and gigavector installed.
BEGIN;
SELECT plan(16);

SELECT setseed(0.17);
CREATE TEMP TABLE r AS
SELECT i, array_agg((random() * 20 - 10)::real ORDER BY k)::gvector AS v
FROM generate_series(1, 60) i, generate_series(1, 37) k
GROUP BY i;
CREATE TEMP TABLE triples AS
SELECT a.v AS a, b.v AS b, c.v AS c
FROM r a JOIN r b ON b.i = a.i % 60 + 1 JOIN r c ON c.i = (a.i + 7) % 60 + 1;

SELECT is((SELECT count(*) FROM triples WHERE a <-> c > (a <-> b) + (b <-> c) + 1e-4), 0::bigint,
          'L2 satisfies the triangle inequality');
SELECT is((SELECT count(*) FROM triples WHERE a <+> c > (a <+> b) + (b <+> c) + 1e-3), 0::bigint,
          'L1 satisfies the triangle inequality');
SELECT is((SELECT count(*) FROM triples WHERE a <-> b <> b <-> a OR a <+> b <> b <+> a
                                         OR a <=> b <> b <=> a OR a <#> b <> b <#> a), 0::bigint,
          'all distances are symmetric');
SELECT is((SELECT count(*) FROM r WHERE v <-> v <> 0 OR v <+> v <> 0 OR abs(v <=> v) > 1e-6), 0::bigint,
          'distance of a vector to itself is zero');
SELECT is((SELECT count(*) FROM triples WHERE a <-> b < 0 OR a <+> b < 0 OR a <=> b < 0 OR a <=> b > 2),
          0::bigint, 'distances are non-negative and cosine distance lies in [0, 2]');
SELECT is((SELECT count(*) FROM r WHERE abs(vector_norm(l2_normalize(v)) - 1) > 1e-6), 0::bigint,
          'l2_normalize gives norm 1');
SELECT is((SELECT count(*) FROM triples
           WHERE abs((a <=> b) - (1 - inner_product(l2_normalize(a), l2_normalize(b)))) > 1e-5), 0::bigint,
          'cosine distance equals 1 - inner product of the normalised vectors');
SELECT is((SELECT count(*) FROM triples
           WHERE abs((a <-> b)^2 - (vector_norm(a)^2 + vector_norm(b)^2 - 2 * inner_product(a, b)))
                 > 1e-3 * (1 + (a <-> b)^2)), 0::bigint,
          'squared L2 equals |a|^2 + |b|^2 - 2 a.b');
SELECT is((SELECT count(*) FROM triples WHERE a <#> b <> -inner_product(a, b)), 0::bigint,
          '<#> is the negative inner product');
SELECT is((SELECT count(*) FROM r WHERE v::text::gvector <> v OR gvector_send(v::text::gvector) <> gvector_send(v)),
          0::bigint, 'text round trip is bit-exact');
SELECT is((SELECT count(*) FROM r WHERE v::real[]::gvector <> v OR v::double precision[]::gvector <> v
                                    OR v::numeric[]::gvector <> v), 0::bigint,
          'array casts round trip');
SELECT is((SELECT count(*) FROM r WHERE subvector(v, 1, 10) || subvector(v, 11, 27) <> v), 0::bigint,
          'subvector pieces concatenate back to the vector');
SELECT is((SELECT count(*) FROM r WHERE (v + v) - v <> v), 0::bigint, '(v + v) - v = v');
SELECT is((SELECT count(*) FROM r x
           WHERE (SELECT avg(c.v) FROM (SELECT x.v FROM generate_series(1, 5)) c) <> x.v
              OR (SELECT sum(c.v) FROM (SELECT x.v FROM generate_series(1, 4)) c)
                 <> (x.v + x.v) + (x.v + x.v)), 0::bigint,
          'avg of copies is the vector, sum of copies is repeated addition');
SELECT is((SELECT count(DISTINCT v) FROM (SELECT v FROM r UNION ALL SELECT v FROM r) u), 60::bigint,
          'DISTINCT removes exact duplicates only');
SELECT ok((SELECT array_agg(i ORDER BY v <-> (SELECT v FROM r WHERE i = 1)) FROM r)
          = (SELECT array_agg(i ORDER BY l2_distance(v, (SELECT v FROM r WHERE i = 1))) FROM r),
          'ORDER BY <-> agrees with l2_distance');

SELECT * FROM finish();
ROLLBACK;
