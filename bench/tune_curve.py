#!/usr/bin/python3
"""gigavector.tune's recall / latency curve for a gv_hnsw and a gv_ivfpq index on one fvecs
data set, then the operability views after a short query load.

    bash bench/tune_curve.sh [--quick] [--data DIR]...   (starts a throwaway cluster per set)
    /usr/bin/python3 bench/tune_curve.py --data DIR [--quick] [--name NAME] ...
                                         (against the cluster of PGHOST/PGPORT/PGUSER/PGDATABASE,
                                          which must preload gigavector)

In order: loads the base vectors into items(id int, embedding gvector(d)) and the same rows
into items_copy (COPY); builds gv_hnsw (m 16, ef_construction 64) on items and gv_ivfpq (its
derived defaults) on items_copy, so each index is alone on its table; runs
gigavector.tune('<index>', 0.95, 10, 200) on each (tune draws its queries from the table,
measures every search setting and keeps the chosen one with ALTER INDEX); then per index a
load of 2000 kNN queries with the set's query vectors (one client, a prepared statement with a
generic plan, EXPLAIN-checked, the index's tuned defaults, recall@10 against the set's ground
truth), and gigavector.measure_recall('<index>', 200); prints what psql shows for the
dashboard, index_stats and health views and each index's tune curve (also to
bench/out/tune_views_<name>.txt); writes the curves as JSON (bench/out/tune_curve_<name>.json)
and plots them (bench/results/tune_curve_<name>.png; --quick: bench/out/..._quick.png).
Numbers, not a test.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_common import (  # noqa: E402
    CopyStream, exact_knn, fvecs_rows, log, pg_connect, pg_exec, pg_one, read_vecs, recall_at_k, vec_text, warn)

DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "glove-100"))
# (key, table, index, access method, WITH clause)
INDEXES = (("hnsw", "items", "items_gv_hnsw", "gv_hnsw", "WITH (m = {m}, ef_construction = {efc})"),
           ("ivfpq", "items_copy", "items_copy_gv_ivfpq", "gv_ivfpq", ""))
VIEW_SQL = (
    "SELECT * FROM gigavector.dashboard;",
    "SELECT indexrelname, access_method, options, live_entries, size_bytes, scans, mean_ms, p50_ms, p95_ms, "
    "p99_ms, recent_qps, last_recall, health FROM gigavector.index_stats;",
    "SELECT * FROM gigavector.health;",
)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="directory with base.fvecs, query.fvecs, groundtruth.ivecs")
    ap.add_argument("--name", help="tag of the outputs (default: the directory name without '-', e.g. glove100)")
    ap.add_argument("--limit", type=int, help="base rows (default all; --quick 20000)")
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--tune-queries", type=int, help="queries of tune (default 200; --quick 50)")
    ap.add_argument("--tune-on", choices=("heldout", "table"), default="heldout",
                    help="tune's queries: the last --tune-queries vectors of the set's query file, which the "
                         "load does not use (default), or rows of the table (tune's source => 'table')")
    ap.add_argument("--load-queries", type=int, help="kNN queries of the load, per index (default 2000; --quick 300)")
    ap.add_argument("--recall-queries", type=int, help="queries of measure_recall (default 200; --quick 50)")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--maintenance-work-mem", default="1GB")
    ap.add_argument("--build-workers", type=int, default=0, help="max_parallel_maintenance_workers (default 0)")
    ap.add_argument("--json", help="default bench/out/tune_curve_<name>[_quick].json")
    ap.add_argument("--plot", help="default bench/results/tune_curve_<name>.png (--quick: bench/out/..._quick.png)")
    ap.add_argument("--views-out", help="default bench/out/tune_views_<name>[_quick].txt")
    ap.add_argument("--quick", action="store_true", help="smoke test: 20k rows, 50 tune queries, 300 load queries")
    ap.add_argument("--replot", metavar="JSON", help="only draw the plot again from a JSON this script wrote (to --plot, default the JSON path with .png)")
    a = ap.parse_args()
    a.limit = a.limit if a.limit is not None else (20000 if a.quick else None)
    a.tune_queries = a.tune_queries or (50 if a.quick else 200)
    a.load_queries = a.load_queries or (300 if a.quick else 2000)
    a.recall_queries = a.recall_queries or (50 if a.quick else 200)
    a.name = a.name or os.path.basename(os.path.normpath(a.data)).replace("-", "").replace("_", "")
    sfx = "_quick" if a.quick else ""
    out = os.path.join(REPO, "bench", "out")
    a.json = a.json or os.path.join(out, f"tune_curve_{a.name}{sfx}.json")
    a.plot_given = a.plot
    a.plot = a.plot or (os.path.join(out, f"tune_curve_{a.name}_quick.png") if a.quick
                        else os.path.join(REPO, "bench", "results", f"tune_curve_{a.name}.png"))
    a.views_out = a.views_out or os.path.join(out, f"tune_views_{a.name}{sfx}.txt")
    return a


def parse_setting(text):
    """'probes = 8, rerank_candidates = 100' -> {'probes': 8, 'rerank_candidates': 100}"""
    return {k: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(\d+)", text or "")}


def rows_dicts(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        names = [c.name for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def provenance():
    """Which build ran: the clone's HEAD (and whether it has changes) and checksums of the installed files."""
    out = {}
    try:
        out["git_head"] = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True,
                                         check=True).stdout.strip()
        out["git_dirty"] = bool(subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                                               capture_output=True, text=True).stdout.strip())
    except Exception as e:
        out["git"] = str(e)
    try:
        pkglib = subprocess.run(["pg_config", "--pkglibdir"], capture_output=True, text=True, check=True).stdout.strip()
        share = subprocess.run(["pg_config", "--sharedir"], capture_output=True, text=True, check=True).stdout.strip()
        for key, path in (("installed_so", os.path.join(pkglib, "gigavector.so")),
                          ("installed_sql", os.path.join(share, "extension", "gigavector--0.1.0.sql"))):
            with open(path, "rb") as f:
                out[key] = {"path": path, "sha256": hashlib.sha256(f.read()).hexdigest()[:16],
                            "mtime": datetime.datetime.fromtimestamp(os.path.getmtime(path)).isoformat(timespec="seconds")}
    except Exception as e:
        out["installed"] = str(e)
    return out


