#!/usr/bin/env python3
"""gv_hnsw under churn: delete a fraction of the rows, VACUUM, re-insert them.

On one data set (default ../shared/data/glove-100, L2) it builds a gv_hnsw index,
measures recall@10 over the queries at a few ef_search values, then deletes
--fraction of the rows, times VACUUM (against the CREATE INDEX time: VACUUM
should cost in proportion to the work, not a rebuild), re-inserts the rows,
measures recall again, and compares with a fresh REINDEX. It also prints the
index size and the meta-page counters (freed and reused slots, repaired lists).

Connection and dependencies as bench/hnsw_bench.py. Numbers, not a test.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hnsw_bench as hb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=hb.DEFAULT_DATA)
    ap.add_argument("--metric", choices=sorted(hb.METRICS), default="l2")
    ap.add_argument("--limit", type=int, help="base rows (default all)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--fraction", type=float, default=0.3, help="share of rows deleted and re-inserted")
    ap.add_argument("--ef", default="40,80,160,320")
    ap.add_argument("--out", default=os.path.join(hb.REPO, "bench", "out", "churn.json"))
    args = ap.parse_args()
    op, opclass, _, _, gt_file = hb.METRICS[args.metric]
    args.base_path = os.path.join(args.data, "base.fvecs")
    base = hb.read_vecs(args.base_path, "<f4", args.limit)
    queries = hb.read_vecs(os.path.join(args.data, "query.fvecs"), "<f4", args.queries)
    n, d = base.shape
    if args.limit is None and os.path.exists(os.path.join(args.data, gt_file)):
        truth = hb.read_vecs(os.path.join(args.data, gt_file), "<i4", args.queries)[:, :10]
    else:
        truth = hb.exact_knn(base, queries, 10, args.metric)
    efs = [int(x) for x in args.ef.split(",")]

    conn = hb.pg_connect("churn_bench")
    hb.pg_exec(conn, "CREATE EXTENSION IF NOT EXISTS gigavector")
    table = "churn_items"
    hb.ensure_table(conn, table, "gvector", base, hb.table_tag(args, n, d) + " churn")
    hb.pg_exec(conn, "SET maintenance_work_mem = '1GB'")
    hb.pg_exec(conn, "SET max_parallel_maintenance_workers = 1")
    hb.pg_exec(conn, "SET enable_seqscan = off")
    hb.pg_exec(conn, "SET jit = off")
    idx = f"{table}_idx"
    stmts = [f"EXECUTE q('{hb.vec_text(q)}')" for q in queries]

    def recall_per_ef():
        out = {}
        hb.pg_exec(conn, "DEALLOCATE ALL")
        hb.pg_exec(conn, f"PREPARE q(gvector) AS SELECT id FROM {table} ORDER BY v {op} $1 LIMIT 10")
        cur = conn.cursor()
        for ef in efs:
            hb.pg_exec(conn, f"SET gigavector.hnsw_ef_search = {ef}")
            hits = 0
            for i, s in enumerate(stmts):
                cur.execute(s)
                hits += len(set(r[0] for r in cur.fetchall()) & set(int(x) for x in truth[i]))
            out[ef] = hits / (10.0 * len(stmts))
        cur.close()
        return out

    def stats():
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM gigavector.hnsw_stats('{idx}')")
            cols = [c.name for c in cur.description]
            return dict(zip(cols, cur.fetchone()))

    def timed(sql):
        t0 = time.perf_counter()
        hb.pg_exec(conn, sql)
        return time.perf_counter() - t0

    hb.pg_exec(conn, f"DROP INDEX IF EXISTS {idx}")
    res = {"data": args.data, "rows": n, "dim": d, "metric": args.metric, "fraction": args.fraction}
    res["build_s"] = timed(f"CREATE INDEX {idx} ON {table} USING gv_hnsw (v {opclass})")
    res["size_built"] = hb.pg_one(conn, f"SELECT pg_relation_size('{idx}')")
    res["recall_built"] = recall_per_ef()
    hb.log(f"built in {res['build_s']:.1f} s, {res['size_built'] / 2**20:.1f} MiB, recall {res['recall_built']}")

    every = max(2, round(1 / args.fraction))
    hb.pg_exec(conn, "DROP TABLE IF EXISTS churn_saved")
    hb.pg_exec(conn, f"CREATE TABLE churn_saved AS SELECT * FROM {table} WHERE id % {every} = 0")
    res["deleted"] = hb.pg_one(conn, "SELECT count(*) FROM churn_saved")
    hb.pg_exec(conn, f"DELETE FROM {table} WHERE id % {every} = 0")
    res["vacuum_s"] = timed(f"VACUUM {table}")
    res["stats_after_vacuum"] = stats()
    res["recall_after_vacuum"] = recall_per_ef()
    hb.log(f"deleted {res['deleted']}, VACUUM {res['vacuum_s']:.1f} s, recall {res['recall_after_vacuum']}")
    res["reinsert_s"] = timed(f"INSERT INTO {table} SELECT * FROM churn_saved")
    res["size_churned"] = hb.pg_one(conn, f"SELECT pg_relation_size('{idx}')")
    res["stats_after_reinsert"] = stats()
    res["recall_churned"] = recall_per_ef()
    hb.log(f"re-inserted in {res['reinsert_s']:.1f} s, recall {res['recall_churned']}")
    res["reindex_s"] = timed(f"REINDEX INDEX {idx}")
    res["size_reindexed"] = hb.pg_one(conn, f"SELECT pg_relation_size('{idx}')")
    res["recall_reindexed"] = recall_per_ef()

    print(f"\n{n} x {d} {args.metric}; deleted and re-inserted {res['deleted']} rows ({args.fraction:.0%})")
    print(f"CREATE INDEX {res['build_s']:.1f} s | VACUUM {res['vacuum_s']:.1f} s "
          f"({res['vacuum_s'] / res['build_s']:.2f}x build) | re-insert {res['reinsert_s']:.1f} s "
          f"| REINDEX {res['reindex_s']:.1f} s")
    print(f"index MiB: built {res['size_built'] / 2**20:.1f}, churned {res['size_churned'] / 2**20:.1f}, "
          f"reindexed {res['size_reindexed'] / 2**20:.1f}")
    s = res["stats_after_reinsert"]
    print(f"slots: {s['nodes']} nodes, {s['free_slots']} free, {s['reused']} reused, "
          f"{s['repaired']} lists repaired")
    print(f"{'ef':>5} {'built':>7} {'vacuumed':>9} {'churned':>8} {'reindex':>8} {'churned-reindex':>16}")
    for ef in efs:
        b, v, c, r = (res[k][ef] for k in ("recall_built", "recall_after_vacuum", "recall_churned", "recall_reindexed"))
        print(f"{ef:>5} {b:>7.4f} {v:>9.4f} {c:>8.4f} {r:>8.4f} {c - r:>+16.4f}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=2, default=str)
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()
