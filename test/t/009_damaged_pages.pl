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
# Also: the check on the invalid index a cancelled CREATE INDEX CONCURRENTLY
# leaves says so, and the check itself finds damage that was planted (it is
# the oracle here, so it is tested on every kind of damage above).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
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

# The n-th block (0-based) of a page type in the index's file.
sub find_block
{
	my ($path, $type, $nth) = @_;
	open(my $fh, '<', $path) or die "cannot open $path: $!";
	binmode $fh;
	my $blocks = (-s $path) / 8192;
	my $seen = 0;
	for my $b (0 .. $blocks - 1)
	{
		seek($fh, $b * 8192 + 8192 - 8, 0);
		read($fh, my $special, 2);
		next unless unpack('v', $special) == $type;
		if ($seen++ == $nth) { close $fh; return $b; }
	}
	close $fh;
	die "no block of type $type number $nth in $path";
}

# Writes $len pseudo-random bytes (seeded) at $offset of block $block.
sub garble
{
	my ($path, $block, $offset, $len, $seed) = @_;
	srand($seed);
	open(my $fh, '+<', $path) or die "cannot open $path: $!";
	binmode $fh;
	seek($fh, $block * 8192 + $offset, 0);
	print $fh pack('C*', map { int(rand(256)) } 1 .. $len);
	close $fh;
	return;
}

# 20 kNN queries through the index: returns (errors, wrong) where errors is
# the number of queries that failed with XX001 and a message naming a block
# and the index, wrong the number that returned incorrect rows or failed
# otherwise. Correct rows: all 10 asked for, no duplicates, in the order of
# their true distances (computed from the table). After a REINDEX the
# query's own row must also come first; before it, damage to a vector or to
# the codes may hide a row (only checksums on every page, data_checksums,
# would see that), but never reorder what is returned.
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
