# gv_hnsw over blocks that exist but were never initialised.
#
# After a crash, an index file can end with blocks whose extension reached the
# disk while the WAL record that initialised them did not: they are all zeros.
# Inserts that reach such a block must give it a page header before writing a
# node or a vector into it (a zero page has pd_upper 0, and generic WAL cannot
# log a page whose pd_lower is above its pd_upper: the backend crashed, and a
# TAP cluster, which runs with restart_after_crash off, went down with it).
# The test appends zero blocks to a gv_hnsw index while the server is stopped,
# then inserts through them: the server must stay up, rows must be found
# through the index by their own vector, kNN queries must return full
# results, and hnsw_check must be clean.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GvHnswTest;

my $dim = 16;
my $rand_vec = "(SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE i > 0)::gvector";

my $node = PostgreSQL::Test::Cluster->new('zero_pages');
$node->init;
$node->start;
$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION gigavector;
CREATE TABLE t (id bigserial PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO t (v) SELECT $rand_vec FROM generate_series(1, 100) i;
CREATE INDEX t_v_idx ON t USING gv_hnsw (v gvector_l2_ops);
CHECKPOINT;
});
my $path = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('t_v_idx')");
my $blocks = $node->safe_psql('postgres', "SELECT pg_relation_size('t_v_idx') / 8192");
$node->stop;

# 16 zero blocks at the end of the index file: several groups' worth
open(my $fh, '>>', $path) or die "cannot open $path: $!";
binmode $fh;
print $fh "\0" x (8192 * 16);
close $fh;

$node->start;
is($node->safe_psql('postgres', "SELECT pg_relation_size('t_v_idx') / 8192"),
	$blocks + 16, '16 zero blocks follow the index pages');
$node->safe_psql('postgres',
	"INSERT INTO t (v) SELECT $rand_vec FROM generate_series(1, 3000) i");
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '3100',
	'3000 inserts through the zero blocks, the server still up');
cmp_ok($node->safe_psql('postgres', "SELECT pages FROM gigavector.hnsw_stats('t_v_idx')"),
	'>', $blocks + 16, 'the index grew past the zero blocks');
# (a back-link that pushes a member out of a full list hands its in-link to a
# witness or to the new node, LinkDropped: inserts leave no row unreachable)
is(unreachable_rows($node, 't'), '0', 'every one of 3100 rows is reachable through the index')
  or diag_misses($node, 't');
$node->safe_psql('postgres', 'DELETE FROM t WHERE id % 10 = 0; VACUUM t;');
is(unreachable_rows($node, 't'), '0',
	'after a delete and VACUUM (which reconnects orphans) every row is reachable');
my $knn = $node->safe_psql(
	'postgres', qq{
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE n = 10) FROM (
  SELECT (SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> q.v LIMIT 10) s) AS n
    FROM (SELECT $rand_vec AS v FROM generate_series(1, 50) i) q) x;
});
is($knn, '50', '50 kNN queries return 10 rows each');
is($node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_v_idx')"),
	'', 'hnsw_check reports no problem');

$node->stop;
done_testing();
