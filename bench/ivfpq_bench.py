#!/usr/bin/python3
"""IVF-PQ benchmark: recall@k against queries per second for GigaVector's gv_ivfpq, pgvector's
ivfflat (same cluster) and faiss IndexIVFPQFastScan (4-bit) / IndexIVFPQ (8-bit), each in an
IndexRefineFlat (in process), on the same data and the same number of lists.

    /usr/bin/python3 bench/ivfpq_bench.py [--quick] [--metric l2|cosine] [--engines gv,pgv,faiss]
        [--data DIR] [--limit N] [--queries N] [--reps N] [--gv-options 'rerank = index']
        [--gv-simd avx2|avx512] [--out FILE.json] [--plot FILE.png]
    bash bench/ivfpq_bench.sh ...             (same, with the main job's connection defaults)

In order: reads the fvecs data (ground truth recomputed exactly when --limit cuts the base);
loads bench_gv / bench_pgv through COPY (shared with bench/hnsw_bench.py, reused when they
hold the same data); builds gv_ivfpq with its own defaults (plus --gv-options), then ivfflat
and faiss with the lists (and faiss with the subvectors) gv_ivfpq chose, faiss trained on as
many rows as gv_ivfpq; prewarms and warms up; sweeps, per repetition (engine order rotated),
gv_ivfpq over probes x rerank_candidates (gigavector.ivfpq_probes / _rerank_candidates),
ivfflat over ivfflat.probes, faiss over nprobe x k_factor (= rerank / k), one client, one
query at a time (prepared statements with a generic plan, EXPLAIN-checked; enable_seqscan =
off unless --planner-choice); measures gv_ivfpq at its defaults (no GUC set); prints every
point, the per-engine summary (build, size, best QPS at recall >= --target-recall) and the
ratios; writes JSON and a recall/QPS plot. Numbers, not a test.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_common import (  # noqa: E402
    client_overhead, ensure_table, exact_knn, fvecs_rows, log, pg_connect, pg_exec, pg_one, read_vecs,
    recall_at_k, table_tag, vec_text, warn)
from hnsw_bench import (  # noqa: E402
    EngineSkipped, FaissEngine, IndexNotUsed, PgEngine, fmt_bytes, pg_env_defaults, pg_point)

DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "glove-100"))
ENGINES = ("gv", "pgv", "faiss4", "faiss8")
LABEL = {"gv": "gigavector gv_ivfpq", "pgv": "pgvector ivfflat", "faiss4": "faiss IVFPQFastScan4+Refine",
         "faiss8": "faiss IVFPQ8+Refine"}
# per metric: gv opclass, pgvector opclass, ground-truth file (the operator: hnsw_bench.METRICS)
METRICS = {"l2": ("gvector_l2_ops", "vector_l2_ops", "groundtruth.ivecs"),
           "cosine": ("gvector_cosine_ops", "vector_cosine_ops", "groundtruth_angular.ivecs")}
GRIDS = {False: ("1,2,4,8,16,32,64", "10,16,25,50,100,200,400"), True: ("2,8,32", "16,50,200")}  # --quick: True


class GvEngine(PgEngine):
    """gv_ivfpq: a setting is (probes, rerank_candidates); None RESETs both (the index's defaults)."""

    def set_ef(self, s):
        guc = "gigavector.ivfpq_rerank_candidates"
        pg_exec(self.conn, f"RESET {guc}" if s is None else f"SET {guc} = {int(s[1])}")
        super().set_ef(None if s is None else s[0])  # SET gigavector.ivfpq_probes, PREPARE

    def stats(self):
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT * FROM gigavector.ivfpq_stats('{self.index}')")
            return dict(zip([c.name for c in cur.description], cur.fetchone()))


class FaissIvfPq(FaissEngine):
    """IndexRefineFlat(IndexIVFPQFastScan 4-bit | IndexIVFPQ 8-bit); a setting is (nprobe, rerank)."""

    def __init__(self, args, base, bits):
        super().__init__(args, base)
        self.key, self.bits = f"faiss{bits}", bits

    def build(self, lists, m, sample_rows):
        faiss, (n, d) = self.faiss, self.base.shape
        x = self.prep(self.base)  # cosine: unit vectors, L2 order
        sample_rows = min(n, max(sample_rows, 39 * 2 ** self.bits))  # faiss wants >= 39 rows per centroid
        sample = x[np.linspace(0, n - 1, sample_rows).astype(np.int64)]
        log(f"[{self.key}] lists={lists} m={m} bits={self.bits} train on {len(sample)} rows, "
            f"threads={self.args.build_threads}")
        faiss.omp_set_num_threads(self.args.build_threads)
        t0 = time.perf_counter()
        self.quantizer = faiss.IndexFlatL2(d)
        self.ivf = (faiss.IndexIVFPQFastScan(self.quantizer, d, lists, m, 4) if self.bits == 4
                    else faiss.IndexIVFPQ(self.quantizer, d, lists, m, 8))
        self.index = faiss.IndexRefineFlat(self.ivf)
        self.index.train(sample)
        self.index.add(x)
        secs = time.perf_counter() - t0
        faiss.omp_set_num_threads(1)
        self.info = {"build_seconds": secs, "index_bytes": int(faiss.serialize_index(self.index).size),
                     "ivf_bytes": int(faiss.serialize_index(self.ivf).size), "lists": lists, "m": m,
                     "bits": self.bits, "train_rows": len(sample), "build_threads": self.args.build_threads}
        return self.info

    def set_ef(self, s):
        self.ivf.nprobe = int(s[0])
        self.index.k_factor = s[1] / self.args.k


K = 10  # neighbours per query (--k): k_factor = rerank / K


def label(key, s):
    if s is None:
        return "defaults"
    if key == "pgv":
        return f"probes={s}"
    return f"{'probes' if key == 'gv' else 'nprobe'}={s[0]} " + (
        f"rerank={s[1]}" if key == "gv" else f"k_factor={s[1] / K:g}")


def divisor_at_most(d, m):
    return max(x for x in range(1, max(1, m) + 1) if d % x == 0)


def prewarm(conn, rels):
    try:
        pg_exec(conn, "CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for rel in rels:
            pg_exec(conn, "SELECT pg_prewarm(%s::regclass)", (rel,))
            toast = pg_one(conn, "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = %s::regclass "
                           "AND reltoastrelid <> 0", (rel,))
            if toast:
                pg_exec(conn, "SELECT pg_prewarm(%s::regclass)", (toast,))
    except Exception as e:
        warn(f"no pg_prewarm: {' '.join(str(e).split())}")


def summarize(raw, nq):
    lat_ms = np.concatenate(raw["lat"]) / 1e6
    return {"recall": float(np.mean(raw["recall"])), "qps": float(statistics.median(nq / w for w in raw["wall"])),
            "p50_ms": float(np.percentile(lat_ms, 50)), "p99_ms": float(np.percentile(lat_ms, 99))}


def plot(path, results, order, title, target):
    """recall against QPS: every point faint, each engine's Pareto front as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for key, mark in zip(order, "osDv"):
        pts = sorted((p for p in results if p["engine"] == key), key=lambda p: -p["qps"])
        front, best = [], -1.0
        for p in pts:  # by falling QPS: a point is on the front if it beats every faster one's recall
            if p["recall"] > best:
                front.append(p)
                best = p["recall"]
        line, = ax.plot([p["recall"] for p in front], [p["qps"] for p in front], marker=mark, label=LABEL[key])
        ax.scatter([p["recall"] for p in pts], [p["qps"] for p in pts], s=8, alpha=0.3, color=line.get_color())
        for p in front:
            ax.annotate(p["setting"].replace("probes=", "p").replace("rerank=", "r").replace("k_factor=", "kf").replace("nprobe=", "n"),
                        (p["recall"], p["qps"]), fontsize=5, xytext=(3, 3), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (single client, median)")
    ax.axvline(target, color="grey", linestyle=":", linewidth=1)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="directory with base.fvecs, query.fvecs, ground truth")
    ap.add_argument("--metric", choices=sorted(METRICS), default="l2")
    ap.add_argument("--limit", type=int, help="base rows (default all; --quick 20000)")
    ap.add_argument("--queries", type=int, help="queries (default 1000; --quick 200)")
    ap.add_argument("--reps", type=int, help="repetitions, median QPS (default 3; --quick 1)")
    ap.add_argument("--engines", default="gv,pgv,faiss", help="comma list of gv, pgv, faiss (= faiss4,faiss8)")
    ap.add_argument("--probes", help=f"gv and faiss probes (default {GRIDS[False][0]}; --quick {GRIDS[True][0]})")
    ap.add_argument("--rerank", help=f"gv rerank_candidates, faiss k_factor * k "
                                     f"(default {GRIDS[False][1]}; --quick {GRIDS[True][1]})")
    ap.add_argument("--pgv-probes", help="ivfflat.probes (default powers of 2 up to lists, and lists)")
    ap.add_argument("--lists", type=int, help="lists for all engines (default: what gv_ivfpq derives)")
    ap.add_argument("--gv-options", default="", help="extra WITH (...) options of gv_ivfpq, e.g. 'rerank = index'")
    ap.add_argument("--gv-simd", default="", help="SET gigavector.simd in the gv session, e.g. avx2, avx512")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--build-workers", type=int, default=0, help="max_parallel_maintenance_workers (default 0)")
    ap.add_argument("--build-threads", type=int, default=1, help="faiss build threads (default 1; search: 1)")
    ap.add_argument("--maintenance-work-mem", default="1GB")
    ap.add_argument("--build-timeout", type=float, default=1800)
    ap.add_argument("--query-timeout", type=float, default=60)
    ap.add_argument("--planner-choice", action="store_true",
                    help="leave enable_seqscan on (points where the planner skips the index are skipped)")
    ap.add_argument("--out", help="JSON path (default bench/out/ivfpq_<metric>_<time>.json)")
    ap.add_argument("--plot", help="PNG path (default: the JSON path with .png)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 20k rows, 200 queries, small grids, 1 rep")
    a = ap.parse_args()
    a.limit = a.limit if a.limit is not None else (20000 if a.quick else None)
    a.queries = a.queries or (200 if a.quick else 1000)
    a.reps = a.reps or (1 if a.quick else 3)
    ints = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    a.probe_list, a.rerank_list = ints(a.probes or GRIDS[a.quick][0]), ints(a.rerank or GRIDS[a.quick][1])
    a.engine_list = [e for x in a.engines.split(",") if x.strip() for e in
                     (("faiss4", "faiss8") if x.strip() == "faiss" else (x.strip(),))]
    if set(a.engine_list) - set(ENGINES):
        ap.error(f"unknown engines {sorted(set(a.engine_list) - set(ENGINES))}")
    a.force_index = not a.planner_choice  # read by hnsw_bench.PgEngine.prepare
    return a


def main():
    global K
    args = parse_args()
    pg_env_defaults()
    K = args.k
    gv_opclass, pgv_opclass, gt_name = METRICS[args.metric]
    k = args.k

    # ---- data
    args.base_path = os.path.join(args.data, "base.fvecs")
    full_rows = fvecs_rows(args.base_path)
    base = read_vecs(args.base_path, np.float32, args.limit)
    queries = read_vecs(os.path.join(args.data, "query.fvecs"), np.float32, args.queries)
    (n, d), nq = base.shape, len(queries)
    gt_path = os.path.join(args.data, gt_name)
    if n == full_rows and os.path.isfile(gt_path):
        gt, gt_source = read_vecs(gt_path, np.int32, nq)[:, :k], gt_path
    else:
        log(f"computing exact {args.metric} ground truth for {n} rows x {nq} queries ...")
        gt, gt_source = exact_knn(base, queries, k, args.metric), "computed (numpy, float64)"
    log(f"data: {args.data}: {n} x {d} (of {full_rows}), {nq} queries, {args.metric}, truth {gt_source}")
    qtexts = [vec_text(r) for r in queries.astype(np.float64).tolist()]
    statements = [f"EXECUTE q('{t}')" for t in qtexts]
    raw_bytes = n * d * 4

    # ---- engines
    engines, skipped, failed, builds, env = {}, {}, {}, {}, {"loadavg_start": os.getloadavg()}
    admin = None
    if {"gv", "pgv"} & set(args.engine_list):
        admin = pg_connect("ivfpq_bench")
        env["postgres"] = pg_one(admin, "SELECT version()")
        tag = table_tag(args, n, d)
    for key in args.engine_list:
        try:
            if key == "gv":
                pg_exec(admin, "CREATE EXTENSION IF NOT EXISTS gigavector")
                env["gigavector_simd"] = pg_one(admin, "SELECT gigavector.simd_info()::text")
                opts = [o for o in (args.gv_options,) if o] + ([f"lists = {args.lists}"] if args.lists else [])
                if "rerank" not in args.gv_options:  # explicit default: WITH () must not be empty
                    opts.insert(0, "rerank = heap")
                eng = GvEngine("gv", args, "bench_gv", "gvector", "gv_ivfpq", gv_opclass,
                               "gigavector.ivfpq_probes", opts)
            elif key == "pgv":
                if pg_one(admin, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'") != 1:
                    raise EngineSkipped("extension 'vector' (pgvector) is not available in this cluster")
                pg_exec(admin, "CREATE EXTENSION IF NOT EXISTS vector")
                env["pgvector"] = pg_one(admin, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                eng = PgEngine("pgv", args, "bench_pgv", "vector", "ivfflat", pgv_opclass, "ivfflat.probes", [])
            else:
                try:
                    eng = FaissIvfPq(args, base, int(key[5:]))
                except ImportError as e:
                    raise EngineSkipped(f"python3-faiss is not installed ({e})")
            if isinstance(eng, PgEngine):
                eng.index = f"{eng.table}_ivf_idx"
                eng.connect()
                eng.check()
                ensure_table(admin, eng.table, eng.typ, base, tag)
            engines[key] = eng
        except EngineSkipped as e:
            skipped[key] = str(e)
            log(f"[{key}] skipped: {e}")
        except Exception as e:
            failed[key] = f"setup: {' '.join(str(e).split())}"
            warn(f"[{key}] {failed[key]}")
    overhead = {}
    for key, typ in (("gv", "gvector"), ("pgv", "vector")):
        if key in engines:
            overhead.update(client_overhead(admin, qtexts[0], typ))

    # ---- builds: gv first, the others take its lists (and faiss its subvectors, training rows)
    lists, m4, train_rows, gv_stats = args.lists or int(round(n ** 0.5)), d // 2, min(n, 20000), {}
    pg_engines = [eng for eng in engines.values() if isinstance(eng, PgEngine)]  # for the clean-up
    for key in [key for key in ENGINES if key in engines]:
        eng = engines[key]
        try:
            if key == "gv":
                builds[key] = eng.build()
                gv_stats = eng.stats()
                lists, m4 = args.lists or gv_stats["lists"], gv_stats["subvectors"]
                train_rows = int(gv_stats["trained_rows"] or train_rows)
                log("[gv] stats: " + ", ".join(f"{c}={v}" for c, v in gv_stats.items()))
            elif key == "pgv":
                eng.with_opts = [f"lists = {lists}"]
                builds[key] = eng.build()
            else:
                m = divisor_at_most(d, m4 if eng.bits == 4 else m4 // 2)  # the same code bytes
                builds[key] = eng.build(lists, m, train_rows)
            if isinstance(eng, PgEngine):
                for note in eng.conn.notices:
                    builds[key].setdefault("notices", []).append(note.strip())
                prewarm(admin, [eng.table, eng.index])
                eng.prepare()
            log(f"[{key}] built in {builds[key]['build_seconds']:.2f} s, {fmt_bytes(builds[key]['index_bytes'])}")
        except Exception as e:
            failed[key] = f"build: {' '.join(str(e).split())}"
            warn(f"[{key}] {failed[key]}")
            del engines[key]

    # ---- settings per engine; warm-up at the largest
    grid = [(p, r) for p in args.probe_list if p <= lists for r in args.rerank_list]
    pgv_probes = ([int(x) for x in args.pgv_probes.split(",")] if args.pgv_probes else
                  sorted({2 ** i for i in range(20) if 2 ** i < lists} | {lists}))
    settings = {key: pgv_probes if key == "pgv" else grid for key in engines}

    def point(eng, s, check):
        if isinstance(eng, PgEngine):
            return pg_point(eng, statements, s, qtexts[0], check_plan=check)
        eng.set_ef(s)
        return eng.run_pass(queries)

    for key in list(engines):
        try:
            t0 = time.perf_counter()
            point(engines[key], settings[key][-1], True)
            log(f"[{key}] warm-up at {label(key, settings[key][-1])}: {time.perf_counter() - t0:.1f} s")
        except Exception as e:
            failed[key] = f"warm-up: {' '.join(str(e).split())}"
            warn(f"[{key}] {failed[key]}")
            del engines[key]

    # ---- sweep: rep -> engine (rotated) -> setting
    order = [key for key in ENGINES if key in engines]
    raw, no_index = {}, {}
    t_sweep = time.perf_counter()
    for rep in range(args.reps):
        for key in order[rep % len(order):] + order[: rep % len(order)] if order else []:
            eng, t0 = engines.get(key), time.perf_counter()
            for s in settings[key] if eng else []:
                if s in no_index.get(key, ()):
                    continue
                try:
                    wall, lat, ids = point(eng, s, rep == 0)
                except IndexNotUsed as e:
                    no_index.setdefault(key, []).append(s)
                    warn(f"{e}\n  -> {label(key, s)} skipped")
                    continue
                except Exception as e:
                    failed[key] = f"sweep (rep {rep + 1}, {label(key, s)}): {' '.join(str(e).split())}"
                    warn(f"[{key}] {failed[key]}")
                    del engines[key]
                    break
                r = raw.setdefault((key, s), {"wall": [], "lat": [], "recall": []})
                r["wall"].append(wall)
                r["lat"].append(lat)
                r["recall"].append(recall_at_k(ids, gt, k))
            log(f"rep {rep + 1}/{args.reps} [{key}] {len(settings[key])} points in {time.perf_counter() - t0:.1f} s")
    sweep_seconds = time.perf_counter() - t_sweep

    # ---- gv_ivfpq at its defaults (no GUC set)
    defaults = None
    if "gv" in engines:
        try:
            r = {"wall": [], "lat": [], "recall": []}
            for rep in range(args.reps):
                wall, lat, ids = point(engines["gv"], None, rep == 0)
                r["wall"].append(wall)
                r["lat"].append(lat)
                r["recall"].append(recall_at_k(ids, gt, k))
            gv_stats = engines["gv"].stats()
            defaults = dict(summarize(r, nq), probes=gv_stats["probes"],
                            rerank_candidates=gv_stats["rerank_candidates"],
                            calibration_recall=gv_stats["calibration_recall"], derived=gv_stats["derived"])
        except Exception as e:
            failed["gv defaults"] = " ".join(str(e).split())
            warn(f"[gv] defaults: {failed['gv defaults']}")
    env["loadavg_end"] = os.getloadavg()

    # ---- report
    results = [dict(engine=key, setting=label(key, s), **summarize(r, nq)) for (key, s), r in raw.items()]
    print(f"\n{'engine':<28} {'setting':<26} {'recall@' + str(k):>9} {'QPS':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for p in results:
        print(f"{LABEL[p['engine']]:<28} {p['setting']:<26} {p['recall']:>9.4f} {p['qps']:>8.0f} "
              f"{p['p50_ms']:>8.3f} {p['p99_ms']:>8.3f}")
    ops = {key: max((p for p in results if p["engine"] == key and p["recall"] >= args.target_recall),
                    key=lambda p: p["qps"], default=None) for key in order}
    print(f"\nSUMMARY {os.path.basename(os.path.normpath(args.data))} {args.metric}: {n} x {d}, {nq} queries, "
          f"{args.reps} reps, lists={lists}; raw vectors {raw_bytes} bytes; operating point: best QPS at "
          f"recall@{k} >= {args.target_recall}")
    print(f"{'engine':<28} {'build s':>8} {'index bytes':>12} {'share':>7}  {'operating point':<26} "
          f"{'recall':>7} {'QPS':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for key in [key for key in ENGINES if key in builds]:
        b, p = builds[key], ops.get(key)
        op = (f"{p['setting']:<26} {p['recall']:>7.4f} {p['qps']:>7.0f} {p['p50_ms']:>7.3f} {p['p99_ms']:>7.3f}" if p
              else "not reached (best recall %.4f)" % max((q["recall"] for q in results if q["engine"] == key),
                                                          default=float("nan")))
        print(f"{LABEL[key]:<28} {b['build_seconds']:>8.2f} {b['index_bytes']:>12} {b['index_bytes'] / raw_bytes:>7.1%}  {op}")
    if defaults:
        best = ops.get("gv")
        print(f"{'gv_ivfpq defaults':<28} probes={defaults['probes']} rerank_candidates={defaults['rerank_candidates']} "
              f"(derived: {defaults['derived']}; calibration_recall {defaults['calibration_recall']:.3f}): "
              f"recall {defaults['recall']:.4f} QPS {defaults['qps']:.0f} p50 {defaults['p50_ms']:.3f} "
              f"p99 {defaults['p99_ms']:.3f}" + (f", {defaults['qps'] / best['qps']:.2f}x the best QPS at "
                                                  f"recall >= {args.target_recall}" if best else ""))
    ratios = {}
    if ops.get("gv") and ops.get("pgv"):
        ratios["gv/ivfflat QPS"] = ops["gv"]["qps"] / ops["pgv"]["qps"]
    fbest = max((key for key in ("faiss4", "faiss8") if ops.get(key)), key=lambda kk: ops[kk]["qps"], default=None)
    if ops.get("gv") and fbest:
        ratios[f"gv/best faiss ({fbest}) QPS"] = ops["gv"]["qps"] / ops[fbest]["qps"]
    for other in ("pgv", "faiss4", "faiss8"):
        if "gv" in builds and other in builds:
            ratios[f"gv/{other} build time"] = builds["gv"]["build_seconds"] / builds[other]["build_seconds"]
    if ratios:
        print("ratios (QPS at each engine's operating point; size shares above): "
              + ", ".join(f"{kk.replace('pgv', 'ivfflat')} {v:.2f}x" for kk, v in ratios.items()))
    fk = [key for key in ("faiss4", "faiss8") if key in builds]
    print(f"builds: max_parallel_maintenance_workers={args.build_workers}, maintenance_work_mem="
          f"{args.maintenance_work_mem}" + (f", gv_ivfpq trained on {train_rows} rows" if "gv" in builds else "")
          + "".join(f", {key} {builds[key]['build_threads']} thread(s) trained on {builds[key]['train_rows']} rows"
                    for key in fk))
    print("sizes: pg_relation_size of the index (the heap holds the vectors too)" + (
        "; faiss serialize_index incl. IndexRefineFlat's copy of the vectors (IVF-PQ part alone: "
        + ", ".join(f"{key} {builds[key]['ivf_bytes'] / raw_bytes:.1%}" for key in fk) + ")" if fk else ""))
    print(f"load average {env['loadavg_start'][0]:.2f} at start, {env['loadavg_end'][0]:.2f} at the end "
          f"({os.cpu_count()} CPUs); sweep {sweep_seconds:.0f} s" + (
              "; client round trip " + ", ".join(f"{kk} {v:.1f} us" for kk, v in overhead.items()) if overhead else ""))
    if env.get("gigavector_simd"):
        print(f"gigavector simd_info {env['gigavector_simd']}" + (f"; SET gigavector.simd = {args.gv_simd}" if args.gv_simd else ""))
    for key, why in skipped.items():
        print(f"{LABEL.get(key, key)}: skipped: {why}")
    for key, why in failed.items():
        print(f"{LABEL.get(key, key)}: FAILED: {why}")
    for key, ss in no_index.items():
        print(f"{LABEL[key]}: index not used by the planner at {', '.join(label(key, s) for s in ss)}: skipped")

    # ---- output
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or os.path.join(REPO, "bench", "out", f"ivfpq_{args.metric}_{stamp}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    cfg = {kk: v for kk, v in vars(args).items() if isinstance(v, (str, int, float, bool, list, type(None)))}
    with open(out, "w") as f:
        json.dump({"benchmark": "ivfpq_bench", "timestamp": stamp, "config": dict(cfg, rows=n, dim=d, lists=lists,
                   ground_truth=gt_source, pgv_probes=pgv_probes), "environment": env, "builds": builds,
                   "gv_stats": gv_stats, "results": results, "operating_points": ops, "gv_defaults": defaults,
                   "ratios": ratios, "client_overhead_us": overhead, "skipped": skipped, "failed": failed},
                  f, indent=1, default=str)
    print(f"\nJSON: {out}")
    png = args.plot or os.path.splitext(out)[0] + ".png"
    if results:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(png)), exist_ok=True)
            plot(png, results, order, f"IVF-PQ vs ivfflat vs faiss: {os.path.basename(os.path.normpath(args.data))} "
                 f"{args.metric}, {n} x {d}, {nq} queries, lists={lists}", args.target_recall)
            print(f"plot: {png}")
        except ImportError as e:
            log(f"no plot (matplotlib missing: {e})")
        except Exception as e:
            warn(f"no plot: {e}")
    for eng in pg_engines:
        eng.drop()
        eng.close()
    if admin is not None:
        admin.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
