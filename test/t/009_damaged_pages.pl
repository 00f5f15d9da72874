# gv_hnsw on damaged pages.
#
# With the server stopped, garbage is written over parts of a gv_hnsw index:
# the meta page's contents, a whole meta page, node slots, upper lists, a
# whole node page, vector data and the sq8 ranges, for sq8 and f32 storage.
# After each, with the server up again:
#   - gigavector.hnsw_check reports problems and returns (never crashes);
#   - every kNN query either fails with SQLSTATE XX001 naming the index (or
#     the relation file) and a block, or returns correct rows: as many as
#     asked for, no duplicates, in the order of their true distances;
#   - an INSERT and a VACUUM end, in success or an ERROR;
#   - the server never goes down (TAP clusters run with restart_after_crash
#     off, so a crashed backend would stop it) and nothing hangs
#     (statement_timeout);
#   - REINDEX makes the check clean and the queries right again (each
#     query's own row first).
# Also: the sq8 per-node coded flag is checked both ways (flag set on a node
# the ranges miss, cleared on one they represent, out of range); the check on
# the invalid index a cancelled CREATE INDEX CONCURRENTLY
# leaves says so, and the check itself finds damage that was planted (it is
# the oracle here, so it is tested on every kind of damage above).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use GvPages;
use Test::More;
use IPC::Run;

my $dim = 32;
my $rows = 3000;
my $node = PostgreSQL::Test::Cluster->new('damaged');
$node->init;
$node->append_conf('postgresql.conf', "statement_timeout = '60s'\n");
$node->start;
$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION gigavector;
SELECT setseed(0.42);
CREATE TABLE t (id int PRIMARY KEY, v gvector($dim) NOT NULL);
INSERT INTO t SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE i > 0)::gvector
  FROM generate_series(1, $rows) i;
CREATE INDEX t_sq8 ON t USING gv_hnsw (v gvector_l2_ops);
});

# Page types in the special space's first uint16 (hnsw.h).
my %type = (meta => 1, node => 2, vector => 3, quantizer => 4);

# 20 kNN queries through the index: returns (errors, wrong) where errors is
# the number of queries that failed with XX001 and a message naming a block
# and the index, wrong the number that returned incorrect rows or failed
# otherwise. Correct rows: all 10 asked for, no duplicates, in the order of
# their true distances (computed from the table). After a REINDEX the
# query's own row must also come first; before it, damage to a vector or to
# the codes may hide a row (only checksums on every page, data_checksums,
# would see that), but never reorder what is returned. (The queries run with
# scan_order = strict: a damaged slot can leave the first batch short, and
# relaxed order returns rows the widened search meets late as they come.)
# With $exact, also demand the query's own row first.
sub run_queries
{
	my ($index, $label, $exact) = @_;
	my ($errors, $wrong) = (0, 0);
	for my $q (1 .. 20)
	{
		my $id = $q * 137 % $rows + 1;
		my ($ret, $out, $err) = $node->psql(
			'postgres', qq{
\\set VERBOSITY verbose
SET enable_seqscan = off;
SET gigavector.scan_order = strict;
SELECT id, v <-> (SELECT v FROM t WHERE id = $id) FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = $id) LIMIT 10;
});
		if ($ret != 0)
		{
			if ($err =~ /ERROR:\s+XX001:/
				&& ($err =~ /gv_hnsw index "$index" is corrupted at block \d+/
					|| $err =~ /invalid page in block \d+ of relation/))
			{
				$errors++;
			}
			else
			{
				$wrong++;
				diag "$label: query for row $id failed otherwise: $err";
			}
			next;
		}
		my @pairs = map { [ split /\|/ ] } grep { /\|/ } split /\n/, $out;
		my %seen;
		my $ok = @pairs == 10 && (!$exact || $pairs[0][0] == $id);
		for my $i (0 .. $#pairs)
		{
			$ok = 0 if $seen{ $pairs[$i][0] }++;
			$ok = 0 if $i > 0 && $pairs[$i][1] < $pairs[ $i - 1 ][1];
		}
		if (!$ok)
		{
			$wrong++;
			diag "$label: query for row $id returned wrong rows: " . join(' ', split /\n/, $out);
		}
	}
	return ($errors, $wrong);
}

