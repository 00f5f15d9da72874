# gv_hnsw recall, per operator class.
#
# 3000 clustered vectors of 32 dimensions, 50 query vectors from the same
# distribution; recall@10 of the index scan (gigavector.hnsw_ef_search = 100)
# against the exact answer (a sequential scan ORDER BY the same operator):
#   - after CREATE INDEX: >= 0.9 (>= 0.8 for inner product)
#   - after 1000 inserts into the indexed table: same thresholds
#   - after deleting 30% of rows, VACUUM and re-inserting them: within 0.02 of
#     the recall of a fresh REINDEX (which itself must meet the threshold);
#     VACUUM must have freed the dead nodes' slots and the re-inserts reused
#     them (the index keeps its size), and hnsw_check stays clean
# and a filtered query (WHERE category = X, ~2% of the rows) must return 10 rows
# in non-decreasing exact distance.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GvHnswTest;

my $dim = 32;
my %opclass = (
	l2 => ['<->', 'gvector_l2_ops', 0.9],
	ip => ['<#>', 'gvector_ip_ops', 0.8],
	cosine => ['<=>', 'gvector_cosine_ops', 0.9],
	l1 => ['<+>', 'gvector_l1_ops', 0.9],);
my @ops = qw(l2 ip cosine l1);

my $node = PostgreSQL::Test::Cluster->new('recall');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\nmaintenance_work_mem = 256MB\n");
$node->start;

# Clustered data: 30 centres uniform in [-1, 1]^32, points = centre + uniform
# noise in [-0.5, 0.5] per dimension; category uniform in 0..49 (2% each).
$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION gigavector;
SELECT setseed(0.4242);
@{[ centers_sql($dim, 30) ]}
CREATE TABLE items (id int PRIMARY KEY, category int NOT NULL, v gvector($dim) NOT NULL);
CREATE FUNCTION gen_items(lo int, hi int) RETURNS void LANGUAGE sql AS \$\$
  INSERT INTO items
  SELECT i, floor(random() * 50)::int,
         (SELECT array_agg((ce.a[d] + (random() - 0.5))::real ORDER BY d)
            FROM generate_series(1, $dim) d)::gvector
    FROM generate_series(lo, hi) i JOIN centers ce ON ce.c = 1 + (i * 7) % 30;
\$\$;
SELECT gen_items(1, 3000);
CREATE TABLE q AS
  SELECT qid, (SELECT array_agg((ce.a[d] + (random() - 0.5))::real ORDER BY d)
                 FROM generate_series(1, $dim) d)::gvector($dim) AS v
    FROM generate_series(1, 50) qid JOIN centers ce ON ce.c = 1 + (qid * 11) % 30;
CREATE TABLE truth (op text, qid int, id int);
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM items'), '3000', '3000 rows loaded');

for my $op (@ops)
{
	my (undef, $opc) = @{ $opclass{$op} };
	$node->safe_psql('postgres',
		"CREATE INDEX items_${op}_idx ON items USING gv_hnsw (v $opc) WITH (m = 16, ef_construction = 64)"
	);
}

sub knn_subquery
{
	my ($op) = @_;
	my $sym = $opclass{$op}[0];
	return "(SELECT i.id FROM items AS i ORDER BY i.v $sym q.v LIMIT 10)";
}

# exact top-10 of every query, by sequential scan
sub compute_truth
{
	my $sql = q{
SET enable_indexscan = off;
SET enable_bitmapscan = off;
TRUNCATE truth;
};
	for my $op (@ops)
	{
		$sql .= "INSERT INTO truth SELECT '$op', q.qid, s.id FROM q CROSS JOIN LATERAL "
		  . knn_subquery($op) . " AS s;\n";
	}
	$node->safe_psql('postgres', $sql);
	return;
}

sub recall_sql
{
	my ($op) = @_;
	return
	    "SELECT round(sum(c)::numeric / (10 * count(*)), 4) FROM q CROSS JOIN LATERAL "
	  . "(SELECT count(*) AS c FROM "
	  . knn_subquery($op)
	  . " AS a JOIN truth AS t ON t.op = '$op' AND t.qid = q.qid AND t.id = a.id) AS s";
}

sub recall
{
	my ($op) = @_;
	return $node->safe_psql('postgres',
		"SET enable_seqscan = off; SET gigavector.hnsw_ef_search = 100; "
		  . recall_sql($op));
}

# plans: the exact answer by seq scan, the approximate one by the gv_hnsw index
{
	my $truth_plan = $node->safe_psql('postgres',
		    'SET enable_indexscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) '
		  . 'SELECT s.id FROM q CROSS JOIN LATERAL '
		  . knn_subquery('l2') . ' AS s');
	like($truth_plan, qr/Seq Scan on items/, 'exact answers come from a Seq Scan');
	unlike($truth_plan, qr/items_l2_idx/, 'exact answers do not use the index');
	for my $op (@ops)
	{
		my $plan = $node->safe_psql('postgres',
			'SET enable_seqscan = off; EXPLAIN (COSTS OFF) ' . recall_sql($op));
		like($plan, qr/Index Scan using items_${op}_idx on items/,
			"$op: the kNN subquery uses an Index Scan on items_${op}_idx");
	}
}

