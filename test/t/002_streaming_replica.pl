# gv_hnsw and WAL: streaming replication with wal_consistency_checking, crash
# recovery of an UNLOGGED table's index, promotion.
#
# The primary runs with wal_consistency_checking = 'generic': every generic WAL
# record carries a full image of each page it touches, and the server replaying it
# (the standby, or the primary itself in crash recovery) compares the page it
# produced with that image and stops with FATAL "inconsistent page found" on a
# mismatch. The index is built, grown, pruned by VACUUM on the primary; the standby
# must give the same kNN answers as the primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GvHnswTest;

my $dim = 16;

sub rand_vec
{
	my ($outer) = @_;
	return
	  "(SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE $outer > 0)::gvector";
}

# kNN answers for every query vector of qv: "qid|id" lines, in rank order
my $knn_sql = q{
SET enable_seqscan = off;
SET gigavector.hnsw_ef_search = 16;
SELECT q.qid, s.id FROM qv AS q
  CROSS JOIN LATERAL (SELECT t.id FROM t ORDER BY t.v <-> q.v LIMIT 10) AS s;
};

sub self_find_misses
{
	my ($node, $table) = @_;
	return unreachable_rows($node, $table);
}

sub hnsw_check
{
	my ($node, $index) = @_;
	return $node->safe_psql('postgres',
		"SELECT * FROM gigavector.hnsw_check('$index'::regclass)");
}

sub knn_count
{
	my ($node, $table) = @_;
	return $node->safe_psql(
		'postgres', qq{
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM $table ORDER BY v <-> (SELECT v FROM qv WHERE qid = 1) LIMIT 10) s;
});
}

sub check_log_clean
{
	my ($node, $label) = @_;
	my $log = slurp_file($node->logfile);
	unlike($log, qr/inconsistent page found/,
		"$label: no \"inconsistent page found\" in the log");
	unlike($log, qr/PANIC|startup process .* terminated|server process .* was terminated by signal/,
		"$label: no PANIC or crashed process in the log");
	return;
}

# ---------------------------------------------------------------- primary + standby
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
# wal_consistency_checking puts a full page image in every generic record, so
# WAL grows fast; keep enough of it that the primary never recycles a
# segment before the standby has streamed it (seen: "requested WAL segment
# ... has already been removed", and the standby never caught up).
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'\nwal_keep_size = '2GB'\n");
$primary->start;
is($primary->safe_psql('postgres', 'SHOW wal_consistency_checking'),
	'generic', 'primary runs with wal_consistency_checking = generic');

