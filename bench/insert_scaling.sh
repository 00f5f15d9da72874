#!/usr/bin/env bash
# Insert cost as an HNSW index grows: builds an index on INITIAL random rows,
# then inserts BATCHES batches of BATCH rows and prints the seconds each batch
# took, for gv_hnsw and (when installed in the cluster) pgvector's hnsw, on
# the same rows. A cost per insert that grows no faster than log(n) shows as
# batch times that level off.
#
#   bash bench/insert_scaling.sh [--dim 64] [--m 100] [--ef-construction 200]
#                                [--initial 4000] [--batch 100] [--batches 30]
#                                [--engines gv,pgv]
#
# Connection: the usual libpq variables; by default the main job's cluster
# (bash scripts/main.sh). Works in database gv_insert_scaling (re-created).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/lib.sh
source "$repo/scripts/lib.sh"
gv_bench_connection --no-database

dim=64 m=100 efc=200 initial=4000 batch=100 batches=30 engines=gv,pgv
while [ $# -gt 0 ]; do
    case "$1" in
        --dim) dim=$2; shift ;;
        --m) m=$2; shift ;;
        --ef-construction) efc=$2; shift ;;
        --initial) initial=$2; shift ;;
        --batch) batch=$2; shift ;;
        --batches) batches=$2; shift ;;
        --engines) engines=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

db=gv_insert_scaling
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
q -c "CREATE EXTENSION gigavector"
have_pgv=$(q -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
[ "$have_pgv" = 1 ] && q -c "CREATE EXTENSION vector"

# The rows, once, as real[]: every engine indexes the same vectors.
q -c "SELECT setseed(0.3)" -c "CREATE TABLE src (id int, a real[])" -c "
INSERT INTO src SELECT i, ARRAY(SELECT random()::real FROM generate_series(1, $dim) WHERE i > 0)
  FROM generate_series(1, $initial + $batch * $batches) i"

echo "dim $dim, m $m, ef_construction $efc; built on $initial rows, then $batches batches of $batch inserts (seconds per batch)"
for e in ${engines//,/ }; do
    case $e in
        gv) typ=gvector am=gv_hnsw ops=gvector_l2_ops ;;
        pgv) [ "$have_pgv" = 1 ] || { echo "pgv: pgvector is not installed in this cluster"; continue; }
             typ=vector am=hnsw ops=vector_l2_ops ;;
        *) echo "unknown engine $e" >&2; exit 2 ;;
    esac
    q -c "DROP TABLE IF EXISTS t_$e" -c "CREATE TABLE t_$e (id int, v $typ($dim))" \
      -c "INSERT INTO t_$e SELECT id, a::$typ FROM src WHERE id <= $initial" \
      -c "SET maintenance_work_mem = '1GB'" \
      -c "CREATE INDEX ON t_$e USING $am (v $ops) WITH (m = $m, ef_construction = $efc)"
    times=()
    for b in $(seq 0 $((batches - 1))); do
        lo=$((initial + b * batch)) hi=$((initial + (b + 1) * batch))
        t0=$(date +%s.%N)
        q -c "INSERT INTO t_$e SELECT id, a::$typ FROM src WHERE id > $lo AND id <= $hi ORDER BY id"
        t1=$(date +%s.%N)
        times+=("$(printf '%.2f' "$(echo "$t1 - $t0" | bc)")")
    done
    echo "$e: ${times[*]}"
done
