# gv_hnsw progress reporting during CREATE INDEX, and recall at the
# dimensions of common embedding models.
#
# 1. Progress: a CREATE INDEX ... USING gv_hnsw over 30000 random vectors of
#    64 dimensions (max_parallel_maintenance_workers = 0: one linking thread,
#    so that it lasts a few seconds) runs in a background session while a
#    second session polls pg_stat_progress_create_index for that backend every
#    ~20 ms until the index is committed. The build's row must show command
#    'CREATE INDEX', relid = the table, and the AM's subphases ('building
#    index: ...', named by HnswPhaseName): 'building index: linking graph' must
#    be seen, with tuples_total = the number of rows (all fit in
#    maintenance_work_mem) and 0 <= tuples_done <= tuples_total, tuples_done
#    never going back and taking at least two values; only known phases may
#    appear, in build order. (index_relid is 0 for a non-concurrent CREATE
#    INDEX, as documented, so it is not checked.) Without progress reporting
#    (or with a phase name mismatch) the linking phase is never seen and the
#    test fails.
# 2. Recall at 1536 dimensions (vectors inline in the graph slots, exact
#    traversal) and 3072 dimensions (SQ8 codes in the slots, full vectors on
#    vector pages, exact re-ranking): 3000 clustered vectors (30 centres
#    uniform in [-1, 1]^dim, points = centre + uniform noise in [-0.5, 0.5]
#    per dimension, generated in SQL after setseed) and 100 query vectors from
#    the same distribution that are not in the table. For gvector_l2_ops and
#    gvector_cosine_ops with default options (ef_search 320), recall@10 of the
#    index scan against the exact answer of a sequential scan must be >= 0.95,
#    every query must get 10 rows, in non-decreasing exact distance; each index
#    must be in the expected storage mode (gigavector.hnsw_stats) and pass
#    gigavector.hnsw_check. Recall with ef_search 10 is printed for
#    information only.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('progress_highdim');
$node->init;
$node->append_conf('postgresql.conf',
	"autovacuum = off\nmaintenance_work_mem = 256MB\nmax_parallel_maintenance_workers = 0\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION gigavector');

# ---------------------------------------------------------------- progress

my $nrows = 30000;
my $pdim = 64;
my $t0 = time;
$node->safe_psql(
	'postgres', qq{
SELECT setseed(0.2718);
CREATE TABLE big (id int PRIMARY KEY, v gvector($pdim) NOT NULL);
INSERT INTO big
  SELECT i, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, $pdim) WHERE i > 0)::gvector
    FROM generate_series(1, $nrows) i;
ANALYZE big;
});
note sprintf('progress: %d rows of %d dimensions loaded in %.1f s', $nrows, $pdim, time - $t0);

my $builder = $node->background_psql('postgres');
my $poller = $node->background_psql('postgres');
my $build_pid = $builder->query_safe('SELECT pg_backend_pid()');
like($build_pid, qr/^\d+$/, "builder backend pid $build_pid");

# Only the poller's own query, one line per sample:
#   command|relid|phase|tuples_total|tuples_done#committed
my $poll_sql = qq{
SELECT coalesce((SELECT format('%s|%s|%s|%s|%s', command, relid::regclass, phase, tuples_total, tuples_done)
                   FROM pg_stat_progress_create_index WHERE pid = $build_pid), '')
       || '#' || CASE WHEN to_regclass('big_v_idx') IS NULL THEN 'building' ELSE 'committed' END};

# (the \echo comes back once psql has sent the CREATE INDEX on its way)
$t0 = time;
$builder->query_until(
	qr/build started/, q{
\echo build started
CREATE INDEX big_v_idx ON big USING gv_hnsw (v gvector_l2_ops) WITH (m = 16, ef_construction = 64);
});

my @known_phases = (
	'initializing',
	'building index: initializing',
	'building index: loading tuples',
	'building index: linking graph',
	'building index: writing pages');
my %rank = map { $known_phases[$_] => $_ } 0 .. $#known_phases;
my $link_phase = 'building index: linking graph';

