# gv_hnsw crash recovery.
#
# Concurrent inserts (pgbench, 4 clients) into a table with a gv_hnsw index; the
# server is killed with SIGKILL while they run (twice: once during inserts, once
# during inserts + deletes + VACUUM). After the restart, every row in the table
# (that is, every committed row) must be found through the index by a search for
# its own vector, gigavector.hnsw_check must report no problem, and inserts and
# queries must still work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GvHnswTest;
use IPC::Run;
use Time::HiRes qw(usleep);
use GvCrash;

my $dim = 16;

# random gvector(16); the dummy predicate on $outer makes the subquery correlated,
# so it is evaluated again for every row
sub rand_vec
{
	my ($outer) = @_;
	my $pred = defined $outer ? "WHERE $outer > 0" : '';
	return
	  "(SELECT array_agg(random()::real) FROM generate_series(1, $dim) $pred)::gvector";
}

# Rows an index search cannot reach (GvHnswTest).

sub check_index
{
	my ($node, $label) = @_;
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
	is(unreachable_rows($node, 't'), '0',
		"$label: all $rows rows are reachable through the index")
	  or diag_misses($node);
	my $problems = $node->safe_psql('postgres',
		q{SELECT * FROM gigavector.hnsw_check('t_v_idx'::regclass)});
	is($problems, '', "$label: gigavector.hnsw_check reports no problem");
	return $rows;
}

sub wait_rows
{
	my ($node, $target, $max_seconds) = @_;
	my $deadline = time() + $max_seconds;
	my $n;
	while (1)
	{
		$n = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
		last if $n >= $target || time() >= $deadline;
		usleep(200_000);
	}
	return $n;
}

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 30\n");
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION gigavector');
$node->safe_psql(
	'postgres', qq{
CREATE TABLE t (id bigserial PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO t (v) SELECT @{[ rand_vec('i') ]} FROM generate_series(1, 2000) i;
CREATE INDEX t_v_idx ON t USING gv_hnsw (v gvector_l2_ops) WITH (m = 16, ef_construction = 64);
CHECKPOINT;
});

my $plan = $node->safe_psql('postgres',
	"SET enable_seqscan = off; EXPLAIN (COSTS OFF) "
	  . self_find_sql('t'));
like($plan, qr/Index Scan using t_v_idx on t/,
	'the self-search uses an Index Scan on the gv_hnsw index');

my $rows0 = check_index($node, 'after CREATE INDEX');
is($rows0, '2000', 'the table has the 2000 rows it was built with');

# ---- crash 1: concurrent inserts
my $insert_sql = "INSERT INTO t (v) SELECT @{[ rand_vec() ]};\n";
my $bench = start_pgbench($node, 'round1', { 'insert.sql' => $insert_sql },
	qw(-c 4 -j 2 -T 120 -R 500));
my $seen = wait_rows($node, $rows0 + 1000, 20);
crash_node($node);
finish_pgbench($bench);
note "pgbench (round 1) stdout:\n${$bench->{out}}\nstderr:\n${$bench->{err}}";
like(${$bench->{err}}, qr/client \d+ aborted/,
	'pgbench was still running when the server was killed');

$node->start;
my $rows1 = check_index($node, 'after crash during inserts');
cmp_ok($rows1, '>=', $seen,
	"rows committed before the crash survive ($rows1 >= $seen)");
cmp_ok($rows1, '>', $rows0, 'concurrent inserts happened before the crash');

# ---- crash 2: concurrent inserts, deletes and VACUUM
my $maxid = $node->safe_psql('postgres', 'SELECT max(id) FROM t');
my $bench2 = start_pgbench(
	$node, 'round2',
	{
		'insert.sql@6' => $insert_sql,
		'delete.sql@3' =>
		  "\\set id random(1, $maxid)\nDELETE FROM t WHERE id = :id;\n",
		'vacuum.sql@1' => "VACUUM t;\n",
	},
	qw(-c 4 -j 2 -T 120 -R 400));
# let it run for ~3 seconds (or until enough rows were added), so that deletes and
# several VACUUMs happen
sleep 3;
wait_rows($node, $rows1 + 800, 10);
crash_node($node);
finish_pgbench($bench2);
note "pgbench (round 2) stdout:\n${$bench2->{out}}\nstderr:\n${$bench2->{err}}";
like(${$bench2->{err}}, qr/client \d+ aborted/,
	'pgbench (inserts, deletes, VACUUM) was still running when the server was killed');

$node->start;
my $rows2 = check_index($node, 'after crash during inserts, deletes and VACUUM');
my $deleted = $node->safe_psql('postgres',
	"SELECT $maxid - count(*) FROM t WHERE id <= $maxid");
cmp_ok($deleted, '>', 0, "deletes happened before the crash ($deleted rows)");
cmp_ok($rows2, '>', $rows1, "inserts happened before the crash ($rows1 -> $rows2 rows)");

$node->safe_psql('postgres', 'VACUUM t');
check_index($node, 'after crash 2 and VACUUM');

# ---- the index keeps working
$node->safe_psql('postgres',
	"INSERT INTO t (v) SELECT @{[ rand_vec('i') ]} FROM generate_series(1, 300) i");
my $rows3 = check_index($node, 'after more inserts');
is($rows3, $rows2 + 300, 'the 300 new rows are there');

my $knn = $node->safe_psql(
	'postgres', q{
SET enable_seqscan = off;
SELECT count(*), bool_and(d >= prev) FROM (
  SELECT d, coalesce(lag(d) OVER (), 0) AS prev FROM (
    SELECT v <-> (SELECT v FROM t WHERE id = (SELECT max(id) FROM t)) AS d
      FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = (SELECT max(id) FROM t)) LIMIT 10) s) s2;
});
is($knn, '10|t', 'a kNN query returns 10 rows in distance order');

$node->stop;
done_testing();
