# gv_hnsw and point-in-time recovery: a base backup plus archived WAL,
# replayed up to a named restore point, gives an index that holds exactly
# the rows committed before that point, all findable and structurally sound.
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

sub self_find_misses
{
	my ($node) = @_;
	return unreachable_rows($node, 't');
}

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(has_archiving => 1, allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION gigavector');
$primary->safe_psql('postgres',
	"CREATE TABLE t (id int PRIMARY KEY, v gvector($dim));"
	  . 'INSERT INTO t SELECT i, ' . rand_vec('i') . ' FROM generate_series(1, 1500) i;'
	  . 'CREATE INDEX t_v ON t USING gv_hnsw (v gvector_l2_ops);');
$primary->backup('base');

# changes after the backup: inserts through the index, deletes, VACUUM ...
$primary->safe_psql('postgres',
	'INSERT INTO t SELECT i, ' . rand_vec('i') . ' FROM generate_series(1501, 2500) i;'
	  . 'DELETE FROM t WHERE id % 10 = 0;');
$primary->safe_psql('postgres', 'VACUUM t');
$primary->safe_psql('postgres', "SELECT pg_create_restore_point('before_more')");
my $expected = $primary->safe_psql('postgres', 'SELECT count(*) || \':\' || sum(id) FROM t');
# ... and more after the restore point, which recovery must not replay
$primary->safe_psql('postgres',
	'INSERT INTO t SELECT i, ' . rand_vec('i') . ' FROM generate_series(2501, 3000) i;');
$primary->safe_psql('postgres', 'SELECT pg_switch_wal()');
$primary->poll_query_until('postgres',
	"SELECT last_archived_wal IS NOT NULL AND last_archived_wal >= pg_walfile_name(pg_current_wal_lsn()) FROM pg_stat_archiver")
  or note('archiver has not caught up; recovery may wait for WAL');

my $restored = PostgreSQL::Test::Cluster->new('restored');
$restored->init_from_backup($primary, 'base', has_restoring => 1);
$restored->append_conf('postgresql.conf',
	"recovery_target_name = 'before_more'\nrecovery_target_action = 'promote'\n");
$restored->start;
ok($restored->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'recovery reached the restore point and promoted');

is($restored->safe_psql('postgres', 'SELECT count(*) || \':\' || sum(id) FROM t'),
	$expected, 'the restored table holds exactly the rows before the restore point');
is(self_find_misses($restored), '0', 'every restored row is found through the index');
is($restored->safe_psql('postgres', "SELECT count(*) FROM gigavector.hnsw_check('t_v')"),
	'0', 'hnsw_check finds no problem in the restored index');
my $plan = $restored->safe_psql('postgres',
	"SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 1) LIMIT 5");
like($plan, qr/Index Scan using t_v/, 'the restored index is used');

# the restored server goes on: inserts and queries through the index
$restored->safe_psql('postgres',
	'INSERT INTO t SELECT i, ' . rand_vec('i') . ' FROM generate_series(5001, 5200) i;');
is(self_find_misses($restored), '0', 'rows inserted after the restore are found too');

$restored->stop;
$primary->stop;
done_testing();