compute_truth();
is($node->safe_psql('postgres', 'SELECT count(*) FROM truth'),
	'2000', 'exact answers: 4 operators x 50 queries x 10');

my %after_build;
for my $op (@ops)
{
	my $min = $opclass{$op}[2];
	my $r = recall($op);
	$after_build{$op} = $r;
	cmp_ok($r, '>=', $min, "$op: recall\@10 after CREATE INDEX is $r (>= $min)");
}

# ---- 1000 inserts into the indexed table
$node->safe_psql('postgres', 'SELECT setseed(0.125); SELECT gen_items(3001, 4000)');
compute_truth();
for my $op (@ops)
{
	my $min = $opclass{$op}[2];
	my $r = recall($op);
	cmp_ok($r, '>=', $min, "$op: recall\@10 after 1000 inserts is $r (>= $min)");
}

# ---- delete 30%, VACUUM, re-insert the same rows
my %pages_before = map {
	$_ => $node->safe_psql('postgres', "SELECT pages FROM gigavector.hnsw_stats('items_${_}_idx')")
} @ops;
$node->safe_psql(
	'postgres', q{
CREATE TABLE saved AS SELECT * FROM items WHERE id % 10 < 3;
DELETE FROM items WHERE id % 10 < 3;
VACUUM items;
});
for my $op (@ops)
{
	# VACUUM unlinked the 1200 dead nodes and freed their slots
	is($node->safe_psql('postgres',
			"SELECT free_slots, repaired > 0 FROM gigavector.hnsw_stats('items_${op}_idx')"),
		'1200|t', "$op: VACUUM freed 1200 slots and repaired lists");
	is($node->safe_psql('postgres',
			"SELECT * FROM gigavector.hnsw_check('items_${op}_idx'::regclass)"),
		'', "$op: hnsw_check clean after delete and VACUUM");
}
$node->safe_psql('postgres', 'INSERT INTO items SELECT * FROM saved');
is($node->safe_psql('postgres', 'SELECT count(*) FROM items'), '4000',
	'4000 rows after delete, VACUUM, re-insert');
for my $op (@ops)
{
	my $check = $node->safe_psql('postgres',
		"SELECT * FROM gigavector.hnsw_check('items_${op}_idx'::regclass)");
	is($check, '', "$op: hnsw_check clean after delete, VACUUM, re-insert");
	# the re-inserted rows took the freed slots: the index did not grow
	is($node->safe_psql('postgres',
			"SELECT free_slots || ' ' || reused || ' ' || pages FROM gigavector.hnsw_stats('items_${op}_idx')"),
		"0 1200 $pages_before{$op}", "$op: re-inserts reused the 1200 free slots, index size unchanged");
}
# a VACUUM with nothing to delete reconnects any node the inserts left
# unreachable (hnsw_vacuumcleanup)
$node->safe_psql('postgres', 'VACUUM items');
for my $op (@ops)
{
	is($node->safe_psql('postgres',
			"SELECT * FROM gigavector.hnsw_check('items_${op}_idx'::regclass)"),
		'', "$op: hnsw_check clean after delete, VACUUM, re-insert, VACUUM");
}
compute_truth();
my %after_churn = map { $_ => recall($_) } @ops;
for my $op (@ops)
{
	$node->safe_psql('postgres', "REINDEX INDEX items_${op}_idx");
}
for my $op (@ops)
{
	my $min = $opclass{$op}[2];
	my $fresh = recall($op);
	my $churn = $after_churn{$op};
	cmp_ok($fresh, '>=', $min, "$op: recall\@10 after REINDEX is $fresh (>= $min)");
	# (1e-9: both are rounded to 4 decimals; 0.98 vs 1.0 - 0.02 must pass)
	cmp_ok($churn, '>=', $fresh - 0.02 - 1e-9,
		"$op: recall\@10 after delete/VACUUM/re-insert is $churn, within 0.02 of REINDEX ($fresh)");
}

# ---- filtered kNN: category matching ~2% of the rows
my $filter_plan = $node->safe_psql('postgres',
	q{SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM items WHERE category = 7
	  ORDER BY v <-> (SELECT v FROM q WHERE qid = 1) LIMIT 10});
like($filter_plan, qr/Index Scan using items_l2_idx on items/,
	'filtered kNN uses the gv_hnsw index');