my (%phase_samples, @phase_order, %commands, %relids, %link_done_values);
my ($samples, $bad_counts, $went_back, $out_of_order) = (0, 0, 0, 0);
my ($link_total, $prev_done, $prev_rank) = (undef, -1, -1);
my $committed = 0;
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
my $row_gone_at;    # when the progress row disappeared (a failed build: give up)
while (time < $deadline)
{
	my $line = $poller->query_safe($poll_sql);
	my ($row, $done_flag) = split /#/, $line, 2;
	$row_gone_at = undef if $row ne '';
	$row_gone_at //= time if $row eq '' && $samples > 0;
	if ($row ne '')
	{
		$samples++;
		my ($command, $relid, $phase, $total, $done) = split /\|/, $row;
		$commands{$command}++;
		$relids{$relid}++;
		push @phase_order, $phase unless $phase_samples{$phase}++;
		my $r = $rank{$phase} // -1;
		$out_of_order++ if $r >= 0 && $r < $prev_rank;
		$prev_rank = $r if $r > $prev_rank;
		if ($phase eq $link_phase)
		{
			$link_total //= $total;
			$bad_counts++
			  unless $total > 0 && $done >= 0 && $done <= $total && $total == $link_total;
			$went_back++ if $done < $prev_done;
			$prev_done = $done;
			$link_done_values{$done}++;
		}
	}
	if ($done_flag eq 'committed')
	{
		$committed = 1;
		last;
	}
	last if defined $row_gone_at && time - $row_gone_at > 10;
	usleep(20_000);
}
my $build_secs = time - $t0;
$poller->quit;
# (psql has exited already if CREATE INDEX failed: ON_ERROR_STOP)
eval { $builder->quit; };
note "builder session: $builder->{stderr}" if $builder->{stderr} ne '';
note sprintf('progress: CREATE INDEX took %.1f s; %d samples with a progress row', $build_secs,
	$samples);
note "phases seen, in order (samples): "
  . join(', ', map { "'$_' ($phase_samples{$_})" } @phase_order);

ok($committed, 'CREATE INDEX committed while being polled');
is($node->safe_psql('postgres',
		"SELECT coalesce((SELECT indisvalid::text FROM pg_index WHERE indexrelid = to_regclass('big_v_idx')), 'missing')"
	),
	'true', 'the index is valid');
ok($samples > 0, 'pg_stat_progress_create_index showed the build');
is(join(',', sort keys %commands), 'CREATE INDEX', "the progress row's command is CREATE INDEX");
is(join(',', sort keys %relids), 'big', "the progress row's relid is the table");
ok(exists $phase_samples{$link_phase}, "phase '$link_phase' was seen");
is(join(',', grep { !exists $rank{$_} } @phase_order), '', 'no unknown phase was seen');
is($out_of_order, 0, 'phases were seen in build order');
is($link_total, $nrows, "tuples_total during linking is the number of rows ($nrows)");
is($bad_counts, 0, 'during linking 0 <= tuples_done <= tuples_total, total constant');
is($went_back, 0, 'tuples_done never went back during linking');
cmp_ok(scalar(keys %link_done_values), '>=', 2,
	'tuples_done advanced while being watched ('
	  . scalar(keys %link_done_values) . ' distinct values)');
$node->safe_psql('postgres', 'DROP TABLE big');

# ---------------------------------------------------------------- high-dimensional recall

my $nitems = 3000;
my $nq = 100;
my $min_recall = 0.95;
my %ops = (l2 => ['<->', 'gvector_l2_ops'], cosine => ['<=>', 'gvector_cosine_ops']);
my %storage = (1536 => 'sq8', 3072 => 'sq8');