$primary->safe_psql(
	'postgres', qq{
CREATE EXTENSION gigavector;
CREATE TABLE t (id int PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO t SELECT i, @{[ rand_vec('i') ]} FROM generate_series(1, 1500) i;
CREATE TABLE qv (qid int PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO qv SELECT i, @{[ rand_vec('i') ]} FROM generate_series(1, 8) i;
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# the index is built after the backup, so the standby gets it from the WAL
$primary->safe_psql(
	'postgres', qq{
CREATE INDEX t_v_idx ON t USING gv_hnsw (v gvector_l2_ops) WITH (m = 8, ef_construction = 40);
INSERT INTO t SELECT i, @{[ rand_vec('i') ]} FROM generate_series(1501, 2500) i;
DELETE FROM t WHERE id % 5 = 0;
VACUUM t;
INSERT INTO t SELECT i, @{[ rand_vec('i') ]} FROM generate_series(2501, 2800) i;
});
# single-row inserts, each its own transaction
$primary->safe_psql('postgres',
	join('', map { "INSERT INTO t VALUES ($_, @{[ rand_vec($_) ]});\n" } 2801 .. 2850));

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my $plan = $primary->safe_psql('postgres',
	"SET enable_seqscan = off; EXPLAIN (COSTS OFF) "
	  . ($knn_sql =~ s/^.*?(SELECT q\.qid)/$1/sr));
like($plan, qr/Index Scan using t_v_idx on t/,
	'kNN queries use an Index Scan on the gv_hnsw index');

my $knn_primary = $primary->safe_psql('postgres', $knn_sql);
my $knn_standby = $standby->safe_psql('postgres', $knn_sql);
my @knn_lines = split /\n/, $knn_primary;
is(scalar(@knn_lines), 80, 'primary: 8 queries x 10 rows');
is($knn_standby, $knn_primary, 'standby returns the same kNN ids as the primary');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM t'),
	$primary->safe_psql('postgres', 'SELECT count(*) FROM t'),
	'standby has the same row count');
is(self_find_misses($primary, 't'), '0', 'primary: every row found by its own vector');
is(self_find_misses($standby, 't'), '0', 'standby: every row found by its own vector');
is(hnsw_check($primary, 't_v_idx'), '', 'primary: hnsw_check clean');
is(hnsw_check($standby, 't_v_idx'), '', 'standby: hnsw_check clean');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'standby is up and still in recovery');
check_log_clean($standby, 'standby after replaying build, inserts, VACUUM');

# ---------------------------------------------------------------- UNLOGGED table
$primary->safe_psql(
	'postgres', qq{
CREATE UNLOGGED TABLE u (id int PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO u SELECT i, @{[ rand_vec('i') ]} FROM generate_series(1, 500) i;
CREATE INDEX u_v_idx ON u USING gv_hnsw (v gvector_l2_ops);
INSERT INTO u SELECT i, @{[ rand_vec('i') ]} FROM generate_series(501, 700) i;
-- an unlogged index built on an empty table
CREATE UNLOGGED TABLE u2 (id int PRIMARY KEY, v gvector($dim) NOT NULL);
CREATE INDEX u2_v_idx ON u2 USING gv_hnsw (v gvector_cosine_ops);
INSERT INTO u2 SELECT i, @{[ rand_vec('i') ]} FROM generate_series(1, 100) i;
});
is(knn_count($primary, 'u'), '10', 'unlogged table: kNN works before the crash');
is(self_find_misses($primary, 'u'), '0',
	'unlogged table: every row found before the crash');

$primary->stop('immediate');
$primary->start;
check_log_clean($primary, 'primary after crash recovery (with consistency checks)');

is($primary->safe_psql('postgres', 'SELECT count(*) FROM u'),
	'0', 'unlogged table is empty after the crash');
my $uplan = $primary->safe_psql('postgres',
	q{SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM u ORDER BY v <-> (SELECT v FROM qv WHERE qid = 1) LIMIT 10});
like($uplan, qr/Index Scan using u_v_idx on u/,
	'unlogged table: kNN query uses the gv_hnsw index');
is(knn_count($primary, 'u'), '0',
	'unlogged table: kNN query through the reset index returns 0 rows');
is($primary->safe_psql('postgres',
	q{SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM u2 ORDER BY v <=> (SELECT v FROM qv WHERE qid = 1) LIMIT 10) s}),
	'0', 'unlogged table built empty: kNN query returns 0 rows');
is(hnsw_check($primary, 'u_v_idx'), '', 'reset unlogged index: hnsw_check clean');
is(hnsw_check($primary, 'u2_v_idx'), '', 'reset unlogged index (u2): hnsw_check clean');

$primary->safe_psql(
	'postgres', qq{
INSERT INTO u SELECT i, @{[ rand_vec('i') ]} FROM generate_series(1, 600) i;
INSERT INTO u2 SELECT i, @{[ rand_vec('i') ]} FROM generate_series(1, 50) i;
});
is(knn_count($primary, 'u'), '10', 'refilled unlogged table: kNN returns 10 rows');
is(self_find_misses($primary, 'u'), '0', 'refilled unlogged table: every row found');
is(hnsw_check($primary, 'u_v_idx'), '', 'refilled unlogged index: hnsw_check clean');

# the logged index came through crash recovery unchanged
is($primary->safe_psql('postgres', $knn_sql),
	$knn_primary, 'logged index: same kNN answers after crash recovery');

# more WAL for the standby after the primary's restart
$primary->safe_psql('postgres',
	"INSERT INTO t SELECT i, @{[ rand_vec('i') ]} FROM generate_series(3001, 3200) i");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', $knn_sql),
	$primary->safe_psql('postgres', $knn_sql),
	'standby still returns the same kNN ids after the primary restarted');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'standby is up and still in recovery');
check_log_clean($standby, 'standby before promotion');

# ---------------------------------------------------------------- promotion
# The unlogged indexes exist on the standby only as init forks (WAL-logged by
# ambuildempty); promotion turns them into empty, usable indexes.
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	'f', 'standby promoted');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM u'),
	'0', 'promoted: unlogged table is empty');
is(knn_count($standby, 'u'), '0', 'promoted: kNN on the empty unlogged index returns 0 rows');
is(hnsw_check($standby, 'u_v_idx'), '', 'promoted: empty unlogged index passes hnsw_check');
$standby->safe_psql(
	'postgres', qq{
INSERT INTO u SELECT i, @{[ rand_vec('i') ]} FROM generate_series(1, 300) i;
INSERT INTO t SELECT i, @{[ rand_vec('i') ]} FROM generate_series(4001, 4100) i;
});
is(knn_count($standby, 'u'), '10', 'promoted: refilled unlogged index returns 10 rows');
is(self_find_misses($standby, 'u'), '0', 'promoted: every unlogged row found');
is(self_find_misses($standby, 't'), '0', 'promoted: every row of t found after inserts');
is(hnsw_check($standby, 't_v_idx'), '', 'promoted: hnsw_check clean on t_v_idx');
check_log_clean($standby, 'promoted standby');

$standby->stop;
$primary->stop;
done_testing();
