# gv_ivfpq under SIGKILL: the server is killed (postmaster and every child at
# once) during CREATE INDEX, and during pgbench inserts, deletes and VACUUM
# (which re-packs lists); after recovery every row is found by its own
# vector (a sample, searched exhaustively), every row has one entry and
# ivfpq_check is clean. Repeated insert, delete and VACUUM cycles
# reuse retired pages (the index stops growing). pg_dump and restore give an
# index with the same answers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use GvCrash;

my $dim = 32;
my $vec = qq{(SELECT array_agg(((i % 20) * 7 + j * 5) % 13 - 6 + sin(i * 12.9898 + j * 78.233)::real)::real[]
  FROM generate_series(1, $dim) j)::gvector};

# rows of a sample (id % 61 = 0) that a search for their own vector, with
# every list probed and 2000 candidates re-ranked, does not find first
sub self_misses
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
SET enable_seqscan = off;
SET gigavector.ivfpq_probes = 65535;
SET gigavector.ivfpq_rerank_candidates = 2000;
SELECT count(*) FROM t AS r
  LEFT JOIN LATERAL (SELECT t2.v <-> r.v AS d FROM t AS t2 ORDER BY t2.v <-> r.v LIMIT 1) s ON true
 WHERE r.id % 61 = 0 AND (s.d IS NULL OR s.d <> 0);});
}

# after a VACUUM (with index cleanup: VACUUM skips it when few rows are
# dead): one live entry per row, the sample found, the check clean
sub sound
{
	my ($node, $label) = @_;
	$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) t');
	is($node->safe_psql('postgres', "SELECT live_entries FROM gigavector.ivfpq_stats('t_ivf')"),
		$node->safe_psql('postgres', 'SELECT count(*) FROM t'),
		"$label: one index entry per row");
	is(self_misses($node), '0', "$label: sample rows found by their own vector");
	is($node->safe_psql('postgres', "SELECT count(*) FROM gigavector.ivfpq_check('t_ivf')"),
		'0', "$label: ivfpq_check clean");
}

my $node = PostgreSQL::Test::Cluster->new('ivfcrash');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\nmaintenance_work_mem = '64MB'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION gigavector');
$node->safe_psql('postgres', "CREATE TABLE t (id int PRIMARY KEY, v gvector($dim))");
$node->safe_psql('postgres', "INSERT INTO t SELECT i, $vec FROM generate_series(1, 60000) i");

# 1. killed during CREATE INDEX: no index, the table intact; built again
my $bg = $node->background_psql('postgres');
$bg->query_until(qr/started/,
	"\\echo started\nCREATE INDEX t_ivf ON t USING gv_ivfpq (v gvector_l2_ops);\n");
# polled from a session of its own every few milliseconds: at 32 dimensions
# the access method's phases last tens of milliseconds, shorter than a new
# psql per poll takes, and a slow poll could let the build finish first
my $poll = $node->background_psql('postgres');
my $phase = '';
for (1 .. 20_000)
{
	$phase = $poll->query_safe('SELECT phase FROM pg_stat_progress_create_index');
	last if $phase =~ /k-means|codebooks|assigning|writing/;
	usleep(2_000);
}
$poll->quit;
note "CREATE INDEX was in phase '$phase' when killed";
like($phase, qr/sampling|k-means|codebooks|assigning|calibrating|writing/,
	'CREATE INDEX reports its phase in pg_stat_progress_create_index');
crash_node($node);
eval { $bg->quit; };
$node->start;
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 't_ivf'"), '0',
	'after the crash during CREATE INDEX there is no index');
$node->safe_psql('postgres', 'DELETE FROM t WHERE id > 20000');
$node->safe_psql('postgres', 'VACUUM t');
$node->safe_psql('postgres', 'CREATE INDEX t_ivf ON t USING gv_ivfpq (v gvector_l2_ops)');
sound($node, 'built after the crash');

# 2. killed during pgbench inserts, deletes and VACUUM
my %scripts = (
	'ins.sql@10' => "\\set id random(100001, 400000)\n"
	  . "INSERT INTO t SELECT :id, (SELECT array_agg(((:id % 20) * 7 + j * 5) % 13 - 6 + sin(:id * 1.7 + j)::real)::real[] FROM generate_series(1, $dim) j)::gvector ON CONFLICT DO NOTHING;\n",
	'del.sql@2' => "\\set id random(1, 20000)\nDELETE FROM t WHERE id = :id;\n",
	'vac.sql@1' => "VACUUM t;\n");
my $pgb = start_pgbench($node, 'ivf', \%scripts, '-c', '3', '-T', '60');
my $rows0 = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
for (1 .. 300)
{
	last if $node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id > 100000') > 1500;
	usleep(50_000);
}
crash_node($node);
finish_pgbench($pgb);
$node->start;
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id > 100000'), '>', 0,
	'rows were inserted before the crash');
sound($node, 'after the crash during inserts, deletes and VACUUM');

# 3. retired pages are reused: the index stops growing over cycles
my @pages;
for my $cycle (1 .. 5)
{
	$node->safe_psql('postgres',
		"INSERT INTO t SELECT i, $vec FROM generate_series(500001, 503000) i");
	$node->safe_psql('postgres', 'DELETE FROM t WHERE id > 500000');
	$node->safe_psql('postgres', 'VACUUM t');
	push @pages, $node->safe_psql('postgres', "SELECT pg_relation_size('t_ivf') / 8192");
}
note "index pages after each cycle: @pages";
cmp_ok($pages[4], '<=', $pages[1] + 10, 'insert/delete/VACUUM cycles reuse retired pages');
sound($node, 'after the cycles');

# 4. pg_dump and restore: the same answers (with every list probed and
# every candidate re-ranked: the restored index is trained anew, on rows in
# another order, so its approximate answers may differ)
my $knn = q{SET enable_seqscan = off; SET gigavector.ivfpq_probes = 65535;
SET gigavector.ivfpq_rerank_candidates = 100000;
SELECT q.id, s.id FROM (SELECT id, v FROM t WHERE id % 997 = 0) AS q
  CROSS JOIN LATERAL (SELECT t.id FROM t ORDER BY t.v <-> q.v, t.id LIMIT 10) AS s ORDER BY 1, 2;};
my $before = $node->safe_psql('postgres', $knn);
my $dump = $node->basedir . '/ivf.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
is($node->safe_psql('restored',
		"SELECT indexdef FROM pg_indexes WHERE indexname = 't_ivf'"),
	'CREATE INDEX t_ivf ON public.t USING gv_ivfpq (v gvector_l2_ops)',
	'the restored index is a gv_ivfpq index');
is($node->safe_psql('restored', $knn), $before, 'the restored index gives the same answers');

$node->stop;
done_testing();