def timed(label, fn, *a):
    t0 = time.perf_counter()
    out = fn(*a)
    secs = time.perf_counter() - t0
    log(f"{label}: {secs:.1f} s")
    return out, secs


def load_tables(conn, base):
    n, d = base.shape
    pg_exec(conn, "DROP TABLE IF EXISTS items, items_copy, tune_curves")
    pg_exec(conn, f"CREATE TABLE items (id int, embedding gvector({d}))")
    with conn.cursor() as cur:
        cur.copy_expert("COPY items (id, embedding) FROM STDIN", CopyStream(base))
    pg_exec(conn, "CREATE TABLE items_copy (LIKE items INCLUDING ALL)")
    pg_exec(conn, "INSERT INTO items_copy SELECT * FROM items")
    pg_exec(conn, "VACUUM ANALYZE items")
    pg_exec(conn, "VACUUM ANALYZE items_copy")
    pg_exec(conn, "CREATE TABLE tune_curves (index_name text, ord int, setting text, recall float8, "
                  "mean_ms float8, p99_ms float8, chosen boolean)")


def build(conn, args, table, index, am, with_clause):
    pg_exec(conn, "SET maintenance_work_mem = %s", (args.maintenance_work_mem,))
    pg_exec(conn, f"SET max_parallel_maintenance_workers = {int(args.build_workers)}")
    sql = (f"CREATE INDEX {index} ON {table} USING {am} (embedding gvector_l2_ops) "
           + with_clause.format(m=args.m, efc=args.ef_construction)).strip()
    log(sql)
    del conn.notices[:]
    t0 = time.perf_counter()
    pg_exec(conn, sql)
    secs = time.perf_counter() - t0
    for note in conn.notices:
        log(f"  server: {note.strip()}")
    stats_fn = "hnsw_stats" if am == "gv_hnsw" else "ivfpq_stats"
    stats = rows_dicts(conn, f"SELECT * FROM gigavector.{stats_fn}(%s)", (index,))[0]
    info = {"sql": sql, "build_seconds": secs, "index_bytes": pg_one(conn, "SELECT pg_relation_size(%s::regclass)",
                                                                    (index,)), "stats": stats}
    log(f"  built in {secs:.1f} s, {info['index_bytes'] / 2**20:.1f} MiB")
    return info


