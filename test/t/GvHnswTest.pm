# Shared pieces of the gv_hnsw TAP tests.
#
# unreachable_rows($node, $table): how many rows of $table an index search
# cannot reach. Every row is first looked up by its own vector at
# ef_search 200; a row not found at distance 0 is looked up again with
# ef_search at its maximum, 10000, which for a table of at most 10000 rows
# never prunes (the candidate list never fills), so the search visits every
# node reachable from the entry point: a row still not found is unreachable.
# (Above 10000 rows the second search is a very wide one, not exhaustive;
# gigavector.hnsw_check tests reachability exactly, on level 0.)
# Rows missed at ef 200 only (poorly connected, a search quality matter that
# the recall tests measure) are shown with note().
# self_find_sql($table): the first lookup as one query (for EXPLAIN).
# centers_sql($dim, $count): SQL creating table centers(c, a real[]) of
# $count random points in [-1, 1]^$dim, the centres of clustered test data.
# diag_misses($node, $table): the first 10 rows missed at ef 200, the
# distance the index returned instead, and whether ef 10000 finds them.
package GvHnswTest;

use strict;
use warnings;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(centers_sql self_find_sql unreachable_rows diag_misses);

sub centers_sql
{
	my ($dim, $count) = @_;
	return qq{CREATE TABLE centers AS
  SELECT c, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, $dim) WHERE c > 0) AS a
    FROM generate_series(1, $count) c;};
}

sub self_find_sql
{
	my ($table) = @_;
	$table //= 't';
	return qq{SELECT r.id FROM $table AS r
  LEFT JOIN LATERAL (SELECT t2.v <-> r.v AS d FROM $table AS t2 ORDER BY t2.v <-> r.v LIMIT 1) s ON true
 WHERE (s.d IS NULL OR s.d <> 0)};
}

sub unreachable_rows
{
	my ($node, $table) = @_;
	$table //= 't';
	my $rows = $node->safe_psql('postgres', "SELECT count(*) FROM $table");
	my @missed = split /\n/, $node->safe_psql('postgres',
		"SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 200; " . self_find_sql($table));
	return 0 unless @missed;
	note scalar(@missed) . " of $rows rows of $table not found by their own vector at ef_search 200";
	my $ids = join(',', @missed);
	return $node->safe_psql('postgres',
		"SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 10000; SELECT count(*) FROM ("
		  . self_find_sql($table) . " AND r.id IN ($ids)) m");
}

sub diag_misses
{
	my ($node, $table) = @_;
	$table //= 't';
	my $out = $node->safe_psql(
		'postgres', qq{
SET enable_seqscan = off;
SET gigavector.hnsw_ef_search = 200;
CREATE TEMP TABLE misses AS
  SELECT r.id, r.v, s.d FROM $table AS r
    LEFT JOIN LATERAL (SELECT t2.v <-> r.v AS d FROM $table AS t2 ORDER BY t2.v <-> r.v LIMIT 1) s ON true
   WHERE s.d IS NULL OR s.d <> 0;
SET gigavector.hnsw_ef_search = 10000;
SELECT 'id ' || m.id || ': nearest returned at distance ' || coalesce(m.d::text, '(none)')
       || ', found with ef_search 10000: '
       || coalesce(((SELECT t2.v <-> m.v FROM $table AS t2 ORDER BY t2.v <-> m.v LIMIT 1) = 0)::text, '(no row)')
  FROM misses AS m ORDER BY m.id LIMIT 10;
});
	diag "rows not found by their own vector:\n$out";
	return;
}

1;
