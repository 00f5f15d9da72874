#!/usr/bin/env bash
# HNSW recall / QPS benchmark: GigaVector gv_hnsw against pgvector hnsw (same cluster),
# hnswlib and faiss (in process). All options go to bench/hnsw_bench.py, e.g.
#   bash bench/hnsw_bench.sh --quick
#   bash bench/hnsw_bench.sh --metric cosine --engines gv,pgv
# Output: a table on stdout, JSON + PNG in bench/out/.
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
GV_DEBIAN_PACKAGES=(python3-psycopg2 python3-numpy python3-hnswlib python3-faiss python3-matplotlib)
gv_install_deps
exec /usr/bin/python3 "$repo/bench/hnsw_bench.py" "$@"
