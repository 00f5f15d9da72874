#!/usr/bin/env bash
# Exact nearest-neighbour search without an index: rows scanned per second of
#   SELECT id FROM t ORDER BY v <op> $1 LIMIT 10
# over the GloVe base set (100k x 100), for gvector and, when pgvector is
# installed in the same cluster, for pgvector's vector type on the same data,
# interleaved in one run. Single process (no parallel workers), server-side
# timing (clock_timestamp around EXECUTE), median of GV_REPS repetitions.
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE);
# by default the main job's cluster (bash scripts/main.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${GV_DATA:-$repo/../shared/data/glove-100}
reps=${GV_REPS:-5}
nq=${GV_QUERIES:-20}
# shellcheck source=../scripts/lib.sh
source "$repo/scripts/lib.sh"
gv_bench_connection
run_psql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

[ -f "$data/base.fvecs" ] || { echo "no data set at $data" >&2; exit 1; }
run_psql -c "CREATE EXTENSION IF NOT EXISTS gigavector"
have_pgv=$(run_psql -Atc "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
[ "$have_pgv" = 1 ] && run_psql -c "CREATE EXTENSION IF NOT EXISTS vector"

rows=$(run_psql -Atc "SELECT count(*) FROM pg_class WHERE relname = 'bf_gvector'")
if [ "$rows" = 0 ]; then
    echo "loading $data/base.fvecs ..."
    run_psql -c "CREATE TABLE bf_gvector (id int, v gvector)"
    /usr/bin/python3 "$repo/bench/fvecs2copy.py" "$data/base.fvecs" | run_psql -c "\copy bf_gvector FROM STDIN"
    run_psql -c "CREATE TABLE bf_query (id int, v gvector)"
    /usr/bin/python3 "$repo/bench/fvecs2copy.py" "$data/query.fvecs" | run_psql -c "\copy bf_query FROM STDIN"
    run_psql -c "VACUUM ANALYZE bf_gvector"
fi
if [ "$have_pgv" = 1 ] && [ "$(run_psql -Atc "SELECT count(*) FROM pg_class WHERE relname = 'bf_vector'")" = 0 ]; then
    run_psql -c "CREATE TABLE bf_vector AS SELECT id, v::text::vector AS v FROM bf_gvector" \
             -c "VACUUM ANALYZE bf_vector"
fi

# One timed pass: nq queries on table tbl with operator op; prints rows/s.
run_psql <<'SQL'
CREATE OR REPLACE FUNCTION pg_temp_bf_pass(tbl text, op text, nq int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    q record; t0 timestamptz; secs float8; n bigint; qtype text;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I', tbl) INTO n;
    qtype := CASE WHEN tbl = 'bf_vector' THEN 'vector' ELSE 'gvector' END;
    t0 := clock_timestamp();
    FOR q IN SELECT v::text AS v FROM bf_query ORDER BY id LIMIT nq LOOP
        EXECUTE format('SELECT id FROM %I ORDER BY v %s $1::text::%s LIMIT 10', tbl, op, qtype) USING q.v;
    END LOOP;
    secs := extract(epoch FROM clock_timestamp() - t0);
    RETURN n * nq / secs;
END $$;
SQL

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-4s %-10s %14s %14s %8s\n' op simd gvector_rows/s pgvector_rows/s ratio
for op in '<->' '<=>' '<#>' '<+>'; do
    for simd in auto scalar; do
        gv=(); pv=()
        for _ in $(seq 0 "$reps"); do   # first pass warms the cache and is dropped
            gv+=("$(run_psql -Atc "SET max_parallel_workers_per_gather = 0" -c "SET gigavector.simd = $simd" \
                     -c "SELECT round(pg_temp_bf_pass('bf_gvector', '$op', $nq))")")
            if [ "$have_pgv" = 1 ]; then
                pv+=("$(run_psql -Atc "SET max_parallel_workers_per_gather = 0" \
                         -c "SELECT round(pg_temp_bf_pass('bf_vector', '$op', $nq))")")
            fi
        done
        g=$(printf '%s\n' "${gv[@]:1}" | median)
        if [ "$have_pgv" = 1 ]; then
            p=$(printf '%s\n' "${pv[@]:1}" | median)
            printf '%-4s %-10s %14.0f %14.0f %8.2f\n' "$op" "$simd" "$g" "$p" "$(echo "$g / $p" | bc -l)"
        else
            printf '%-4s %-10s %14.0f %14s %8s\n' "$op" "$simd" "$g" "n/a" "n/a"
        fi
    done
done
[ "$have_pgv" = 1 ] || echo "pgvector is not installed in this cluster: no ratio"
