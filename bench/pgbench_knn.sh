#!/usr/bin/env bash
# Concurrent kNN throughput and single-row insert rate, gv_hnsw against pgvector's
# hnsw, with pgbench, on the tables bench/hnsw_bench.py loads (bench_gv, bench_pgv:
# run it first, with --keep-indexes or not: missing indexes are built here).
#
#   bash bench/pgbench_knn.sh [--clients 1,2,8] [--seconds 20] [--gv-ef 0] [--pgv-ef 240]
#                             [--insert-seconds 20] [--data DIR]
#
# kNN: prepared statements (-M prepared), each transaction one query
#   SELECT id FROM <table> ORDER BY v <-> (SELECT v FROM <queries> WHERE qid = :qid) LIMIT 10
# with :qid random over the data set's queries; ef_search as given (gv 0: the index's
# calibrated default; pgvector: the ef that reaches recall@10 0.95 in hnsw_bench).
# Inserts: a copy of each table with its index, then one client inserting one row per
# transaction (copies of the query vectors) for --insert-seconds; rows per second.
# Connection: as bench/hnsw_bench.sh (by default the main job's cluster). Numbers only.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/lib.sh
source "$repo/scripts/lib.sh"
gv_bench_connection
clients=1,2,8 seconds=20 gv_ef=0 pgv_ef=240 insert_seconds=20
data="$repo/../shared/data/glove-100"
while [ $# -gt 0 ]; do
    case "$1" in
        --clients) clients=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --gv-ef) gv_ef=$2; shift 2 ;;
        --pgv-ef) pgv_ef=$2; shift 2 ;;
        --insert-seconds) insert_seconds=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# the query vectors, in both types (text of the exact float values)
/usr/bin/python3 - "$data/query.fvecs" > "$work/queries.tsv" <<'EOF'
import sys, numpy as np
a = np.fromfile(sys.argv[1], np.int32); d = a[0]
x = a.reshape(-1, d + 1)[:, 1:].copy().view(np.float32)
for i, row in enumerate(x):
    print(f"{i + 1}\t[" + ",".join(repr(float(v)) for v in row) + "]")
EOF
nq=$(wc -l < "$work/queries.tsv")
dim=$(q -c "SELECT vector_dims(v) FROM bench_gv LIMIT 1")
q <<EOF
DROP TABLE IF EXISTS bench_q_gv, bench_q_pgv;
CREATE TABLE bench_q_gv (qid int PRIMARY KEY, v gvector($dim));
CREATE TABLE bench_q_pgv (qid int PRIMARY KEY, v vector($dim));
\\copy bench_q_gv FROM '$work/queries.tsv'
\\copy bench_q_pgv FROM '$work/queries.tsv'
SET maintenance_work_mem = '1GB';
CREATE INDEX IF NOT EXISTS bench_gv_hnsw_idx ON bench_gv USING gv_hnsw (v gvector_l2_ops);
CREATE INDEX IF NOT EXISTS bench_pgv_hnsw_idx ON bench_pgv USING hnsw (v vector_l2_ops)
  WITH (m = 16, ef_construction = 64);
EOF

run() { # run NAME CLIENTS SCRIPT SECONDS SETTINGS -> prints tps
    local name=$1 c=$2 script=$3 secs=$4 settings=$5
    PGOPTIONS="$settings" pgbench -n -M prepared -c "$c" -j 2 -T "$secs" -f "$script" 2>&1 |
        awk -v n="$name" -v c="$c" '/^tps/ {printf "%-30s clients %2d  %8.0f tps\n", n, c, $3}'
}

for e in gv pgv; do
    cat > "$work/knn_$e.sql" <<EOF
\\set qid random(1, $nq)
SELECT id FROM bench_$e ORDER BY v <-> (SELECT v FROM bench_q_$e WHERE qid = :qid) LIMIT 10;
EOF
done
echo "kNN, LIMIT 10, prepared, ${seconds} s per point (gv ef_search $gv_ef, pgvector ef_search $pgv_ef)"
for c in ${clients//,/ }; do
    run "gv_hnsw" "$c" "$work/knn_gv.sql" "$seconds" "-c gigavector.hnsw_ef_search=$gv_ef"
    run "pgvector hnsw" "$c" "$work/knn_pgv.sql" "$seconds" "-c hnsw.ef_search=$pgv_ef"
done

echo "single-row INSERT into an indexed copy of the table, 1 client, ${insert_seconds} s"
echo "(each row new: the midpoint of a random table row and a random query vector)"
for e in gv pgv; do
    am=gv_hnsw ops=gvector_l2_ops with="" typ=gvector
    [ $e = pgv ] && am=hnsw ops=vector_l2_ops with="WITH (m = 16, ef_construction = 64)" typ=vector
    q <<EOF
DROP TABLE IF EXISTS bench_ins_$e, bench_src_$e, bench_half_$e;
CREATE TABLE bench_ins_$e AS SELECT * FROM bench_$e;
CREATE TABLE bench_src_$e (id int PRIMARY KEY, v $typ($dim));
INSERT INTO bench_src_$e SELECT * FROM bench_$e;
CREATE TABLE bench_half_$e AS SELECT array_fill(0.5::real, ARRAY[$dim])::$typ($dim) AS v;
SET maintenance_work_mem = '1GB';
CREATE INDEX bench_ins_${e}_idx ON bench_ins_$e USING $am (v $ops) $with;
VACUUM ANALYZE bench_ins_$e, bench_src_$e, bench_half_$e;
EOF
    n=$(q -c "SELECT count(*) FROM bench_src_$e")
    cat > "$work/ins_$e.sql" <<EOF
\\set i random(0, $((n - 1)))
\\set j random(1, $nq)
INSERT INTO bench_ins_$e (id, v)
  SELECT -1, (b.v + q.v) * h.v FROM bench_src_$e b, bench_q_$e q, bench_half_$e h
   WHERE b.id = :i AND q.qid = :j;
EOF
    run "$e insert" 1 "$work/ins_$e.sql" "$insert_seconds" ""
    q -c "DROP TABLE bench_ins_$e, bench_src_$e, bench_half_$e"
done