def tune(conn, args, index, heldout):
    del conn.notices[:]
    if args.tune_on == "heldout":
        sql = "SELECT * FROM gigavector.tune(%s, %s, %s, %s, 'table', %s::gvector[])"
        params = (index, args.target_recall, args.k, args.tune_queries,
                  [vec_text(r) for r in heldout.astype(np.float64).tolist()])
    else:
        sql = "SELECT * FROM gigavector.tune(%s, %s, %s, %s)"
        params = (index, args.target_recall, args.k, args.tune_queries)
    t0 = time.perf_counter()
    curve = rows_dicts(conn, sql, params)
    secs = time.perf_counter() - t0
    notices = [n.strip() for n in conn.notices]
    for i, p in enumerate(curve, 1):
        p["ord"] = i
        p.update(parse_setting(p["setting"]))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO tune_curves VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(index, p["ord"], p["setting"], p["recall"], p["mean_ms"], p["p99_ms"], p["chosen"])
                         for p in curve])
    chosen = [p for p in curve if p["chosen"]]
    shown = (f"'{index}'", args.target_recall, args.k, args.tune_queries) + (
        (f"<{len(heldout)} held-out query vectors>",) if args.tune_on == "heldout" else ())
    out = {"sql": sql % shown, "seconds": secs, "tune_on": args.tune_on,
           "points": len(curve), "curve": curve, "chosen": chosen[0] if chosen else None, "notices": notices,
           "reloptions_after": pg_one(conn, "SELECT reloptions::text FROM pg_class WHERE oid = %s::regclass", (index,)),
           "index_tuning": rows_dicts(conn, "SELECT * FROM gigavector.index_tuning WHERE indexrelid = %s::regclass",
                                      (index,))}
    c = out["chosen"]
    log(f"  tune {index}: {len(curve)} settings in {secs:.1f} s; chosen "
        + (f"'{c['setting']}' recall {c['recall']:.4f} mean {c['mean_ms']:.3f} ms p99 {c['p99_ms']:.3f} ms"
           if c else "none") + (f"; notices: {notices}" if notices else ""))
    return out


def knn_load(args, table, index, queries, gt, base):
    """One client, a prepared statement with a generic plan, the index's stored (tuned) settings."""
    conn = pg_connect("tune_curve_load")
    try:
        for s in ("SET jit = off", "SET max_parallel_workers_per_gather = 0",
                  "SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off"):
            pg_exec(conn, s)
        pg_exec(conn, f"PREPARE knn(gvector) AS SELECT id FROM {table} ORDER BY embedding <-> $1 LIMIT {args.k}")
        texts = [vec_text(r) for r in queries.astype(np.float64).tolist()]
        with conn.cursor() as cur:
            cur.execute("EXPLAIN (COSTS OFF) EXECUTE knn(%s)", (texts[0],))
            plan = "\n".join(r[0] for r in cur.fetchall())
        if f"Index Scan using {index}" not in plan:
            raise RuntimeError(f"the load would not use {index}:\n{plan}")
        nq = len(texts)
        lat = np.empty(args.load_queries, dtype=np.int64)
        hits, tie_hits = 0, 0
        # the k-th true distance per query, for the rule tune and measure_recall count hits by
        # (a returned row within the k-th true distance is a hit: ties count)
        b64, q64 = base.astype(np.float64), queries.astype(np.float64)
        kth = np.linalg.norm(b64[gt[:, args.k - 1]] - q64, axis=1)
        cur = conn.cursor()
        clock = time.perf_counter_ns
        t_start = clock()
        got = []
        for i in range(args.load_queries):
            t0 = clock()
            cur.execute("EXECUTE knn(%s)", (texts[i % nq],))
            rows = cur.fetchall()
            lat[i] = clock() - t0
            got.append(rows)
        wall = (clock() - t_start) / 1e9
        cur.close()
        for i, rows in enumerate(got):
            j, ids = i % nq, [r[0] for r in rows][:args.k]
            hits += len(set(ids) & set(gt[j, :args.k].tolist()))
            if ids:
                d = np.linalg.norm(b64[ids] - q64[j], axis=1)
                tie_hits += min(args.k, int(np.sum(d <= kth[j] + 1e-6 * abs(kth[j]) + 1e-9)))
        ms = lat / 1e6
        return {"queries": int(args.load_queries), "distinct_queries": min(nq, args.load_queries), "seconds": wall,
                "qps": args.load_queries / wall, "mean_ms": float(ms.mean()), "p50_ms": float(np.percentile(ms, 50)),
                "p95_ms": float(np.percentile(ms, 95)), "p99_ms": float(np.percentile(ms, 99)),
                "recall_vs_ground_truth": hits / (args.k * args.load_queries),
                "recall_by_distance": tie_hits / (args.k * args.load_queries), "plan": plan}
    finally:
        conn.close()