for my $dim (1536, 3072)
{
	my $tab = "items$dim";
	$t0 = time;
	# centre c's vector is an array; a point unnests it once, in order
	my $point = "ARRAY(SELECT (u.x + (random() - 0.5))::real "
	  . "FROM unnest(ce.a) WITH ORDINALITY AS u(x, d) ORDER BY u.d)::gvector($dim)";
	$node->safe_psql(
		'postgres', qq{
SELECT setseed(0.$dim);
CREATE TABLE centers$dim AS
  SELECT c, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, $dim) WHERE c > 0) AS a
    FROM generate_series(1, 30) c;
CREATE TABLE $tab (id int PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO $tab SELECT i, $point
  FROM generate_series(1, $nitems) i JOIN centers$dim ce ON ce.c = 1 + (i * 7) % 30;
CREATE TABLE q$dim AS SELECT qid, $point AS v
  FROM generate_series(1, $nq) qid JOIN centers$dim ce ON ce.c = 1 + (qid * 11) % 30;
ANALYZE $tab;
});
	my $gen_secs = time - $t0;
	is($node->safe_psql('postgres',
			"SELECT count(*), count(DISTINCT v::text), min(vector_dims(v)) FROM $tab"),
		"$nitems|$nitems|$dim", "$dim dims: $nitems distinct rows");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM q$dim AS q JOIN $tab AS t ON t.v::text = q.v::text"),
		'0', "$dim dims: no query vector is in the table");

	$t0 = time;
	for my $op (sort keys %ops)
	{
		$node->safe_psql('postgres',
			"CREATE INDEX ${tab}_${op}_idx ON $tab USING gv_hnsw (v $ops{$op}[1])");
	}
	note sprintf('%d dims: data generated in %.1f s, 2 indexes built in %.1f s',
		$dim, $gen_secs, time - $t0);
	for my $op (sort keys %ops)
	{
		is($node->safe_psql('postgres',
				"SELECT storage, nodes FROM gigavector.hnsw_stats('${tab}_${op}_idx')"),
			"$storage{$dim}|$nitems", "$dim dims, $op: $storage{$dim}, $nitems nodes");
		is($node->safe_psql('postgres',
				"SELECT * FROM gigavector.hnsw_check('${tab}_${op}_idx')"),
			'', "$dim dims, $op: hnsw_check clean");
	}

	for my $op (sort keys %ops)
	{
		my $sym = $ops{$op}[0];
		my $knn = "(SELECT t.id, t.v $sym q.v AS d FROM $tab AS t ORDER BY t.v $sym q.v LIMIT 10)";
		my $exact_plan = $node->safe_psql('postgres',
			"SET enable_indexscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) "
			  . "SELECT s.id FROM q$dim AS q CROSS JOIN LATERAL $knn AS s");
		like($exact_plan, qr/Seq Scan on $tab/, "$dim dims, $op: exact answers from a Seq Scan");

		$node->safe_psql(
			'postgres', qq{
SET enable_indexscan = off; SET enable_bitmapscan = off;
CREATE TABLE truth_${op}_$dim AS SELECT q.qid, s.id FROM q$dim AS q CROSS JOIN LATERAL $knn AS s;
});
		# per query: rows returned, hits in the exact top 10, distances in order
		my $check = qq{
SELECT count(*), sum(n), sum(hits), count(*) FILTER (WHERE NOT ordered)
  FROM q$dim AS q CROSS JOIN LATERAL (
    SELECT count(*) AS n,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM truth_${op}_$dim AS tr
                                           WHERE tr.qid = q.qid AND tr.id = s2.id)) AS hits,
           coalesce(bool_and(d >= prev), true) AS ordered
      FROM (SELECT s.id, s.d, lag(s.d) OVER () AS prev FROM $knn AS s) AS s2) AS r};
		my $index_plan =
		  $node->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) $check");
		like($index_plan, qr/Index Scan using ${tab}_${op}_idx on $tab/,
			"$dim dims, $op: the kNN subquery uses ${tab}_${op}_idx");
		my $res = $node->safe_psql('postgres', "SET enable_seqscan = off; $check");
		my ($queries, $rows, $hits, $unordered) = split /\|/, $res;
		my $recall = sprintf('%.4f', $hits / (10 * $nq));
		diag "$dim dims, $op: recall\@10 = $recall (default ef_search)";
		is("$queries|$rows", "$nq|" . (10 * $nq), "$dim dims, $op: 10 rows for each of $nq queries");
		is($unordered, '0', "$dim dims, $op: index results in non-decreasing exact distance");
		cmp_ok($recall, '>=', $min_recall,
			"$dim dims, $op: recall\@10 with default options is $recall (>= $min_recall)");
		# for information: how much of it the search itself does
		my (undef, undef, $hits10) = split /\|/,
		  $node->safe_psql('postgres',
			"SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 10; $check");
		note sprintf('%d dims, %s: recall@10 with ef_search 10 = %.4f',
			$dim, $op, $hits10 / (10 * $nq));
	}
	$node->safe_psql('postgres', "DROP TABLE $tab, centers$dim, q$dim");
}

$node->stop;
done_testing();
