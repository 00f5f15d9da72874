#!/usr/bin/env bash
# IVF-PQ recall / QPS benchmark: GigaVector gv_ivfpq against pgvector ivfflat (same cluster)
# and faiss IVFPQFastScan (4-bit) / IVFPQ (8-bit) with exact refinement (in process). All
# options go to bench/ivfpq_bench.py, e.g.
#   bash bench/ivfpq_bench.sh --quick
#   bash bench/ivfpq_bench.sh --data ../shared/data/mnist-784 --gv-options 'rerank = index'
# Output: a table on stdout, JSON + PNG in bench/out/ (--out, --plot).
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE);
# by default the main job's cluster (bash scripts/main.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/lib.sh
source "$repo/scripts/lib.sh"
gv_bench_connection
# Debian's python3-psycopg2/-faiss/-numpy/-matplotlib live in the system
# python; install the missing ones (GV_SKIP_INSTALL_DEPS=1 skips)
GV_DEBIAN_PACKAGES=(python3-psycopg2 python3-numpy python3-faiss python3-matplotlib)
gv_install_deps
exec /usr/bin/python3 "$repo/bench/ivfpq_bench.py" "$@"
