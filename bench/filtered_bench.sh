#!/usr/bin/env bash
# Filtered kNN benchmark (bench/filtered_bench.py): gv_hnsw against pgvector with and
# without hnsw.iterative_scan at several selectivities. Options go to the .py, e.g.
#   bash bench/filtered_bench.sh --selectivity 0.1,0.01,0.001
#   bash bench/filtered_bench.sh --queries 100
# Output: a table on stdout.
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE);
# by default the main job's cluster (bash scripts/main.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/lib.sh
source "$repo/scripts/lib.sh"
gv_bench_connection
# Debian's python3-psycopg2/-hnswlib/-faiss/-numpy/-matplotlib live in the
# system python; install the missing ones (GV_SKIP_INSTALL_DEPS=1 skips)
GV_DEBIAN_PACKAGES=(python3-psycopg2 python3-numpy)
gv_install_deps
exec /usr/bin/python3 "$repo/bench/filtered_bench.py" "$@"