# The damage scenarios: page type, which one, offset, length.
my @scenarios = (
	[ 'meta contents',    'meta',      0, 24,   200 ],
	[ 'whole meta page',  'meta',      0, 0,    8192 ],
	[ 'node slots',       'node',      0, 24,   3000 ],
	[ 'upper lists',      'node',      1, 6000, 2180 ],
	[ 'whole node page',  'node',      2, 0,    8192 ],
	[ 'vector data',      'vector',    0, 24,   8000 ],
	[ 'sq8 ranges',       'quantizer', 0, 24,   200 ],
	[ 'node slots again', 'node',      3, 24,   8100 ],);

sub damage_and_check
{
	my ($index, $storage, $sc, $seed) = @_;
	my ($what, $type, $nth, $offset, $len) = @$sc;
	my $label = "$storage, $what";
	my $path = $node->data_dir . '/'
	  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('$index')");
	$node->stop;
	my $block = find_block($path, $type{$type}, $nth);
	garble($path, $block, $offset, $len, $seed);
	$node->start;

	my ($ret, $problems, $err) =
	  $node->psql('postgres', "SELECT * FROM gigavector.hnsw_check('$index')");
	is($ret, 0, "$label (block $block): hnsw_check returns") or diag $err;
	isnt($problems, '', "$label: hnsw_check reports the damage");
	my ($errors, $wrong) = run_queries($index, $label);
	is($wrong, 0,
		"$label: queries end in XX001 ($errors of 20) or return correct rows");
	my ($iret, $iout, $ierr) = $node->psql('postgres',
		"INSERT INTO t SELECT 100000 + i, v FROM t WHERE id <= 5 ORDER BY id");
	ok($iret == 0 || $ierr =~ /ERROR:/, "$label: an INSERT ends") or diag $ierr;
	my ($vret, $vout, $verr) = $node->psql('postgres', 'VACUUM t');
	ok($vret == 0 || $verr =~ /ERROR:/, "$label: VACUUM ends") or diag $verr;
	is($node->safe_psql('postgres', 'SELECT 1'), '1', "$label: the server is up");

	$node->safe_psql('postgres', "DELETE FROM t WHERE id > 100000; REINDEX INDEX $index");
	is($node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('$index')"),
		'', "$label: after REINDEX hnsw_check is clean");
	($errors, $wrong) = run_queries($index, "$label, reindexed", 1);
	ok($errors == 0 && $wrong == 0, "$label: after REINDEX every query is right");
	return;
}

# the queries do use the index
like($node->safe_psql('postgres', q{SET enable_seqscan = off; EXPLAIN (COSTS OFF)
  SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 7) LIMIT 10}),
	qr/Index Scan using t_sq8/, 'the kNN query scans the gv_hnsw index');

my $seed = 1;
damage_and_check('t_sq8', 'sq8', $_, $seed++) for @scenarios;

# ---- the per-node coded flag (sq8): a row the trained ranges miss gets no
# codes and is traversed with its exact vector; the check verifies the flag
# against the vector and the ranges, both ways.

# The block and offset of the node slot of a heap TID "(b,o)", found by its
# header (heap TID, then flags = valid) on the index's node pages.
sub find_slot
{
	my ($path, $ctid) = @_;
	my ($b, $o) = $ctid =~ /\((\d+),(\d+)\)/ or die "bad ctid $ctid";
	my $pattern = pack('vvv', $b >> 16, $b & 0xffff, $o) . "\x01";
	open(my $fh, '<', $path) or die "cannot open $path: $!";
	binmode $fh;
	my $blocks = (-s $path) / 8192;
	for my $blk (0 .. $blocks - 1)
	{
		seek($fh, $blk * 8192, 0);
		read($fh, my $page, 8192);
		next unless unpack('v', substr($page, 8192 - 8, 2)) == $type{node};
		my $at = index($page, $pattern);
		if ($at >= 0) { close $fh; return ($blk, $at); }
	}
	close $fh;
	die "no node slot for heap TID $ctid in $path";
}

# Sets the coded byte (offset 11 of the slot header, hnsw_am.h) to $value.
sub set_coded
{
	my ($path, $block, $slot, $value) = @_;
	open(my $fh, '+<', $path) or die "cannot open $path: $!";
	binmode $fh;
	seek($fh, $block * 8192 + $slot + 11, 0);
	print $fh pack('C', $value);
	close $fh;
	return;
}

$node->safe_psql('postgres', qq{
REINDEX INDEX t_sq8;
INSERT INTO t VALUES (300000, array_fill(50::real, ARRAY[$dim])::gvector);
INSERT INTO t VALUES (300001, (SELECT v FROM t WHERE id = 11));
});
is($node->safe_psql('postgres', "SELECT uncoded_nodes FROM gigavector.hnsw_stats('t_sq8')"),
	'1', 'a row far outside the trained ranges is counted in uncoded_nodes, one inside is not');
