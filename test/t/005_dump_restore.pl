# gv_hnsw through pg_dump -Fc / pg_restore.
#
# A database with a table and gv_hnsw indexes with non-default options is dumped
# and restored into a new database: the indexes must come back with the same
# definition (pg_indexes.indexdef, reloptions) and answer kNN queries with the
# same ids as in the original database.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dim = 16;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', qq{
CREATE EXTENSION gigavector;
CREATE TABLE items (id int PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO items
  SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE i > 0)::gvector
    FROM generate_series(1, 2000) i;
CREATE TABLE qv (qid int PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO qv
  SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE i > 0)::gvector
    FROM generate_series(1, 10) i;
CREATE INDEX items_l2_idx ON items USING gv_hnsw (v gvector_l2_ops)
  WITH (m = 8, ef_construction = 32, ef_search = 60);
CREATE INDEX items_cos_idx ON items USING gv_hnsw (v gvector_cosine_ops) WITH (m = 24);
});

my $defs_sql = q{
SELECT i.indexname, i.indexdef, coalesce(array_to_string(c.reloptions, ','), '')
  FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = i.schemaname::regnamespace
 WHERE i.tablename = 'items' ORDER BY i.indexname;
};

# kNN answers of every query vector, for the l2 and the cosine index
my $knn_sql = q{
SET enable_seqscan = off;
SET gigavector.hnsw_ef_search = 200;
SELECT 'l2', q.qid, s.id FROM qv AS q
  CROSS JOIN LATERAL (SELECT i.id FROM items AS i ORDER BY i.v <-> q.v LIMIT 10) AS s;
SELECT 'cos', q.qid, s.id FROM qv AS q
  CROSS JOIN LATERAL (SELECT i.id FROM items AS i ORDER BY i.v <=> q.v LIMIT 10) AS s;
};

my $defs_src = $node->safe_psql('src', $defs_sql);
like($defs_src, qr/items_l2_idx\|CREATE INDEX items_l2_idx ON public\.items USING gv_hnsw \(v gvector_l2_ops\) WITH \(m='?8'?, ef_construction='?32'?, ef_search='?60'?\)\|m=8,ef_construction=32,ef_search=60/,
	'source: l2 index definition with its options');
like($defs_src, qr/items_cos_idx\|CREATE INDEX items_cos_idx ON public\.items USING gv_hnsw \(v gvector_cosine_ops\) WITH \(m='?24'?\)\|m=24/,
	'source: cosine index definition with its options');

for my $pair ([ 'items_l2_idx', '<->' ], [ 'items_cos_idx', '<=>' ])
{
	my ($idx, $op) = @$pair;
	my $plan = $node->safe_psql('src',
		"SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v $op (SELECT v FROM qv WHERE qid = 1) LIMIT 10"
	);
	like($plan, qr/Index Scan using $idx on items/, "src: kNN with $op uses $idx");
}
my $knn_src = $node->safe_psql('src', $knn_sql);
my @lines = split /\n/, $knn_src;
is(scalar(@lines), 200, 'source: 2 x 10 queries x 10 rows');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'src', '-f', $dump ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'dst', $dump ],
	'pg_restore into a new database');

is($node->safe_psql('dst', $defs_sql), $defs_src,
	'restored indexes have the same definitions and reloptions');
is($node->safe_psql('dst', 'SELECT count(*) FROM items'), '2000', 'restored: 2000 rows');
is($node->safe_psql('dst',
		q{SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
		   WHERE c.relname IN ('items_l2_idx', 'items_cos_idx') AND x.indisvalid AND x.indisready}),
	'2', 'restored: both indexes valid and ready');
for my $pair ([ 'items_l2_idx', '<->' ], [ 'items_cos_idx', '<=>' ])
{
	my ($idx, $op) = @$pair;
	my $plan = $node->safe_psql('dst',
		"SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v $op (SELECT v FROM qv WHERE qid = 1) LIMIT 10"
	);
	like($plan, qr/Index Scan using $idx on items/, "dst: kNN with $op uses $idx");
	is($node->safe_psql('dst', "SELECT * FROM gigavector.hnsw_check('$idx'::regclass)"),
		'', "dst: hnsw_check clean on $idx");
}
is($node->safe_psql('dst', $knn_sql), $knn_src,
	'restored database returns the same kNN ids');

$node->stop;
done_testing();
