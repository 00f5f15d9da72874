# gv_ivfpq and WAL: a streaming standby replays the build, inserts (new list
# pages, rerank = index vector pages) and VACUUM under
# wal_consistency_checking = 'generic' (every replayed page is compared with
# a full image); the primary survives an immediate stop (kill -9 semantics)
# after each of those; concurrent inserters lose no row; damaged pages give
# XX001 errors and check rows, never a crash.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dim = 32;

# rows lo..hi of a clustered data set (20 centres), from a fixed formula
sub rows_sql
{
	my ($table, $lo, $hi) = @_;
	return qq{INSERT INTO $table SELECT i, (SELECT array_agg(((i % 20) * 7 + j * 5) % 13 - 6
	  + sin(i * 12.9898 + j * 78.233)::real)::real[] FROM generate_series(1, $dim) j)::gvector
	  FROM generate_series($lo, $hi) i;};
}

# every row found first by its own vector (every list probed, 1000
# candidates): the count of rows that are not
my $self_miss_sql = q{
SET enable_seqscan = off;
SET gigavector.ivfpq_probes = 65535;
SET gigavector.ivfpq_rerank_candidates = 1000;
SELECT count(*) FROM %s AS r
  LEFT JOIN LATERAL (SELECT t2.id, t2.v <-> r.v AS d FROM %s AS t2 ORDER BY t2.v <-> r.v LIMIT 1) s ON true
 WHERE s.d IS NULL OR s.d <> 0;};
sub self_misses
{
	my ($node, $table) = @_;
	return $node->safe_psql('postgres', sprintf($self_miss_sql, $table, $table));
}

my $knn_sql = q{
SET enable_seqscan = off;
SELECT q.id, s.id FROM (SELECT id, v FROM t WHERE id % 97 = 0) AS q
  CROSS JOIN LATERAL (SELECT t.id FROM t ORDER BY t.v <-> q.v, t.id LIMIT 10) AS s ORDER BY 1;};

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf',
	"wal_consistency_checking = 'generic'\nwal_keep_size = '1GB'\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION gigavector');
$primary->safe_psql('postgres', "CREATE TABLE t (id int PRIMARY KEY, v gvector($dim))");
$primary->safe_psql('postgres', "CREATE TABLE u (id int PRIMARY KEY, v gvector($dim))");
$primary->safe_psql('postgres', rows_sql('t', 1, 3000));
$primary->safe_psql('postgres', rows_sql('u', 1, 1500));
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# built after the backup: the standby gets the index from the WAL
$primary->safe_psql('postgres', 'CREATE INDEX t_ivf ON t USING gv_ivfpq (v gvector_l2_ops)');
$primary->safe_psql('postgres',
	"CREATE INDEX u_ivf ON u USING gv_ivfpq (v gvector_l2_ops) WITH (rerank = index, bits = 8, subvectors = 8)");
# inserts: list tails grow new pages, vectors go to new vector pages
$primary->safe_psql('postgres', rows_sql('t', 3001, 4500));
$primary->safe_psql('postgres', rows_sql('u', 1501, 2500));
$primary->safe_psql('postgres', 'DELETE FROM t WHERE id % 10 = 3; DELETE FROM u WHERE id % 10 = 3');
$primary->safe_psql('postgres', 'VACUUM t; VACUUM u');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my $knn_primary = $primary->safe_psql('postgres', $knn_sql);
is($standby->safe_psql('postgres', $knn_sql), $knn_primary,
	'standby returns the same kNN ids as the primary');
is(self_misses($standby, 't'), '0', 'standby: every row of t found by its own vector');
is(self_misses($standby, 'u'), '0', 'standby: every row of u (rerank = index) found');
is($standby->safe_psql('postgres', "SELECT count(*) FROM gigavector.ivfpq_check('t_ivf')"),
	'0', 'standby: ivfpq_check clean');

