#!/usr/bin/python3
"""HNSW benchmark: recall@k against queries per second for GigaVector's gv_hnsw,
pgvector's hnsw (same cluster), hnswlib and faiss IndexHNSWFlat (in process).

    /usr/bin/python3 bench/hnsw_bench.py [--quick] [--metric l2|cosine] [--engines gv,pgv,hnswlib,faiss]
    bash bench/hnsw_bench.sh ...              (same, with the main job's connection defaults)

What it does, in order:
  1. reads the fvecs data set (base, queries, ground truth; the ground truth is recomputed
     exactly with numpy when --limit cuts the base set);
  2. loads bench_gv(id int, v gvector(d)) and bench_pgv(id int, v vector(d)) through COPY
     (exact float text, as bench/fvecs2copy.py), unless they already hold the same data;
  3. builds every engine's index (timed; index size from pg_relation_size, or the
     serialized size for the in-process libraries);
  4. sweeps ef_search: for each repetition, each ef, each engine (order rotated between
     repetitions) it runs all queries one at a time from a single client, timing each;
     PostgreSQL engines use a prepared statement, EXECUTE q('[...]'), with a generic plan,
     and EXPLAIN checks that the index is used;
  5. prints the table (median QPS over the repetitions, recall@k, p50/p99 latency), builds,
     sizes and the headline ratios at the lowest ef reaching --target-recall, and writes
     JSON + a recall/QPS plot (PNG) to bench/out/.

Connection: libpq environment variables; defaults are the main job's cluster
(PGHOST=<repo>/.gvdata/run, PGPORT=5499, PGDATABASE=gigavector, PGUSER=gvtest as root).
Needs Debian's python3-psycopg2, python3-numpy, python3-hnswlib, python3-faiss and
python3-matplotlib (for /usr/bin/python3). Numbers, not a test.
"""
import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "glove-100"))
DEFAULT_EFS = "10,20,40,80,120,160,200,240,320,400,480,640,800"
QUICK_EFS = "10,20,40,80,160,320"
ALL_ENGINES = ("gv", "pgv", "hnswlib", "faiss")
ENGINE_LABEL = {
    "gv": "gigavector gv_hnsw",
    "pgv": "pgvector hnsw",
    "hnswlib": "hnswlib",
    "faiss": "faiss HNSWFlat",
}
# per metric: SQL operator, gv opclass, pgvector opclass, hnswlib space, ground-truth file
METRICS = {
    "l2": ("<->", "gvector_l2_ops", "vector_l2_ops", "l2", "groundtruth.ivecs"),
    "cosine": ("<=>", "gvector_cosine_ops", "vector_cosine_ops", "cosine", "groundtruth_angular.ivecs"),
}


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (  # noqa: E402
    client_overhead, ensure_table, exact_knn, fvecs_rows, log, pg_connect, pg_exec, pg_one,
    plot, read_vecs, recall_at_k, table_tag, vec_text, warn)


class EngineSkipped(Exception):
    """The engine cannot run here (not installed, ...): skip it with a message."""


class IndexNotUsed(RuntimeError):
    """EXPLAIN shows that the planner does not use the index."""