def psql_views(args, indexes):
    stmts = list(VIEW_SQL) + [
        f"SELECT index_name, ord, setting, round(recall::numeric, 4) AS recall, round(mean_ms::numeric, 3) AS mean_ms, "
        f"round(p99_ms::numeric, 3) AS p99_ms, chosen FROM tune_curves WHERE index_name = '{ix}' ORDER BY ord;"
        for ix in indexes]
    # psql: what the brief's reader would type; -e echoes each statement above its result
    cmd = ["psql", "-X", "-e", "-P", "pager=off", "-v", "ON_ERROR_STOP=1"]
    for s in stmts:
        cmd += ["-c", s]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def plot(path, args, n, d, curves, load):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lines = []  # (label, points, annotation key)
    h = curves["hnsw"]["curve"]
    lines.append((f"gv_hnsw (m {args.m}, ef_construction {args.ef_construction}): ef_search", h, "ef_search"))
    ivf = curves["ivfpq"]["curve"]
    for cand in sorted({p.get("rerank_candidates") for p in ivf}, key=lambda x: (x is None, x)):
        lines.append((f"gv_ivfpq rerank_candidates = {cand}: probes",
                      [p for p in ivf if p.get("rerank_candidates") == cand], "probes"))
    for i, (label, pts, key) in enumerate(lines):
        colour = colours[i % len(colours)]
        marker = "o" if key == "ef_search" else "s"
        ax.plot([p["mean_ms"] for p in pts], [p["recall"] for p in pts], marker=marker, markersize=4,
                label=label, color=colour, linewidth=1.2 if key == "ef_search" else 1)
        for p in pts:
            ax.annotate(str(p.get(key, "")), (p["mean_ms"], p["recall"]), fontsize=5.5, xytext=(3, -7),
                        textcoords="offset points", color=colour)
    for (key, c), colour, mark in zip((("hnsw", "gv_hnsw"), ("ivfpq", "gv_ivfpq")), ("black", "crimson"), "*P"):
        ch = curves[key]["chosen"]
        if not ch:
            continue
        lo = load.get(key, {})
        extra = (f"; load: recall {lo['recall_vs_ground_truth']:.3f} on the set's queries, mean {lo['mean_ms']:.2f} ms"
                 if lo else "")
        ax.scatter([ch["mean_ms"]], [ch["recall"]], marker=mark, s=300, facecolor="none", edgecolor=colour,
                   linewidth=1.4, zorder=5,
                   label=f"{c} chosen: {ch['setting']} (recall {ch['recall']:.3f}, {ch['mean_ms']:.2f} ms){extra}")
    ax.axhline(args.target_recall, color="grey", linestyle="--", linewidth=1,
               label=f"target recall@{args.k} {args.target_recall}")
    ax.set_xscale("log")
    ax.set_xlabel("mean latency per query (ms, as tune measures it: gigavector.index_search in the server)")
    where = "random held-out query vectors" if args.tune_on == "heldout" else "queries drawn from the table"
    ax.set_ylabel(f"recall@{args.k} (tune: {args.tune_queries} {where})")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"gigavector.tune curves: {args.name}, {n} x {d}, L2, target {args.target_recall}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.09), ncol=1, frameon=False, markerscale=0.6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def replot(args):
    with open(args.replot) as f:
        j = json.load(f)
    cfg = j["config"]
    for kk in ("name", "m", "ef_construction", "target_recall", "k", "tune_queries"):
        setattr(args, kk, cfg[kk])
    args.tune_on = cfg.get("tune_on", j["tune"][next(iter(j["tune"]))].get("tune_on", "table"))
    path = args.plot_given or os.path.splitext(args.replot)[0] + ".png"  # default: next to the JSON
    plot(path, args, cfg["rows"], cfg["dim"], j["tune"], j["load"])
    log(f"plot: {path}")
    return 0