# crash after inserts and VACUUM: the primary recovers from its WAL
$primary->safe_psql('postgres', rows_sql('t', 4501, 5000));
$primary->safe_psql('postgres', rows_sql('u', 2501, 2800));
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('postgres', 'SELECT count(*) FROM t'), '4550', 'rows after recovery');
is(self_misses($primary, 't'), '0', 'after crash recovery: every row of t found');
is(self_misses($primary, 'u'), '0', 'after crash recovery: every row of u found');
is($primary->safe_psql('postgres', "SELECT count(*) FROM gigavector.ivfpq_check('t_ivf')") .
	$primary->safe_psql('postgres', "SELECT count(*) FROM gigavector.ivfpq_check('u_ivf')"),
	'00', 'after crash recovery: ivfpq_check clean');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', $knn_sql), $primary->safe_psql('postgres', $knn_sql),
	'standby agrees after the primary restarted');
my $slog = slurp_file($standby->logfile);
unlike($slog, qr/inconsistent page found|PANIC/, 'standby: every replayed page matched its image');

# concurrent inserters into the same lists (4 sessions, 300 rows each)
my @bg;
for my $s (0 .. 3)
{
	my ($lo, $hi) = (10001 + $s * 300, 10000 + ($s + 1) * 300);
	push @bg, $primary->background_psql('postgres');
	$bg[-1]->query_until(qr/started/, "\\echo started\n" . rows_sql('t', $lo, $hi) . "\n");
}
$_->quit for @bg;
is($primary->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id > 10000'), '1200',
	'concurrent inserts: all rows in the table');
is(self_misses($primary, 't'), '0', 'concurrent inserts: every row found by its own vector');

# damage: a list page overwritten while the server is stopped
my $path = $primary->safe_psql('postgres', "SELECT pg_relation_filepath('t_ivf')");
my $block = $primary->safe_psql('postgres',
	"SELECT pages - 1 FROM gigavector.ivfpq_stats('t_ivf')");
$primary->stop;
my $file = $primary->data_dir . "/$path";
open(my $fh, '+<', $file) or die "open $file: $!";
binmode $fh;
seek($fh, $block * 8192 + 24, 0);
print $fh ("\xff" x 64);    # the list page header and its first entries
close $fh;
$primary->start;
my ($rc, $out, $err) = $primary->psql('postgres',
	'SET enable_seqscan = off; SET gigavector.ivfpq_probes = 65535; SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 5) LIMIT 5');
like($err, qr/corrupted|XX001/i, 'a scan over the damaged page raises a data-corrupted error');
my $check = $primary->safe_psql('postgres', "SELECT * FROM gigavector.ivfpq_check('t_ivf')");
isnt($check, '', 'ivfpq_check reports the damage');
note $check;
$primary->safe_psql('postgres', 'REINDEX INDEX t_ivf');
is($primary->safe_psql('postgres', "SELECT count(*) FROM gigavector.ivfpq_check('t_ivf')"), '0',
	'after REINDEX: clean');
is($primary->safe_psql('postgres', 'SELECT 1'), '1', 'the server is up');

# damage: the centroid page (block 1) filled with NaN
$path = $primary->safe_psql('postgres', "SELECT pg_relation_filepath('t_ivf')");
$primary->stop;
$file = $primary->data_dir . "/$path";
open($fh, '+<', $file) or die "open $file: $!";
binmode $fh;
seek($fh, 1 * 8192 + 24, 0);
print $fh ("\xff" x 4096);
close $fh;
$primary->start;
($rc, $out, $err) = $primary->psql('postgres',
	'SET enable_seqscan = off; SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 5) LIMIT 5');
like($err, qr/corrupted|XX001/i, 'a scan over a damaged centroid page raises a data-corrupted error');
like($primary->safe_psql('postgres', "SELECT * FROM gigavector.ivfpq_check('t_ivf')"),
	qr/centroids block 1: a value is not finite/, 'ivfpq_check names the damaged centroid page');
($rc, $out, $err) = $primary->psql('postgres', 'INSERT INTO t VALUES (99999, (SELECT v FROM t WHERE id = 5))');
like($err, qr/corrupted|XX001/i, 'an insert meets the damage as an error');
$primary->safe_psql('postgres', 'REINDEX INDEX t_ivf');
is($primary->safe_psql('postgres', "SELECT count(*) FROM gigavector.ivfpq_check('t_ivf')"), '0',
	'after REINDEX: clean');
is($primary->safe_psql('postgres', 'SELECT 1'), '1', 'the server is up');

$standby->stop;
$primary->stop;
done_testing();