class PgEngine:
    """One PostgreSQL index engine, with its own session (GUCs, prepared statement)."""

    def __init__(self, key, args, table, typ, am, opclass, ef_guc, with_opts):
        self.key = key
        self.args = args
        self.table = table
        self.typ = typ
        self.am = am
        self.opclass = opclass
        self.ef_guc = ef_guc
        self.with_opts = with_opts
        self.index = f"{table}_hnsw_idx"
        self.conn = None
        self.info = {}
        self.query_sql = None
        self.current_ef = None

    def connect(self):
        if self.conn is not None and not self.conn.closed:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = pg_connect(f"hnsw_bench_{self.key}")
        # loading the module defines its GUCs (else SET would only make a placeholder)
        pg_exec(self.conn, f"SELECT '[1]'::{self.typ}")
        if self.key == "gv" and self.args.gv_simd:
            # the build (CREATE INDEX in this session) and the queries alike
            pg_exec(self.conn, "SET gigavector.simd = %s", (self.args.gv_simd,))

    def check(self):
        if pg_one(self.conn, "SELECT count(*) FROM pg_am WHERE amname = %s", (self.am,)) != 1:
            raise EngineSkipped(f"index access method {self.am} is not installed in this database")
        n = pg_one(
            self.conn,
            "SELECT count(*) FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod"
            " WHERE a.amname = %s AND c.opcname = %s",
            (self.am, self.opclass),
        )
        if n != 1:
            raise EngineSkipped(f"operator class {self.opclass} for {self.am} does not exist")
        if pg_one(self.conn, "SELECT count(*) FROM pg_settings WHERE name = %s", (self.ef_guc,)) != 1:
            raise EngineSkipped(f"setting {self.ef_guc} is not defined: cannot sweep ef_search")

    def build(self):
        a = self.args
        c = self.conn
        pg_exec(c, f"DROP INDEX IF EXISTS {self.index}")
        pg_exec(c, "SET maintenance_work_mem = %s", (a.maintenance_work_mem,))
        pg_exec(c, f"SET max_parallel_maintenance_workers = {int(a.build_workers)}")
        pg_exec(c, f"SET statement_timeout = {int(a.build_timeout * 1000)}")
        opts = ", ".join(self.with_opts)
        sql = f"CREATE INDEX {self.index} ON {self.table} USING {self.am} (v {self.opclass}) WITH ({opts})"
        log(f"[{self.key}] {sql}")
        del c.notices[:]
        t0 = time.perf_counter()
        pg_exec(c, sql)
        secs = time.perf_counter() - t0
        pg_exec(c, "RESET statement_timeout")
        for note in c.notices:
            log(f"[{self.key}] server: {note.strip()}")
        size = pg_one(c, "SELECT pg_relation_size(%s::regclass)", (self.index,))
        self.info = {
            "sql": sql,
            "build_seconds": secs,
            "index_bytes": size,
            "maintenance_work_mem": pg_one(c, "SHOW maintenance_work_mem"),
            "max_parallel_maintenance_workers": int(pg_one(c, "SHOW max_parallel_maintenance_workers")),
        }
        return self.info

    def prepare(self):
        """Session settings (after a reconnect too); the statement is prepared by set_ef."""
        c = self.conn
        settings = [
            "SET jit = off",
            "SET max_parallel_workers_per_gather = 0",
            "SET plan_cache_mode = force_generic_plan",
            f"SET statement_timeout = {int(self.args.query_timeout * 1000)}",
        ]
        if self.args.force_index:
            settings.append("SET enable_seqscan = off")
        for s in settings:
            pg_exec(c, s)
        self.current_ef = None

    def set_ef(self, ef):
        """SET ef_search, then prepare the statement again: a cached plan is not replanned
        when a setting changes, and the cost estimate may depend on ef_search. ef None:
        the engine's default (RESET)."""
        c = self.conn
        if ef is None:
            pg_exec(c, f"RESET {self.ef_guc}")
        else:
            pg_exec(c, f"SET {self.ef_guc} = {int(ef)}")
        op = METRICS[self.args.metric][0]
        pg_exec(c, "DEALLOCATE ALL")
        pg_exec(c, f"PREPARE q({self.typ}) AS SELECT id FROM {self.table} ORDER BY v {op} $1 LIMIT {self.args.k}")
        self.current_ef = ef

    def explain(self, qtext):
        with self.conn.cursor() as cur:
            cur.execute(f"EXPLAIN (COSTS OFF) EXECUTE q('{qtext}')")
            plan = "\n".join(r[0] for r in cur.fetchall())
        if f"Index Scan using {self.index}" not in plan:
            raise IndexNotUsed(f"[{self.key}] at {self.ef_guc} = {self.current_ef} the planner does not use index "
                               f"{self.index} (--force-index sets enable_seqscan = off):\n{plan}")
        return plan

    def run_pass(self, statements):
        """Runs every query once; returns (wall seconds, latencies ns, ids per query)."""
        lat = np.empty(len(statements), dtype=np.int64)
        ids = []
        cur = self.conn.cursor()
        execute, fetchall, clock = cur.execute, cur.fetchall, time.perf_counter_ns
        t_start = clock()
        for i, s in enumerate(statements):
            t0 = clock()
            execute(s)
            rows = fetchall()
            lat[i] = clock() - t0
            ids.append(rows)
        wall = (clock() - t_start) / 1e9
        cur.close()
        return wall, lat, [[r[0] for r in rows] for rows in ids]

    def drop(self):
        try:
            if self.conn is None or self.conn.closed:
                self.connect()
            pg_exec(self.conn, f"DROP INDEX IF EXISTS {self.index}")
        except Exception as e:
            warn(f"[{self.key}] could not drop {self.index}: {e}")

    def close(self):
        if self.conn is not None and not self.conn.closed:
            self.conn.close()


