"""Helpers shared by the benchmarks over fvecs data sets (bench/hnsw_bench.py,
bench/filtered_bench.py): logging, reading fvecs/ivecs, exact kNN with numpy, the
exact text form of a vector, loading a table through COPY, PostgreSQL connections,
recall and the client round trip. Numbers, not a test.
"""
import os
import statistics
import sys
import time

import numpy as np

def log(msg):
    print(msg, flush=True)


def warn(msg):
    print(f"WARNING: {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data


def read_vecs(path, dtype, limit=None):
    """Reads an .fvecs / .ivecs file (int32 dim, then dim values per row) into (n, d)."""
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) != 4:
            sys.exit(f"{path}: empty file")
        d = int(np.frombuffer(head, dtype="<i4")[0])
        f.seek(0)
        row = 4 * (d + 1)
        size = os.fstat(f.fileno()).st_size
        if size % row:
            sys.exit(f"{path}: size {size} is not a multiple of the row size {row}")
        n = size // row
        if limit is not None and 0 <= limit < n:
            n = limit
        raw = np.frombuffer(f.read(n * row), dtype="<i4").reshape(n, d + 1)
    if np.any(raw[:, 0] != d):
        sys.exit(f"{path}: rows of different dimensions")
    return np.ascontiguousarray(raw[:, 1:]).view(dtype).copy()


def fvecs_rows(path):
    with open(path, "rb") as f:
        d = int(np.frombuffer(f.read(4), dtype="<i4")[0])
        return os.fstat(f.fileno()).st_size // (4 * (d + 1))


def exact_knn(base, queries, k, metric):
    """Exact top-k ids (float64, ties to the smaller id), for a cut base set."""
    b = base.astype(np.float64)
    q = queries.astype(np.float64)
    if metric == "cosine":
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    bn = np.einsum("ij,ij->i", b, b)
    out = np.empty((len(q), k), dtype=np.int64)
    for s in range(0, len(q), 100):
        qs = q[s : s + 100]
        if metric == "cosine":
            dist = -(qs @ b.T)
        else:
            dist = bn[None, :] - 2.0 * (qs @ b.T)
        cand = np.argpartition(dist, min(k + 20, len(b) - 1), axis=1)[:, : k + 21]
        for j in range(len(qs)):
            c = cand[j]
            diff = b[c] - qs[j]
            if metric == "cosine":
                exact = -(b[c] @ qs[j])
            else:
                exact = np.einsum("ij,ij->i", diff, diff)
            order = np.lexsort((c, exact))
            out[s + j] = c[order[:k]]
    return out


def vec_text(row):
    """pgvector / gvector text form; repr() of the exact double value of each float32,
    like bench/fvecs2copy.py, so that the value read back is bit-identical."""
    return "[" + ",".join(map(repr, row)) + "]"


class CopyStream:
    """File-like object for psycopg2's copy_expert: COPY text rows id<TAB>[...] built in
    chunks from a numpy array, so the whole text never sits in memory."""

    def __init__(self, data, chunk_rows=2000):
        self.data = data
        self.chunk_rows = chunk_rows
        self.next_row = 0
        self.buf = b""

    def _fill(self):
        if self.next_row >= len(self.data):
            return False
        end = min(self.next_row + self.chunk_rows, len(self.data))
        rows = self.data[self.next_row : end].astype(np.float64).tolist()
        lines = [f"{self.next_row + i}\t{vec_text(r)}\n" for i, r in enumerate(rows)]
        self.buf += "".join(lines).encode()
        self.next_row = end
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill():
                pass
            out, self.buf = self.buf, b""
            return out
        while len(self.buf) < size and self._fill():
            pass
        out, self.buf = self.buf[:size], self.buf[size:]
        return out


# ----------------------------------------------------------------------------- PostgreSQL


def pg_connect(name="hnsw_bench"):
    import psycopg2

    conn = psycopg2.connect("", application_name=name)
    conn.autocommit = True
    return conn


def pg_one(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return None if row is None else row[0]


def pg_exec(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)


def table_tag(args, n, d):
    st = os.stat(args.base_path)
    return f"hnsw_bench {os.path.abspath(args.base_path)} size={st.st_size} mtime={int(st.st_mtime)} rows={n} dim={d}"


def ensure_table(conn, table, typ, base, tag):
    """(Re)loads table unless its comment says it holds this data set with this row count."""
    n, d = base.shape
    have = pg_one(conn, "SELECT obj_description(to_regclass(%s), 'pg_class')", (table,))
    if have == tag and pg_one(conn, f"SELECT count(*) FROM {table}") == n:
        log(f"{table}: reusing {n} rows")
        return False
    log(f"{table}: loading {n} x {d} ...")
    t0 = time.perf_counter()
    pg_exec(conn, f"DROP TABLE IF EXISTS {table}")
    pg_exec(conn, f"CREATE TABLE {table} (id int, v {typ}({d}))")
    with conn.cursor() as cur:
        cur.copy_expert(f"COPY {table} (id, v) FROM STDIN", CopyStream(base))
    pg_exec(conn, f"VACUUM ANALYZE {table}")
    pg_exec(conn, f"COMMENT ON TABLE {table} IS %s", (tag,))
    log(f"{table}: loaded in {time.perf_counter() - t0:.1f} s")
    return True


def recall_at_k(ids, gt, k):
    hit = 0
    for got, want in zip(ids, gt):
        hit += len(set(got[:k]) & set(want[:k].tolist()))
    return hit / (k * len(gt))


def client_overhead(conn, qtext, typ, n=2000):
    """Median round trip of a prepared trivial query, and of one sending a query vector."""
    out = {}
    pg_exec(conn, "SET plan_cache_mode = force_generic_plan")
    pg_exec(conn, "PREPARE gv_bench_one AS SELECT 1")
    pg_exec(conn, f"PREPARE gv_bench_vec({typ}) AS SELECT 1 WHERE $1 IS NOT NULL")
    for name, sql in (("select1", "EXECUTE gv_bench_one"), (f"send_{typ}", f"EXECUTE gv_bench_vec('{qtext}')")):
        cur = conn.cursor()
        lat = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            cur.execute(sql)
            cur.fetchall()
            lat.append(time.perf_counter_ns() - t0)
        cur.close()
        out[name + "_us"] = statistics.median(lat) / 1000
    pg_exec(conn, "DEALLOCATE gv_bench_one")
    pg_exec(conn, "DEALLOCATE gv_bench_vec")
    return out


def plot(path, results, engines, labels, args, title_extra):
    """recall@k against QPS per engine, ef_search annotated, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    markers = {"gv": "o", "pgv": "s", "hnswlib": "^", "faiss": "D"}
    for key in engines:
        pts = [p for p in results if p["engine"] == key]
        if not pts:
            continue
        ax.plot([p["recall"] for p in pts], [p["qps"] for p in pts], marker=markers.get(key, "o"),
                label=labels[key])
        for p in pts:
            ax.annotate(str(p["ef"]), (p["recall"], p["qps"]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel(f"recall@{args.k}")
    ax.set_ylabel("queries per second (single client, median)")
    ax.axvline(args.target_recall, color="grey", linestyle=":", linewidth=1)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"HNSW m={args.m} ef_construction={args.ef_construction}, {title_extra}", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