is($node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_sq8')"),
	'', 'hnsw_check is clean with an uncoded node');
is($node->safe_psql('postgres', q{SET enable_seqscan = off;
SELECT id FROM t ORDER BY v <-> array_fill(49::real, ARRAY[32])::gvector LIMIT 1}),
	'300000', 'the uncoded row is found by a query near it');
sub index_path
{
	return $node->data_dir . '/'
	  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('t_sq8')");
}
my %tid = map { $_ => $node->safe_psql('postgres', "SELECT ctid FROM t WHERE id = $_") }
  (300000, 300001);
for my $case ([ 300000, 1, qr/marked coded, but the ranges miss its vector/ ],
	[ 300001, 0, qr/has no codes, but the ranges represent its vector/ ],
	[ 300001, 7, qr/has coded flag 7/ ])
{
	my ($id, $value, $want) = @$case;
	my $path = index_path();
	$node->stop;
	my ($blk, $slot) = find_slot($path, $tid{$id});
	set_coded($path, $blk, $slot, $value);
	$node->start;
	like($node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_sq8')"),
		$want, "coded flag of row $id set to $value: hnsw_check reports it");
	$node->safe_psql('postgres', 'REINDEX INDEX t_sq8');
	%tid = map { $_ => $node->safe_psql('postgres', "SELECT ctid FROM t WHERE id = $_") }
	  (300000, 300001);
}
# the meta page's coded_dims (offset 98) and code_bytes (offset 24, hnsw_am.h)
# must agree with the ranges and with each other (codes that do not fit the
# slots): the check reports either, and a scan of such a meta page raises XX001
for my $case ([ 98, qr/the sq8 ranges code 32 dimensions; the meta page says 31/ ],
	[ 24, qr/the code bytes or coded dimensions exceed the dimension count/ ])
{
	my ($offset, $want) = @$case;
	my $path = index_path();
	$node->stop;
	open(my $mfh, '+<', $path) or die "cannot open $path: $!";
	binmode $mfh;
	seek($mfh, 24 + $offset, 0);
	print $mfh pack('v', 31);
	close $mfh;
	$node->start;
	like($node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_sq8')"),
		$want, "meta page field at $offset set to 31: hnsw_check reports it");
	if ($offset == 24)
	{
		my ($ret, $out, $err) = $node->psql('postgres',
			"\\set VERBOSITY verbose\nSET enable_seqscan = off;
			 SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 3) LIMIT 1");
		like($err, qr/XX001/, '... and a scan raises XX001');
	}
	$node->safe_psql('postgres', 'REINDEX INDEX t_sq8');
}
# ---- reachability: the entry point's level-0 list emptied (a sound list by
# every other measure) leaves every other node unreachable over level 0
sub meta_field
{
	my ($path, $offset, $format) = @_;
	open(my $fh, '<', $path) or die "cannot open $path: $!";
	binmode $fh;
	seek($fh, 24 + $offset, 0);    # the meta page's data (HnswMeta, hnsw_am.h)
	read($fh, my $bytes, 4);
	close $fh;
	return unpack($format, $bytes);
}
is($node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_sq8')"),
	'', 'before the entry point loses its list: the check, reachability included, is clean');
my $path = index_path();
$node->stop;
my $entry = meta_field($path, 36, 'V');
my ($per_page, $group_pages, $node_pages, $qpages) = (
	meta_field($path, 20, 'v'), meta_field($path, 26, 'v'),
	meta_field($path, 30, 'v'), meta_field($path, 96, 'v'));
my $page = int($entry / $per_page);
my $entry_block = 1 + $qpages + int($page / $node_pages) * $group_pages + $page % $node_pages;
my $node_size = meta_field($path, 18, 'v');
open(my $efh, '+<', $path) or die "cannot open $path: $!";
binmode $efh;
seek($efh, $entry_block * 8192 + 24 + ($entry % $per_page) * $node_size + 10, 0);  # count0
print $efh pack('C', 0);
close $efh;
$node->start;
my $report = $node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_sq8')");
like($report, qr/node \d+ is not reachable from the entry point $entry over level-0 links/,
	'entry point with an empty level-0 list: hnsw_check names unreachable nodes');
like($report, qr/more nodes are not reachable \(\d+ of \d+ live nodes; 1 reached\)/,
	'... and counts the rest: only the entry point is reached');
