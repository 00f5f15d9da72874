#!/usr/bin/env bash
# gigavector.tune's recall / latency curves and the operability views, per data set, on a
# throwaway cluster that preloads the library (shared_preload_libraries = 'gigavector', so the
# shared-memory scan counters exist). For each set: initdb + start as the unprivileged user,
# then bench/tune_curve.py loads items(id int, embedding gvector(d)) and a copy, builds gv_hnsw
# (m 16, ef_construction 64) on one and gv_ivfpq (derived defaults) on the other, runs
# gigavector.tune('<index>', 0.95, 10, 200) on each, gigavector.measure_recall('<index>', 200),
# a load of 2000 kNN queries with the set's query vectors per index, and prints the dashboard,
# index_stats and health views and the tune curves; then the cluster is stopped and removed.
#
#   bash bench/tune_curve.sh                      GloVe-100 and MNIST-784 (../shared/data)
#   bash bench/tune_curve.sh --data ../shared/data/mnist-784     one set (repeat --data for more)
#   bash bench/tune_curve.sh --quick              smoke test: 20k rows, fewer queries
# Other options go to bench/tune_curve.py (e.g. --tune-queries 100, --load-queries 500).
#
# Output per set (name: the directory without '-', e.g. glove100):
#   bench/results/tune_curve_<name>.png   the curves (--quick: bench/out/tune_curve_<name>_quick.png)
#   bench/out/tune_curve_<name>.json      curves, builds, load, measure_recall, the views as rows
#   bench/out/tune_views_<name>.txt       the psql output of the views and the tune curves
# Environment: GV_KEEP_TMP=1 keeps the cluster's directory (and its log) after the run;
# GV_TUNE_PORT=N first port to try (default 54700; Unix socket only).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/lib.sh
source "$repo/scripts/lib.sh"

data_dirs=() py_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --data) [[ $# -ge 2 ]] || gv_die "--data needs a directory"; data_dirs+=("$2"); shift 2 ;;
        --data=*) data_dirs+=("${1#--data=}"); shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) py_args+=("$1"); shift ;;
    esac
done
if [[ ${#data_dirs[@]} -eq 0 ]]; then
    data_dirs=("$repo/../shared/data/glove-100" "$repo/../shared/data/mnist-784")
fi
for d in "${data_dirs[@]}"; do
    [[ -f "$d/base.fvecs" && -f "$d/query.fvecs" ]] || gv_die "$d: no base.fvecs / query.fvecs"
done

# Debian's python3-psycopg2/-numpy/-matplotlib live in the system python (GV_SKIP_INSTALL_DEPS=1 skips)
GV_DEBIAN_PACKAGES=(python3-psycopg2 python3-numpy python3-matplotlib)
gv_install_deps
gv_setup_pguser
[[ -x "$GV_PGBIN/initdb" ]] || gv_die "PostgreSQL $GV_PG_MAJOR is not installed ($GV_PGBIN)"
[[ -f "$("$GV_PG_CONFIG" --pkglibdir)/gigavector.so" ]] ||
    gv_die "gigavector is not installed in $("$GV_PG_CONFIG" --pkglibdir) (make install)"

TMP_ROOT="" PGDATA_DIR=""
trap 'rc=$?; set +e; gv_cleanup_tmp_cluster; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_cluster: a fresh cluster in a new temp directory, preloading gigavector;
# sets TMP_ROOT, PGDATA_DIR and exports the libpq variables
start_cluster() {
    TMP_ROOT="$(mktemp -d "${GV_TMPDIR:-/tmp}/gigavector-tune.XXXXXX")"
    chmod 0755 "$TMP_ROOT"
    mkdir -p "$TMP_ROOT/sock"
    if gv_is_root; then chown -R "$GV_PGUSER:" "$TMP_ROOT"; fi
    chmod 0700 "$TMP_ROOT/sock"
    local port
    port="$(gv_find_free_port "${GV_TUNE_PORT:-54700}")"
    gv_check_socket_path "$TMP_ROOT/sock" "$port"
    PGDATA_DIR="$TMP_ROOT/data"
    gv_pg_init "$PGDATA_DIR"
    # throwaway data: no durability; room for the tables and indexes of MNIST in shared buffers
    gv_pg_configure "$PGDATA_DIR" "$TMP_ROOT/sock" "$port" \
        "shared_preload_libraries = 'gigavector'" "shared_buffers = 1GB" \
        "fsync = off" "synchronous_commit = off" "full_page_writes = off" \
        "maintenance_work_mem = 1GB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
        "log_min_messages = warning"
    gv_pg_start "$PGDATA_DIR" "$TMP_ROOT/postgres.log"
    export PATH="$GV_PGBIN:$PATH" PGHOST="$TMP_ROOT/sock" PGPORT="$port" PGUSER="$GV_PGUSER" PGDATABASE=tune
    unset PGPASSWORD PGSERVICE PGOPTIONS
    psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE tune"
    gv_ok "throwaway cluster up: socket $PGHOST, port $PGPORT, superuser $PGUSER, preloading gigavector"
}

failed=() walls=()
for d in "${data_dirs[@]}"; do
    d="$(cd "$d" && pwd -P)"
    name="$(basename "$d" | tr -d -- '-_')"
    gv_section "tune curve: $name ($d)"
    t0=$SECONDS
    start_cluster
    if /usr/bin/python3 "$repo/bench/tune_curve.py" --data "$d" --name "$name" "${py_args[@]}"; then
        gv_ok "$name: done in $((SECONDS - t0)) s (cluster start to finish)"
    else
        rc=$?
        gv_err "$name: bench/tune_curve.py failed (exit $rc); server log $TMP_ROOT/postgres.log:"
        tail -n 20 "$TMP_ROOT/postgres.log" >&2 || true
        failed+=("$name")
    fi
    gv_cleanup_tmp_cluster
    walls+=("$name $((SECONDS - t0)) s")
done
gv_log "wall time per set: ${walls[*]/%/;}"
if [[ ${#failed[@]} -gt 0 ]]; then
    gv_die "failed: ${failed[*]}"
fi