class HnswlibEngine:
    key = "hnswlib"

    def __init__(self, args, base):
        import hnswlib

        self.hnswlib = hnswlib
        self.args = args
        self.base = base
        self.index = None
        self.info = {}

    def build(self):
        a = self.args
        n, d = self.base.shape
        space = METRICS[a.metric][3]
        idx = self.hnswlib.Index(space=space, dim=d)
        log(f"[hnswlib] space={space} M={a.m} ef_construction={a.ef_construction} threads={a.build_threads}")
        t0 = time.perf_counter()
        idx.init_index(max_elements=n, M=a.m, ef_construction=a.ef_construction, random_seed=100)
        idx.set_num_threads(a.build_threads)
        idx.add_items(self.base, np.arange(n), num_threads=a.build_threads)
        secs = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "index.bin")
            idx.save_index(path)
            size = os.path.getsize(path)
        idx.set_num_threads(1)
        self.index = idx
        self.info = {"build_seconds": secs, "index_bytes": size, "build_threads": a.build_threads,
                     "size_note": "serialized (save_index)"}
        return self.info

    def set_ef(self, ef):
        self.index.set_ef(int(ef))

    def run_pass(self, queries):
        k = self.args.k
        lat = np.empty(len(queries), dtype=np.int64)
        out = []
        knn, clock = self.index.knn_query, time.perf_counter_ns
        t_start = clock()
        for i, q in enumerate(queries):
            t0 = clock()
            labels, _ = knn(q, k=k, num_threads=1)
            lat[i] = clock() - t0
            out.append(labels[0])
        wall = (clock() - t_start) / 1e9
        return wall, lat, [r.tolist() for r in out]