is(scalar(() = $report =~ /\n/g) + 1, 11, '... in 11 rows (10 nodes and a count)');
# the search phase finds only the entry point; the exact pass returns the
# rest: every row asked for comes back (relaxed), or in order (strict)
my $knn = q{SELECT count(*), count(DISTINCT id), bool_or(id = 7), count(*) FILTER (WHERE d < prev)
  FROM (SELECT id, d, coalesce(lag(d) OVER (), 0) AS prev FROM (
    SELECT id, v <-> (SELECT v FROM t WHERE id = 7) AS d FROM t
     ORDER BY v <-> (SELECT v FROM t WHERE id = 7) LIMIT 10) s) s2};
like($node->safe_psql('postgres', "SET enable_seqscan = off; $knn"), qr/^10\|10\|t\|\d+$/,
	'entry point without a list: a kNN query returns its 10 rows, its own row among them');
like($node->safe_psql('postgres', "SET enable_seqscan = off; SET gigavector.scan_order = strict; $knn"),
	qr/^\d+\|\d+\|[tf]\|0$/, '... and with scan_order = strict, in distance order');
# a VACUUM with nothing to delete reconnects them (hnsw_vacuumcleanup), as
# it does the rare node inserts leave without an in-link
$node->safe_psql('postgres', 'VACUUM t');
is($node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_sq8')"),
	'', 'a VACUUM without deletes makes every node reachable again');
cmp_ok($node->safe_psql('postgres', "SELECT repaired FROM gigavector.hnsw_stats('t_sq8')"),
	'>', 0, '... and counts the lists it rewrote');
$node->safe_psql('postgres', 'REINDEX INDEX t_sq8');

# a concurrent writer (a transaction holding the index's RowExclusiveLock)
# makes the check skip reachability, with a NOTICE, and not wait
my ($win, $wout) = ('', '');
my $w = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
	'<', \$win, '>', \$wout, '2>', \$wout);
$win .= "BEGIN;\nINSERT INTO t VALUES (300002, (SELECT v FROM t WHERE id = 12));\nSELECT 'held';\n";
$w->pump until $wout =~ /held/;
my ($cr, $co, $ce) = $node->psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_sq8')");
is($cr, 0, 'hnsw_check with a writer holding the index returns');
like($ce, qr/reachability not checked, "t_sq8" has concurrent writers/,
	'... and says it did not check reachability');
$win .= "ROLLBACK;\n\\q\n";
$w->finish;

# (REINDEX trains on every row, 300000 included: it is coded now)
is($node->safe_psql('postgres', "SELECT uncoded_nodes FROM gigavector.hnsw_stats('t_sq8')"),
	'0', 'after REINDEX the ranges cover every row');
$node->safe_psql('postgres', 'DELETE FROM t WHERE id >= 300000');

$node->safe_psql('postgres',
	'DROP INDEX t_sq8; CREATE INDEX t_f32 ON t USING gv_hnsw (v gvector_l2_ops) WITH (storage = f32)');
damage_and_check('t_f32', 'f32', $_, $seed++)
  for grep { $_->[1] ne 'vector' && $_->[1] ne 'quantizer' } @scenarios;
$node->safe_psql('postgres', 'DROP INDEX t_f32');

# the invalid index left by a cancelled CREATE INDEX CONCURRENTLY: a writer
# holds a lock, so the build waits for it and its statement_timeout cancels it
my ($in, $out) = ('', '');
my $writer = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$out);
$in .= "BEGIN;\nINSERT INTO t VALUES (200000, (SELECT v FROM t WHERE id = 1));\nSELECT 'held';\n";
$writer->pump until $out =~ /held/;
my ($cret, $cout, $cerr) = $node->psql('postgres',
	"SET statement_timeout = '2s'; CREATE INDEX CONCURRENTLY t_cic ON t USING gv_hnsw (v gvector_l2_ops)");
isnt($cret, 0, 'CREATE INDEX CONCURRENTLY is cancelled while it waits for a writer');
$in .= "ROLLBACK;\n\\q\n";
$writer->finish;
is($node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 't_cic'::regclass"),
	'f', 'the cancelled build left an invalid index');
my ($kret, $kout, $kerr) =
  $node->psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_cic')");
is($kret, 0, 'hnsw_check on the invalid index returns') or diag $kerr;
like($kout, qr/not valid/, 'hnsw_check says the index is not valid');
$node->safe_psql('postgres', 'REINDEX INDEX t_cic');
is($node->safe_psql('postgres', "SELECT * FROM gigavector.hnsw_check('t_cic')"),
	'', 'after REINDEX the check is clean');

$node->stop;
done_testing();