for my $qid (1 .. 5)
{
	my $cat = ($qid * 7) % 50;
	my $in_cat = $node->safe_psql('postgres',
		"SELECT count(*) FROM items WHERE category = $cat");
	# exact distances, computed by the operator on the returned rows
	my $res = $node->safe_psql(
		'postgres', qq{
SET enable_seqscan = off;
SELECT count(*), coalesce(bool_and(d >= prev), false), coalesce(bool_and(category = $cat), false),
       string_agg(id::text, ',')
  FROM (SELECT id, category, d, coalesce(lag(d) OVER (), '-Infinity') AS prev
          FROM (SELECT id, category, v <-> (SELECT v FROM q WHERE qid = $qid) AS d
                  FROM items WHERE category = $cat
                 ORDER BY v <-> (SELECT v FROM q WHERE qid = $qid) LIMIT 10) s) s2;
});
	my ($n, $ordered, $allcat, $ids) = split /\|/, $res;
	is("$n|$ordered|$allcat", '10|t|t',
		"filtered kNN (query $qid, category $cat: $in_cat rows) returns 10 rows of the category in non-decreasing distance"
	);
	# for information: overlap with the exact filtered answer
	my $exact = $node->safe_psql(
		'postgres', qq{
SET enable_indexscan = off; SET enable_bitmapscan = off;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM items WHERE category = $cat
  ORDER BY v <-> (SELECT v FROM q WHERE qid = $qid) LIMIT 10) s;
});
	my %ex = map { $_ => 1 } split /,/, $exact;
	my $hits = grep { $ex{$_} } split /,/, ($ids // '');
	note "filtered query $qid: $hits/10 of the exact filtered top 10";
}

# ---- inner product over clusters of very different norms: the heuristic
# keeps pushing small-norm members out of lists, and an insert's back-links
# can push out more than the new node's free places take. Members left over
# now take the place of the new node's own neighbours (LinkDropped in
# include/gigavector/hnsw/hnsw_policy.h). Unreachable nodes after the inserts below (seeds 0.2 to
# 0.6): 36 to 62 of 6000 before, 1 to 5 since. The rest is a known defect
# (the closing note of issue 8 says where to look); the next VACUUM
# reconnects them, and that is demanded.
sub unreachable_count
{
	my ($index) = @_;
	my $check = $node->safe_psql('postgres',
		"SELECT * FROM gigavector.hnsw_check('$index'::regclass)");
	my @other = grep { $_ ne '' && !/not reachable/ } split /\n/, $check;
	return (-1, $check) if @other;
	return ($1, $check) if $check =~ /\((\d+) of \d+ live nodes/;
	my $n = () = $check =~ /is not reachable/g;
	return ($n, $check);
}
# At most 12 unreachable after `what`, and none after the VACUUM that follows.
sub few_unreachable_then_vacuum_clean
{
	my ($what, $clean_name) = @_;
	my ($lost, $check) = unreachable_count('norms_ip_idx');
	note "ip, varied norms, after $what: $lost unreachable";
	ok($lost >= 0 && $lost <= 12,
		"ip, norms 0.1 to 3.1, m 8: at most 12 of 6000 nodes unreachable after $what (got $lost)")
	  or diag $check;
	$node->safe_psql('postgres', 'VACUUM norms');
	is($node->safe_psql('postgres',
			"SELECT * FROM gigavector.hnsw_check('norms_ip_idx'::regclass)"),
		'', $clean_name);
}
$node->safe_psql(
	'postgres', qq{
SELECT setseed(0.2);
CREATE TABLE norm_centers AS
  SELECT c, 0.1 + 3 * random() AS s,
         ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 32) WHERE c > 0) AS a
    FROM generate_series(1, 30) c;
CREATE TABLE norms (id int PRIMARY KEY, v gvector(32) NOT NULL);
INSERT INTO norms
  SELECT i, (SELECT array_agg((ce.s * (ce.a[d] + (random() - 0.5)))::real ORDER BY d)
               FROM generate_series(1, 32) d)::gvector
    FROM generate_series(1, 6000) i JOIN norm_centers ce ON ce.c = 1 + (i * 7) % 30;
CREATE TABLE norms_later AS SELECT * FROM norms WHERE id % 10 < 4;
DELETE FROM norms WHERE id % 10 < 4;
CREATE INDEX norms_ip_idx ON norms USING gv_hnsw (v gvector_ip_ops) WITH (m = 8, ef_construction = 32);
INSERT INTO norms SELECT * FROM norms_later;
});
few_unreachable_then_vacuum_clean('2400 inserts',
	'ip, varied norms: VACUUM reconnects every node the inserts left unreachable');
$node->safe_psql(
	'postgres', q{
DELETE FROM norms WHERE id % 10 >= 6;
VACUUM norms;
INSERT INTO norms SELECT id + 100000, v FROM norms_later;
});
few_unreachable_then_vacuum_clean('delete, VACUUM, re-insert',
	'ip, varied norms: clean after the next VACUUM');

$node->stop;
done_testing();