class FaissEngine:
    key = "faiss"

    def __init__(self, args, base):
        import faiss

        self.faiss = faiss
        self.args = args
        self.base = base
        self.index = None
        self.info = {}

    def prep(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.args.metric == "cosine":  # L2 order on unit vectors == cosine order
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
        return np.ascontiguousarray(x, dtype=np.float32)

    def build(self):
        a = self.args
        faiss = self.faiss
        n, d = self.base.shape
        log(f"[faiss] IndexHNSWFlat M={a.m} efConstruction={a.ef_construction} threads={a.build_threads}")
        x = self.prep(self.base)
        faiss.omp_set_num_threads(a.build_threads)
        t0 = time.perf_counter()
        idx = faiss.IndexHNSWFlat(d, a.m)
        idx.hnsw.efConstruction = a.ef_construction
        idx.add(x)
        secs = time.perf_counter() - t0
        size = int(faiss.serialize_index(idx).size)
        faiss.omp_set_num_threads(1)
        self.index = idx
        self.info = {"build_seconds": secs, "index_bytes": size, "build_threads": a.build_threads,
                     "size_note": "serialized (serialize_index)"}
        return self.info

    def set_ef(self, ef):
        self.index.hnsw.efSearch = int(ef)

    def run_pass(self, queries):
        k = self.args.k
        qs = self.prep(queries)
        lat = np.empty(len(qs), dtype=np.int64)
        out = []
        search, clock = self.index.search, time.perf_counter_ns
        t_start = clock()
        for i in range(len(qs)):
            t0 = clock()
            _, labels = search(qs[i : i + 1], k)
            lat[i] = clock() - t0
            out.append(labels[0])
        wall = (clock() - t_start) / 1e9
        return wall, lat, [r.tolist() for r in out]


# ----------------------------------------------------------------------------- measuring


def pg_point(eng, payload, ef, qtext, check_plan):
    """SET ef (+ PREPARE), EXPLAIN if asked, one timed pass. A PostgreSQL session can die
    when another backend crashes (the postmaster restarts them all): reconnect once and
    retry; a second failure marks the engine failed."""
    import psycopg2

    def attempt():
        eng.set_ef(ef)
        if check_plan:
            eng.explain(qtext)
        return eng.run_pass(payload)

    try:
        return attempt()
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
        warn(f"[{eng.key}] connection lost ({' '.join(str(e).split())}): reconnecting and retrying ef={ef}")
        time.sleep(2)
        eng.connect()
        eng.prepare()
        return attempt()


def operating_point(points, target):
    """Lowest ef whose recall reaches target (points sorted by ef)."""
    for p in points:
        if p["recall"] >= target:
            return p
    return None


def fmt_bytes(n):
    return f"{n / 2**20:.1f} MiB"


# ----------------------------------------------------------------------------- main


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA, help="directory with base.fvecs, query.fvecs, ground truth")
    ap.add_argument("--metric", choices=sorted(METRICS), default="l2")
    ap.add_argument("--limit", type=int, help="base rows to use (default all; --quick: 20000)")
    ap.add_argument("--queries", type=int, help="queries to run (default 1000; --quick: 200)")
    ap.add_argument("--engines", default="gv,pgv,hnswlib,faiss", help="comma list of gv,pgv,hnswlib,faiss")
    ap.add_argument("--ef", help=f"ef_search list (default {DEFAULT_EFS}; --quick: {QUICK_EFS})")
    ap.add_argument("--reps", type=int, help="repetitions per ef point, median QPS (default 3; --quick: 1)")
    ap.add_argument("--k", type=int, default=10, help="neighbours per query (recall@k)")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--gv-simd", default="",
                    help="SET gigavector.simd in the gv session (build and queries), e.g. avx2, sse")
    ap.add_argument("--gv-options", default="", help="extra WITH (...) options for gv_hnsw, e.g. 'foo = 1'")
    ap.add_argument("--build-workers", type=int, default=1, help="max_parallel_maintenance_workers (default 1)")
    ap.add_argument("--build-threads", type=int, default=2, help="threads of the in-process builds (default 2)")
    ap.add_argument("--maintenance-work-mem", default="1GB")
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--build-timeout", type=float, default=1800, help="seconds per CREATE INDEX")
    ap.add_argument("--query-timeout", type=float, default=60, help="seconds per query")
    ap.add_argument("--force-index", action="store_true",
                    help="SET enable_seqscan = off in the query sessions of both PostgreSQL engines")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed pass at the largest ef")
    ap.add_argument("--keep-indexes", action="store_true", help="leave the PostgreSQL indexes in place")
    ap.add_argument("--out", help="JSON output path (default bench/out/hnsw_<metric>_<timestamp>.json)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--quick", action="store_true", help="smoke test: 20k rows, 200 queries, short ef list, 1 rep")
    a = ap.parse_args()
    if a.limit is None:
        a.limit = 20000 if a.quick else None
    if a.queries is None:
        a.queries = 200 if a.quick else 1000
    if a.reps is None:
        a.reps = 1 if a.quick else 3
    a.ef_list = [int(x) for x in (a.ef or (QUICK_EFS if a.quick else DEFAULT_EFS)).split(",") if x.strip()]
    a.engine_list = [e.strip() for e in a.engines.split(",") if e.strip()]
    bad = [e for e in a.engine_list if e not in ALL_ENGINES]
    if bad:
        ap.error(f"unknown engine(s) {bad}; choose from {','.join(ALL_ENGINES)}")
    if a.reps < 1 or a.queries < 1 or not a.ef_list:
        ap.error("--reps, --queries and --ef must be positive / non-empty")
    return a


def pg_env_defaults():
    os.environ.setdefault("PGHOST", os.path.join(REPO, ".gvdata", "run"))
    os.environ.setdefault("PGPORT", os.environ.get("GV_PORT", "5499"))
    os.environ.setdefault("PGDATABASE", "gigavector")
    if os.geteuid() == 0:  # the main job runs Postgres as gvtest when started by root
        os.environ.setdefault("PGUSER", "gvtest")


