# Shared pieces of the gv_hnsw TAP tests.
#
# self_find_sql($table): SQL counting the rows of $table whose own vector is
# not found at distance 0 by an index search (ef_search 200): 0 means every
# row is reachable through the index.
# diag_misses($node, $table): for a failed self-search check, which rows were
# missed (first 10), the distance the index returned instead, and whether a
# much larger ef_search finds them (found: poorly connected; not found:
# unreachable).
package GvHnswTest;

use strict;
use warnings;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(self_find_sql diag_misses);

sub self_find_sql
{
	my ($table) = @_;
	$table //= 't';
	return qq{
SET enable_seqscan = off;
SET gigavector.hnsw_ef_search = 200;
SELECT count(*) FROM $table AS r
  LEFT JOIN LATERAL (SELECT t2.v <-> r.v AS d FROM $table AS t2 ORDER BY t2.v <-> r.v LIMIT 1) s ON true
 WHERE s.d IS NULL OR s.d <> 0;
};
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
SET gigavector.hnsw_ef_search = 2000;
SELECT 'id ' || m.id || ': nearest returned at distance ' || coalesce(m.d::text, '(none)')
       || ', found with ef_search 2000: '
       || coalesce(((SELECT t2.v <-> m.v FROM $table AS t2 ORDER BY t2.v <-> m.v LIMIT 1) = 0)::text, '(no row)')
  FROM misses AS m ORDER BY m.id LIMIT 10;
});
	diag "rows not found by their own vector:\n$out";
	return;
}

1;
