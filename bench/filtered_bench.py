#!/usr/bin/python3
"""Filtered kNN benchmark: WHERE id % N = 0 ORDER BY v <op> $1 LIMIT k at several
selectivities, GigaVector gv_hnsw (defaults) against pgvector hnsw without and with
hnsw.iterative_scan (relaxed_order, strict_order), in one PostgreSQL cluster.

    /usr/bin/python3 bench/filtered_bench.py [--data DIR] [--selectivity 0.1,0.01,0.001]
    bash bench/filtered_bench.sh ...          (same, with the main job's connection defaults)

For each selectivity and engine it reports the plan the planner chose (index scan or not:
no setting forces the index, as a user would run it), recall@k against the exact answer
among the rows that pass the filter, rows returned per query (a scan that stops early
returns fewer than k), median QPS over the repetitions and p50/p99 latency.

Tables bench_gv / bench_pgv are those of bench/hnsw_bench.py (loaded the same way and
reused when they hold the same data); the indexes are built if missing and kept.
Numbers, not a test.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as hb  # noqa: E402  (data loading and connection helpers)

DEFAULT_DATA = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "glove-100"))

ENGINES = {
    # key: (table, type, access method, opclass, session settings)
    "gv": ("bench_gv", "gvector", "gv_hnsw", "gvector_l2_ops", []),
    "pgv": ("bench_pgv", "vector", "hnsw", "vector_l2_ops", ["SET hnsw.iterative_scan = off"]),
    "pgv_relaxed": ("bench_pgv", "vector", "hnsw", "vector_l2_ops", ["SET hnsw.iterative_scan = relaxed_order"]),
    "pgv_strict": ("bench_pgv", "vector", "hnsw", "vector_l2_ops", ["SET hnsw.iterative_scan = strict_order"]),
}
LABEL = {
    "gv": "gv_hnsw (defaults)",
    "pgv": "pgvector (iterative off)",
    "pgv_relaxed": "pgvector relaxed_order",
    "pgv_strict": "pgvector strict_order",
}


def filtered_truth(base, queries, k, modulus):
    """Exact top-k ids by L2 among the rows whose id % modulus == 0."""
    ids = np.arange(0, len(base), modulus)
    sub = base[ids].astype(np.float64)
    sn = np.einsum("ij,ij->i", sub, sub)
    out = []
    for q in queries.astype(np.float64):
        d = sn - 2.0 * (sub @ q)
        top = np.argsort(d, kind="stable")[:k]
        out.append(ids[top])
    return out


def ensure_index(conn, table, am, opclass, opts):
    name = f"{table}_filt_idx"
    if hb.pg_one(conn, "SELECT to_regclass(%s) IS NOT NULL", (name,)):
        return name, None
    hb.pg_exec(conn, "SET maintenance_work_mem = '1GB'")
    t0 = time.perf_counter()
    hb.pg_exec(conn, f"CREATE INDEX {name} ON {table} USING {am} (v {opclass}){opts}")
    return name, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--selectivity", default="0.1,0.01,0.001")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--engines", default=",".join(ENGINES))
    args = ap.parse_args()
    args.base_path = os.path.join(args.data, "base.fvecs")
    base = hb.read_vecs(args.base_path, np.float32)
    queries = hb.read_vecs(os.path.join(args.data, "query.fvecs"), np.float32, args.queries)
    n, d = base.shape
    tag = hb.table_tag(args, n, d)
    conn = hb.pg_connect("filtered_bench")
    engines = args.engines.split(",")
    for key in engines:
        table, typ, am, opclass, _ = ENGINES[key]
        hb.ensure_table(conn, table, typ, base, tag)
        opts = " WITH (m = 16, ef_construction = 64)" if am == "hnsw" else ""
        name, secs = ensure_index(conn, table, am, opclass, opts)
        if secs is not None:
            hb.log(f"{name}: built in {secs:.1f} s")
    qtexts = [hb.vec_text(q.astype(np.float64).tolist()) for q in queries]
    rows = []
    for sel in [float(s) for s in args.selectivity.split(",")]:
        modulus = max(1, round(1 / sel))
        truth = filtered_truth(base, queries, args.k, modulus)
        for key in engines:
            table, typ, _, _, settings = ENGINES[key]
            c = hb.pg_connect(f"filtered_bench_{key}")
            hb.pg_exec(c, f"SELECT '[1]'::{typ}")  # loads the module: its settings exist
            for s in settings + ["SET jit = off", "SET max_parallel_workers_per_gather = 0"]:
                hb.pg_exec(c, s)
            hb.pg_exec(c, f"PREPARE q({typ}) AS SELECT id FROM {table} WHERE id % {modulus} = 0 "
                          f"ORDER BY v <-> $1 LIMIT {args.k}")
            with c.cursor() as cur:
                cur.execute(f"EXPLAIN (COSTS OFF) EXECUTE q('{qtexts[0]}')")
                plan = " ".join(r[0].strip() for r in cur.fetchall())
            scan = "index" if f"{table}_filt_idx" in plan else ("seq" if "Seq Scan" in plan else "other")
            walls, lat, got = [], [], None
            for _ in range(args.reps):
                res = []
                cur = c.cursor()
                t_start = time.perf_counter()
                for t in qtexts:
                    t0 = time.perf_counter_ns()
                    cur.execute(f"EXECUTE q('{t}')")
                    res.append([r[0] for r in cur.fetchall()])
                    lat.append(time.perf_counter_ns() - t0)
                walls.append(time.perf_counter() - t_start)
                cur.close()
                got = res
            c.close()
            recall = float(np.mean([len(set(g[: args.k]) & set(t.tolist())) / args.k for g, t in zip(got, truth)]))
            returned = float(np.mean([len(g) for g in got]))
            lat_ms = np.array(lat) / 1e6
            rows.append({
                "selectivity": sel, "engine": key, "plan": scan, "recall": recall, "rows": returned,
                "qps": statistics.median(len(qtexts) / w for w in walls),
                "p50_ms": float(np.percentile(lat_ms, 50)), "p99_ms": float(np.percentile(lat_ms, 99)),
            })
            r = rows[-1]
            hb.log(f"sel {sel} {key}: plan {scan}, recall {recall:.4f}, rows {returned:.1f}, QPS {r['qps']:.0f}")
    print()
    print(f"{'selectivity':>11} {'engine':<26} {'plan':<6} {'recall@' + str(args.k):>9} {'rows/q':>7} "
          f"{'QPS':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        print(f"{r['selectivity']:>11} {LABEL[r['engine']]:<26} {r['plan']:<6} {r['recall']:>9.4f} "
              f"{r['rows']:>7.1f} {r['qps']:>8.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
