# gv_hnsw under concurrent load.
#
# pgbench, 4 clients for 15 seconds, mixing inserts, deletes, updates of the
# vector, kNN queries (each checks it got 10 rows in distance order, else it fails
# with a division by zero) and VACUUM, on one table with a gv_hnsw index. No
# transaction may fail; afterwards (and after a VACUUM) every live row must be
# found through the index by its own vector and gigavector.hnsw_check must be clean.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GvHnswTest;

my $dim = 16;
my $rand_vec = "(SELECT array_agg(random()::real) FROM generate_series(1, $dim))::gvector";

my $node = PostgreSQL::Test::Cluster->new('concurrency');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 30\n");
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION gigavector;
CREATE TABLE t (id bigserial PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO t (v)
  SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE i > 0)::gvector
    FROM generate_series(1, 3000) i;
CREATE TABLE qv (qid int PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO qv
  SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE i > 0)::gvector
    FROM generate_series(1, 200) i;
CREATE INDEX t_v_idx ON t USING gv_hnsw (v gvector_l2_ops) WITH (m = 12, ef_construction = 48);
});

sub self_find_ok
{
	my ($label) = @_;
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
	is(unreachable_rows($node, 't'),
		'0', "$label: all $rows rows are reachable through the index")
	  or diag_misses($node);
	return;
}

my $knn_query = q{SELECT v <-> (SELECT v FROM qv WHERE qid = :qid) AS d FROM t
   ORDER BY v <-> (SELECT v FROM qv WHERE qid = :qid) LIMIT 10};

my $plan = $node->safe_psql('postgres',
	'SET enable_seqscan = off; EXPLAIN (COSTS OFF) ' . ($knn_query =~ s/:qid/1/gr));
like($plan, qr/Index Scan using t_v_idx on t/, 'kNN query uses the gv_hnsw index');
$plan = $node->safe_psql('postgres',
	'SET enable_seqscan = off; EXPLAIN (COSTS OFF) ' . self_find_sql('t'));
like($plan, qr/Index Scan using t_v_idx on t/, 'self-search uses the gv_hnsw index');

my %scripts = (
	'004_insert.sql@10' => "INSERT INTO t (v) SELECT $rand_vec;\n",
	'004_delete.sql@4' => "\\set id random(1, 6000)\nDELETE FROM t WHERE id = :id;\n",
	'004_update.sql@2' =>
	  "\\set id random(1, 6000)\nUPDATE t SET v = $rand_vec WHERE id = :id;\n",
	# fails (invalid input syntax for type integer: "kNN check failed ...") unless
	# the index returns 10 rows in distance order
	'004_knn.sql@10' => qq{\\set qid random(1, 200)
SET enable_seqscan = off;
SELECT count(*) AS cnt, coalesce(bool_and(d >= prev), false)::int AS ordered,
       replace(string_agg(d::text, '/'), ' ', '') AS dists
  FROM (SELECT d, coalesce(lag(d) OVER (), 0) AS prev FROM ($knn_query) s) s2 \\gset
SELECT CASE WHEN :cnt = 10 AND :ordered = 1 THEN 1
            ELSE ('kNN check failed: query :qid, rows :cnt, ordered :ordered, distances :dists' || '')::int END;
},
	'004_vacuum.sql@1' => "VACUUM t;\n",);

my @script_checks = map {
	my $name = (split /\@/, $_)[0];
	qr{SQL script \d+: \S*\Q$name\E\n - weight: \d+ [^\n]*\n - [1-9]\d* transactions}
} sort keys %scripts;

$node->pgbench(
	'-n -c 4 -j 2 -T 15',
	0,
	[
		qr{number of failed transactions: 0 \(0\.000%\)},
		qr{number of transactions actually processed: [1-9]\d*},
		@script_checks
	],
	[qr{\A(?!.*(?:ERROR|FATAL|PANIC|aborted))}s],
	'pgbench: inserts, deletes, updates, kNN queries and VACUUM, no failure',
	\%scripts,
	'postgres');

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
note "live rows after pgbench: $rows";
cmp_ok($rows, '>', 3000, 'inserts outnumbered deletes');

self_find_ok('after pgbench');
is($node->safe_psql('postgres', q{SELECT * FROM gigavector.hnsw_check('t_v_idx'::regclass)}),
	'', 'after pgbench: hnsw_check clean');

$node->safe_psql('postgres', 'VACUUM t');
self_find_ok('after VACUUM');
is($node->safe_psql('postgres', q{SELECT * FROM gigavector.hnsw_check('t_v_idx'::regclass)}),
	'', 'after VACUUM: hnsw_check clean');

# delete 1/7 of the rows, VACUUM (their heap slots become free), insert new rows
# (which may reuse those slots): an index entry left behind for a removed row would
# now point at a different vector, which shows up as answers out of distance order
$node->safe_psql(
	'postgres', qq{
DELETE FROM t WHERE id % 7 = 0;
VACUUM t;
INSERT INTO t (v)
  SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE i > 0)::gvector
    FROM generate_series(1, 500) i;
});
is($node->safe_psql(
		'postgres', q{
SET enable_seqscan = off;
SELECT count(*), count(*) FILTER (WHERE d < prev) FROM qv AS q
  CROSS JOIN LATERAL (
    SELECT d, coalesce(lag(d) OVER (), 0) AS prev
      FROM (SELECT t.v <-> q.v AS d FROM t ORDER BY t.v <-> q.v LIMIT 10) s0) s;
}),
	'2000|0', 'after delete, VACUUM, insert: 200 kNN queries return 10 rows each, in exact distance order');
self_find_ok('after delete, VACUUM, insert');
is($node->safe_psql('postgres', q{SELECT * FROM gigavector.hnsw_check('t_v_idx'::regclass)}),
	'', 'after delete, VACUUM, insert: hnsw_check clean');

$node->stop;
done_testing();
