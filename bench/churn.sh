#!/usr/bin/env bash
# gv_hnsw churn benchmark (delete a share of rows, VACUUM, re-insert; recall and
# VACUUM time against a fresh build). Options go to bench/churn.py, e.g.
#   bash bench/churn.sh --fraction 0.3
# Connection: as bench/hnsw_bench.sh (by default the main job's cluster).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/lib.sh
source "$repo/scripts/lib.sh"
gv_bench_connection
GV_DEBIAN_PACKAGES=(python3-psycopg2 python3-numpy)
gv_install_deps
exec /usr/bin/python3 "$repo/bench/churn.py" "$@"