def main():
    args = parse_args()
    pg_env_defaults()
    op, gv_opclass, pgv_opclass, _, gt_name = METRICS[args.metric]
    k = args.k

    # ---- data
    args.base_path = os.path.join(args.data, "base.fvecs")
    qpath = os.path.join(args.data, "query.fvecs")
    for p in (args.base_path, qpath):
        if not os.path.isfile(p):
            sys.exit(f"no data set: {p} is missing (--data DIR)")
    full_rows = fvecs_rows(args.base_path)
    base = read_vecs(args.base_path, np.float32, args.limit)
    queries = read_vecs(qpath, np.float32, args.queries)
    n, d = base.shape
    nq = len(queries)
    gt_path = os.path.join(args.data, gt_name)
    if n == full_rows and os.path.isfile(gt_path):
        gt = read_vecs(gt_path, np.int32, nq)
        if gt.shape[1] < k:
            sys.exit(f"{gt_path} has only {gt.shape[1]} neighbours per query, k = {k}")
        gt_source = gt_path
    else:
        log(f"computing exact {args.metric} ground truth for {n} rows x {nq} queries ...")
        gt = exact_knn(base, queries, k, args.metric)
        gt_source = "computed (numpy, float64)"
    gt = gt[:, :k]
    log(f"data: {args.data}: {n} x {d} base (of {full_rows}), {nq} queries, metric {args.metric}, "
        f"ground truth {gt_source}")
    qtexts = [vec_text(r) for r in queries.astype(np.float64).tolist()]

    # ---- engines
    engines = {}
    skipped = {}
    failed = {}
    pg_wanted = [e for e in args.engine_list if e in ("gv", "pgv")]
    admin = None
    env_info = {
        "python": platform.python_version(),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "nproc": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    if env_info["loadavg_start"][0] > 0.5 * (os.cpu_count() or 1):
        warn(f"load average {env_info['loadavg_start'][0]:.2f} on {os.cpu_count()} CPUs: "
             "other work is running, the QPS numbers will be noisy")
    for mod in ("numpy", "psycopg2", "hnswlib", "faiss", "matplotlib"):
        try:
            env_info[mod] = importlib.metadata.version(mod)
        except Exception:
            pass
    if pg_wanted:
        try:
            admin = pg_connect()
        except Exception as e:
            sys.exit(f"cannot connect to PostgreSQL ({os.environ.get('PGHOST')}:{os.environ.get('PGPORT')}): {e}"
                     "\n(start the main job's cluster with: bash scripts/main.sh)")
        env_info["postgres"] = pg_one(admin, "SELECT version()")
        env_info["pg_connection"] = {v: os.environ.get(v) for v in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")}
        env_info["shared_buffers"] = pg_one(admin, "SHOW shared_buffers")
        tag = table_tag(args, n, d)
        if "gv" in pg_wanted:
            try:
                pg_exec(admin, "CREATE EXTENSION IF NOT EXISTS gigavector")
                env_info["gigavector"] = pg_one(admin, "SELECT extversion FROM pg_extension WHERE extname = 'gigavector'")
                try:
                    env_info["gigavector_simd"] = pg_one(admin, "SELECT gigavector.simd_info()")
                except Exception:
                    pass
                eng = PgEngine("gv", args, "bench_gv", "gvector", "gv_hnsw", gv_opclass, "gigavector.hnsw_ef_search",
                               [f"m = {args.m}", f"ef_construction = {args.ef_construction}"]
                               + ([args.gv_options] if args.gv_options else []))
                eng.connect()
                eng.check()
                ensure_table(admin, "bench_gv", "gvector", base, tag)
                engines["gv"] = eng
            except EngineSkipped as e:
                skipped["gv"] = str(e)
            except Exception as e:
                failed["gv"] = f"setup: {e}".strip()
        if "pgv" in pg_wanted:
            try:
                if pg_one(admin, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'") != 1:
                    raise EngineSkipped("extension 'vector' (pgvector) is not available in this cluster")
                pg_exec(admin, "CREATE EXTENSION IF NOT EXISTS vector")
                env_info["pgvector"] = pg_one(admin, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                eng = PgEngine("pgv", args, "bench_pgv", "vector", "hnsw", pgv_opclass, "hnsw.ef_search",
                               [f"m = {args.m}", f"ef_construction = {args.ef_construction}"])
                eng.connect()
                eng.check()
                ensure_table(admin, "bench_pgv", "vector", base, tag)
                engines["pgv"] = eng
            except EngineSkipped as e:
                skipped["pgv"] = str(e)
            except Exception as e:
                failed["pgv"] = f"setup: {e}".strip()
    if "hnswlib" in args.engine_list:
        try:
            engines["hnswlib"] = HnswlibEngine(args, base)
        except ImportError as e:
            skipped["hnswlib"] = f"python3-hnswlib is not installed ({e})"
    if "faiss" in args.engine_list:
        try:
            engines["faiss"] = FaissEngine(args, base)
        except ImportError as e:
            skipped["faiss"] = f"python3-faiss is not installed ({e})"
    for key, why in skipped.items():
        log(f"[{key}] skipped: {why}")
    for key, why in failed.items():
        warn(f"[{key}] failed: {why}")

    # ---- client overhead
    overhead = {}
    if admin is not None:
        for key, typ in (("gv", "gvector"), ("pgv", "vector")):
            if key in engines:
                overhead.update(client_overhead(admin, qtexts[0], typ))
        if overhead:
            log("client round trip (median): " + ", ".join(f"{kk} {v:.1f} us" for kk, v in overhead.items()))

    # ---- builds
    pg_engines = [eng for eng in engines.values() if isinstance(eng, PgEngine)]  # for the clean-up
    builds = {}
    for key in list(engines):
        eng = engines[key]
        try:
            info = eng.build()
            builds[key] = info
            log(f"[{key}] built in {info['build_seconds']:.2f} s, index {fmt_bytes(info['index_bytes'])}")
            if isinstance(eng, PgEngine):
                eng.prepare()
        except Exception as e:
            failed[key] = f"build: {str(e).strip()}"
            warn(f"[{key}] build failed: {failed[key]}")
            if isinstance(eng, PgEngine):
                eng.drop()
                eng.close()
            del engines[key]

    # ---- EXPLAIN + warm-up
    statements = [f"EXECUTE q('{t}')" for t in qtexts]  # built once, outside the timing
    payload = {key: statements if isinstance(eng, PgEngine) else queries for key, eng in engines.items()}
    plans = {}
    no_index = {}  # engine -> {ef: plan}: points where the planner does not use the index (skipped)

    def note_no_index(key, ef, err):
        if ef not in no_index.setdefault(key, {}):
            no_index[key][ef] = str(err).split(":\n", 1)[-1]
            warn(f"{err}\n  -> ef={ef} is skipped for {key}")

    for key in list(engines):
        eng = engines[key]
        try:
            # warm up at the largest ef at which the index is used
            for ef in sorted(args.ef_list, reverse=True):
                eng.set_ef(ef)
                if isinstance(eng, PgEngine):
                    try:
                        plans[key] = eng.explain(qtexts[0])
                    except IndexNotUsed as e:
                        note_no_index(key, ef, e)
                        continue
                break
            else:
                raise RuntimeError("the planner uses the index at no ef_search value of the list")
            if not args.no_warmup:
                t0 = time.perf_counter()
                eng.run_pass(payload[key])
                log(f"[{key}] warm-up pass at ef={ef}: {time.perf_counter() - t0:.1f} s")
        except Exception as e:
            failed[key] = f"warm-up: {str(e).strip()}"
            warn(f"[{key}] {failed[key]}")
            del engines[key]

    # ---- sweep: rep -> ef -> engine (rotated per rep)
    order = [e for e in ALL_ENGINES if e in engines]
    raw = {(key, ef): {"wall": [], "lat": [], "recall": []} for key in order for ef in args.ef_list}
    t_sweep = time.perf_counter()
    for rep in range(args.reps):
        rot = order[rep % len(order):] + order[: rep % len(order)] if order else []
        for ef in args.ef_list:
            for key in rot:
                if key not in engines or ef in no_index.get(key, {}):
                    continue
                eng = engines[key]
                try:
                    if isinstance(eng, PgEngine):
                        wall, lat, ids = pg_point(eng, payload[key], ef, qtexts[0], check_plan=rep == 0)
                    else:
                        eng.set_ef(ef)
                        wall, lat, ids = eng.run_pass(payload[key])
                except IndexNotUsed as e:
                    note_no_index(key, ef, e)
                    continue
                except Exception as e:
                    failed[key] = f"sweep (rep {rep + 1}, ef {ef}): {str(e).strip()}"
                    warn(f"[{key}] {failed[key]}")
                    del engines[key]
                    continue
                r = raw[(key, ef)]
                r["wall"].append(wall)
                r["lat"].append(lat)
                r["recall"].append(recall_at_k(ids, gt, k))
            done = [f"{key} {nq / raw[(key, ef)]['wall'][-1]:.0f}" for key in rot if key in engines and raw[(key, ef)]["wall"]]
            log(f"rep {rep + 1}/{args.reps} ef={ef}: QPS " + ", ".join(done))
    sweep_seconds = time.perf_counter() - t_sweep

    # ---- the defaults: no ef_search setting at all (gv: the ef CREATE INDEX
    # measured on the data; pgvector: its fixed 40)
    defaults = {}
    for key in order:
        eng = engines.get(key)
        if not isinstance(eng, PgEngine):
            continue
        try:
            walls, lats, recalls = [], [], []
            for rep in range(args.reps):
                wall, lat, ids = pg_point(eng, payload[key], None, qtexts[0], check_plan=rep == 0)
                walls.append(wall)
                lats.append(lat)
                recalls.append(recall_at_k(ids, gt, k))
            lat_ms = np.concatenate(lats) / 1e6
            defaults[key] = {
                "ef": int(pg_one(eng.conn, f"SELECT calibrated_ef_search FROM gigavector.hnsw_stats('{eng.index}')"))
                if key == "gv" else int(pg_one(eng.conn, f"SHOW {eng.ef_guc}")),
                "recall": float(np.mean(recalls)),
                "qps": float(statistics.median(nq / w for w in walls)),
                "p50_ms": float(np.percentile(lat_ms, 50)),
                "p99_ms": float(np.percentile(lat_ms, 99)),
            }
        except Exception as e:
            warn(f"[{key}] defaults point failed: {str(e).strip()}")
    env_info["loadavg_end"] = os.getloadavg()

    # ---- results
    results = []
    for key in order:
        for ef in args.ef_list:
            r = raw[(key, ef)]
            if not r["wall"]:
                continue
            lat_ms = np.concatenate(r["lat"]) / 1e6
            qps_reps = [nq / w for w in r["wall"]]
            results.append({
                "engine": key,
                "ef": ef,
                "recall": float(np.mean(r["recall"])),
                "qps": float(statistics.median(qps_reps)),
                "qps_reps": qps_reps,
                "p50_ms": float(np.percentile(lat_ms, 50)),
                "p99_ms": float(np.percentile(lat_ms, 99)),
                "mean_ms": float(lat_ms.mean()),
            })

    print()
    print(f"{'engine':<20} {'ef':>5} {'recall@' + str(k):>10} {'QPS':>10} {'p50 ms':>9} {'p99 ms':>9}")
    for p in results:
        print(f"{ENGINE_LABEL[p['engine']]:<20} {p['ef']:>5} {p['recall']:>10.4f} {p['qps']:>10.0f} "
              f"{p['p50_ms']:>9.3f} {p['p99_ms']:>9.3f}")
    print()
    print(f"{'engine':<20} {'build s':>9} {'index':>12}  notes")
    for key, b in builds.items():
        if key in ("gv", "pgv"):
            note = (f"maintenance_work_mem={b['maintenance_work_mem']}, "
                    f"max_parallel_maintenance_workers={b['max_parallel_maintenance_workers']}")
        else:
            note = f"{b['build_threads']} threads, size {b['size_note']}"
        print(f"{ENGINE_LABEL[key]:<20} {b['build_seconds']:>9.2f} {fmt_bytes(b['index_bytes']):>12}  {note}")
    print(f"load average at start {env_info['loadavg_start'][0]:.2f}, after the sweep "
          f"{env_info['loadavg_end'][0]:.2f} ({os.cpu_count()} CPUs)")
    if overhead:
        print("client round trip, median: " + ", ".join(f"{kk} {v:.1f} us" for kk, v in overhead.items()))
    for key, why in skipped.items():
        print(f"{ENGINE_LABEL[key]}: skipped: {why}")
    for key, why in failed.items():
        print(f"{ENGINE_LABEL[key]}: FAILED: {why}")
    for key, pts in no_index.items():
        print(f"{ENGINE_LABEL[key]}: INDEX NOT USED by the planner at ef_search = "
              f"{','.join(map(str, sorted(pts)))}: those points were skipped (--force-index to force it)")

    # headline: at the lowest ef reaching the target recall, per engine
    ops = {}
    for key in order:
        pts = [p for p in results if p["engine"] == key]
        if pts:
            ops[key] = operating_point(pts, args.target_recall)
    print()
    print(f"operating points (lowest ef with recall@{k} >= {args.target_recall}):")
    for key, p in ops.items():
        if p is None:
            best = max((q for q in results if q["engine"] == key), key=lambda q: q["recall"])
            print(f"  {ENGINE_LABEL[key]:<20} not reached (best recall {best['recall']:.4f} at ef={best['ef']})")
        else:
            print(f"  {ENGINE_LABEL[key]:<20} ef={p['ef']:<4} recall {p['recall']:.4f}  QPS {p['qps']:.0f}  "
                  f"p50 {p['p50_ms']:.3f} ms")
    ref = "gv" if "gv" in ops else ("pgv" if "pgv" in ops else None)
    ratios = {}
    if ref is not None:
        for other in order:
            if other == ref:
                continue
            rr = {}
            if ops.get(ref) and ops.get(other):
                rr["qps"] = ops[ref]["qps"] / ops[other]["qps"]
            if ref in builds and other in builds:
                rr["build_time"] = builds[ref]["build_seconds"] / builds[other]["build_seconds"]
                rr["index_size"] = builds[ref]["index_bytes"] / builds[other]["index_bytes"]
            if rr:
                ratios[f"{ref}/{other}"] = rr
        print(f"ratios ({ENGINE_LABEL[ref]} / other; QPS at each engine's operating point, "
              f"build time and index size: lower is better for the last two):")
        for name, rr in ratios.items():
            other = name.split("/")[1]
            parts = [f"QPS {rr['qps']:.2f}x" if "qps" in rr else "QPS n/a"]
            if "build_time" in rr:
                parts.append(f"build time {rr['build_time']:.2f}x")
                parts.append(f"index size {rr['index_size']:.2f}x")
            print(f"  vs {ENGINE_LABEL[other]:<20} " + ", ".join(parts))
    if defaults:
        print("defaults (no ef_search setting):")
        for key, p in defaults.items():
            best = max((q["qps"] for q in results if q["engine"] == key and q["recall"] >= args.target_recall),
                       default=None)
            rel = f", {p['qps'] / best:.2f}x the best QPS at recall >= {args.target_recall}" if best else ""
            print(f"  {ENGINE_LABEL[key]:<20} ef={p['ef']:<4} recall {p['recall']:.4f}  QPS {p['qps']:.0f}  "
                  f"p50 {p['p50_ms']:.3f} ms{rel}")
    if env_info.get("gigavector_simd"):
        print(f"gigavector SIMD (simd_info at start): {env_info['gigavector_simd']}"
              + (f"; gv session SET gigavector.simd = {args.gv_simd}" if args.gv_simd else ""))
    if "gv" not in ops and "gv" in args.engine_list:
        print("  (gigavector gv_hnsw did not run" + (f": ratios are relative to {ENGINE_LABEL[ref]})" if ref else ")"))

    # ---- output
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or os.path.join(REPO, "bench", "out", f"hnsw_{args.metric}_{stamp}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    doc = {
        "benchmark": "hnsw_bench",
        "timestamp": stamp,
        "config": {
            "data": os.path.abspath(args.data), "rows": n, "dim": d, "queries": nq, "metric": args.metric,
            "operator": op, "k": k, "m": args.m, "ef_construction": args.ef_construction,
            "ef_search": args.ef_list, "reps": args.reps, "engines_requested": args.engine_list,
            "ground_truth": gt_source, "target_recall": args.target_recall, "quick": args.quick,
            "build_workers": args.build_workers, "build_threads": args.build_threads,
            "maintenance_work_mem": args.maintenance_work_mem, "warmup": not args.no_warmup,
            "force_index": args.force_index,
            "query_session": "jit=off, max_parallel_workers_per_gather=0, plan_cache_mode=force_generic_plan"
                             + (", enable_seqscan=off" if args.force_index else "")
                             + "; per ef: SET ef; PREPARE q(<type>) ... ORDER BY v <op> $1 LIMIT k; "
                               "EXECUTE q('<text>')",
            "in_process_search": "one query per call, 1 thread",
        },
        "environment": env_info,
        "client_overhead_us": overhead,
        "builds": builds,
        "plans": plans,
        "results": results,
        "operating_points": {kk: v for kk, v in ops.items()},
        "defaults": defaults,
        "ratios": ratios,
        "skipped": skipped,
        "failed": failed,
        "index_not_used": {kk: {str(e): plan for e, plan in v.items()} for kk, v in no_index.items()},
        "sweep_seconds": sweep_seconds,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"\nJSON: {out}")
    if not args.no_plot and results:
        png = os.path.splitext(out)[0] + ".png"
        try:
            plot(png, results, order, ENGINE_LABEL, args, f"{args.metric}, {n} x {d}, {nq} queries, {os.path.basename(args.data)}")
            print(f"plot: {png}")
        except Exception as e:
            warn(f"no plot: {e}")

    # ---- clean up
    for eng in pg_engines:
        if not args.keep_indexes:
            eng.drop()
        eng.close()
    if admin is not None:
        admin.close()
    return 1 if failed or no_index else 0


if __name__ == "__main__":
    sys.exit(main())