def main():
    args = parse_args()
    if args.replot:
        return replot(args)
    t_all = time.perf_counter()
    base_path = os.path.join(args.data, "base.fvecs")
    full_rows = fvecs_rows(base_path)
    base = read_vecs(base_path, np.float32, args.limit)
    queries = read_vecs(os.path.join(args.data, "query.fvecs"), np.float32)
    (n, d), k = base.shape, args.k
    gt_path = os.path.join(args.data, "groundtruth.ivecs")
    if n == full_rows and os.path.isfile(gt_path):
        gt, gt_source = read_vecs(gt_path, np.int32)[:, :k], gt_path
    else:
        log(f"computing exact L2 ground truth for {n} rows x {len(queries)} queries ...")
        gt, gt_source = exact_knn(base, queries, k, "l2"), "computed (numpy, float64)"
    log(f"data {args.name}: {args.data}: {n} x {d} (of {full_rows}), {len(queries)} query vectors, "
        f"truth {gt_source}")

    conn = pg_connect("tune_curve")
    env = {"postgres": pg_one(conn, "SELECT version()"), "cpus": os.cpu_count(), "loadavg_start": os.getloadavg(),
           "build": provenance()}
    pg_exec(conn, "SET client_min_messages = warning")
    pg_exec(conn, "CREATE EXTENSION IF NOT EXISTS gigavector")
    pg_exec(conn, "SET client_min_messages = notice")
    env["shared_preload_libraries"] = pg_one(conn, "SHOW shared_preload_libraries")
    env["counters_available"] = pg_one(conn, "SELECT gigavector.counters_available()")
    env["simd_info"] = pg_one(conn, "SELECT gigavector.simd_info()::text")
    env["extversion"] = pg_one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'gigavector'")
    if not env["counters_available"]:
        sys.exit("gigavector.counters_available() is false: the cluster must run with "
                 "shared_preload_libraries = 'gigavector' (bash bench/tune_curve.sh starts one)")
    phases = {}

    log(f"loading items and items_copy ({n} x {d}) ...")
    _, phases["load_tables"] = timed("load", load_tables, conn, base)

    builds = {}
    for key, table, index, am, with_clause in INDEXES:
        builds[key] = build(conn, args, table, index, am, with_clause)
        phases[f"build_{key}"] = builds[key]["build_seconds"]

    # tune's held-out queries: a random tune_queries of the set's query
    # vectors (a slice of the file is not a fair sample: GloVe's last 200 are
    # easier than the rest), the load takes the others
    order = np.random.default_rng(7).permutation(len(queries))
    heldout = np.sort(order[:args.tune_queries]) if args.tune_on == "heldout" else order[:0]
    load_rows = np.sort(order[len(heldout):])
    curves = {}
    for key, _, index, _, _ in INDEXES:
        log(f"SELECT * FROM gigavector.tune('{index}', {args.target_recall}, {k}, {args.tune_queries})")
        curves[key] = tune(conn, args, index, queries[heldout])
        phases[f"tune_{key}"] = curves[key]["seconds"]

    load, recall = {}, {}
    # recall first, the query load last: recent_qps is the last minute's rate
    for key, _, index, _, _ in INDEXES:
        sql = f"SELECT * FROM gigavector.measure_recall('{index}', {args.recall_queries})"
        rows, phases[f"measure_recall_{key}"] = timed(sql, rows_dicts, conn, sql)
        recall[key] = dict(rows[0], sql=sql)
        log(f"  recall@{recall[key]['k']} {recall[key]['recall']:.4f} at '{recall[key]['settings']}', "
            f"mean {recall[key]['mean_ms']:.3f} ms")

    for key, table, index, _, _ in INDEXES:
        # with held-out tuning, the load uses the other query vectors only
        load[key], phases[f"load_{key}"] = timed(f"{args.load_queries} kNN queries on {index}", knn_load,
                                                 args, table, index, queries[load_rows], gt[load_rows], base)
        lo = load[key]
        log(f"  {lo['qps']:.0f} QPS, mean {lo['mean_ms']:.3f} ms, p50 {lo['p50_ms']:.3f}, p99 {lo['p99_ms']:.3f}; "
            f"recall@{k} {lo['recall_vs_ground_truth']:.4f} on the set's query vectors (ground-truth ids; "
            f"{lo['recall_by_distance']:.4f} counting ties as tune does)")
    views_text = psql_views(args, [ix for _, _, ix, _, _ in INDEXES])
    header = (f"-- bench/tune_curve.sh: {args.name} ({n} x {d}), after tune, measure_recall ({args.recall_queries} "
              f"queries) and {args.load_queries} kNN queries per index; {datetime.datetime.now().isoformat(timespec='seconds')}\n")
    print("\n" + header + views_text, flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.views_out)), exist_ok=True)
    with open(args.views_out, "w") as f:
        f.write(header + views_text)
    log(f"views: {args.views_out}")
    views = {name: rows_dicts(conn, sql.rstrip(";")) for name, sql in zip(("dashboard", "index_stats", "health"),
                                                                          VIEW_SQL)}
    views["index_stats_all_columns"] = rows_dicts(conn, "SELECT * FROM gigavector.index_stats")
    env["loadavg_end"] = os.getloadavg()
    after = provenance()
    changed = [kk for kk in ("installed_so", "installed_sql")
               if (after.get(kk) or {}).get("sha256") != (env["build"].get(kk) or {}).get("sha256")]
    if changed:
        env["build_changed_during_run"] = after
        warn("a make install elsewhere replaced " + " and ".join(changed) + " during the run"
             + (": the server keeps the library it preloaded at its start (the sha256 above)" if changed == ["installed_so"]
                else ": the extension's SQL may not match what ran"))

    tuned_on = "random held-out query vectors" if args.tune_on == "heldout" else "table rows"
    print(f"\nSUMMARY {args.name}: {n} x {d}; target recall@{k} {args.target_recall}, tune on {args.tune_queries} "
          f"{tuned_on}; load {args.load_queries} queries of the set's other {len(load_rows)}")
    print(f"{'index':<22} {'build s':>7} {'MiB':>7} {'tune s':>7} {'pts':>4}  {'chosen setting':<34} {'recall':>7} "
          f"{'mean ms':>8} | {'load recall':>11} {'(ties)':>7} {'load ms':>8} {'QPS':>6} | {'measure_recall':>14}")
    for key, _, index, _, _ in INDEXES:
        b, c, lo, r = builds[key], curves[key], load[key], recall[key]
        ch = c["chosen"] or {"setting": "-", "recall": float("nan"), "mean_ms": float("nan")}
        print(f"{index:<22} {b['build_seconds']:>7.1f} {b['index_bytes'] / 2**20:>7.1f} {c['seconds']:>7.1f} "
              f"{c['points']:>4}  {ch['setting']:<34} {ch['recall']:>7.4f} {ch['mean_ms']:>8.3f} | "
              f"{lo['recall_vs_ground_truth']:>11.4f} {lo['recall_by_distance']:>7.4f} {lo['mean_ms']:>8.3f} {lo['qps']:>6.0f} | {r['recall']:>14.4f}")
    phases["total"] = time.perf_counter() - t_all
    print("phases (s): " + ", ".join(f"{p} {s:.1f}" for p, s in phases.items()))
    b = env["build"]
    print(f"load average {env['loadavg_start'][0]:.2f} at the start, {env['loadavg_end'][0]:.2f} at the end "
          f"({env['cpus']} CPUs); simd {env['simd_info']}; clone {b.get('git_head', '?')[:10]}"
          f"{' (with changes)' if b.get('git_dirty') else ''}, installed gigavector.so "
          f"{b.get('installed_so', {}).get('sha256', '?')} of {b.get('installed_so', {}).get('mtime', '?')}")

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    cfg = {kk: v for kk, v in vars(args).items() if isinstance(v, (str, int, float, bool, type(None)))}
    with open(args.json, "w") as f:
        json.dump({"benchmark": "tune_curve", "timestamp": datetime.datetime.now().isoformat(timespec="seconds"),
                   "config": dict(cfg, rows=n, dim=d, ground_truth=gt_source), "environment": env, "builds": builds,
                   "tune": curves, "load": load, "measure_recall": recall, "views": views, "phase_seconds": phases},
                  f, indent=1, default=str)
    log(f"JSON: {args.json}")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
        plot(args.plot, args, n, d, curves, load)
        log(f"plot: {args.plot}")
    except ImportError as e:
        warn(f"no plot (matplotlib missing: {e})")
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
