#!/usr/bin/env python3
"""faiss's IVF-PQ on the same TEXMEX files and parameters as bench/ivf/ivfpq_recall.cpp
(Debian python3-faiss, one thread): IndexIVFPQFastScan (4-bit) or IndexIVFPQ (8-bit), each
wrapped in IndexRefineFlat for the exact re-rank of k_factor * 10 candidates. Prints training
time, add time and recall@10 / QPS / p50 / p99 per nprobe, in the driver's format.

  python3 bench/ivfpq_faiss.py DIR [--metric l2|cosine] [--lists 316] [--m 50] [--bits 4]
                               [--rerank 200] [--sample 20000] [--probes 8,16,32] [--queries 1000]
"""
import argparse
import time

import numpy as np

import faiss


def fvecs(path, limit=None):
    a = np.fromfile(path, np.int32)
    d = a[0]
    x = a.reshape(-1, d + 1)[:, 1:].copy().view(np.float32)
    return x[:limit] if limit else x


def ivecs(path):
    a = np.fromfile(path, np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--metric", default="l2", choices=["l2", "cosine"])
    ap.add_argument("--lists", type=int, default=316)
    ap.add_argument("--m", type=int, default=0, help="subquantizers (default dim / 2 at 4 bits, dim / 4 at 8)")
    ap.add_argument("--bits", type=int, default=4, choices=[4, 8])
    ap.add_argument("--rerank", type=int, default=200)
    ap.add_argument("--sample", type=int, default=20000)
    ap.add_argument("--probes", default="8,12,16,24,32")
    ap.add_argument("--queries", type=int, default=1000)
    a = ap.parse_args()
    faiss.omp_set_num_threads(1)
    xb = fvecs(a.dir + "/base.fvecs")
    xq = fvecs(a.dir + "/query.fvecs", a.queries)
    gt = ivecs(a.dir + ("/groundtruth_angular.ivecs" if a.metric == "cosine" else "/groundtruth.ivecs"))
    n, d = xb.shape
    metric = faiss.METRIC_L2
    if a.metric == "cosine":
        faiss.normalize_L2(xb)
        faiss.normalize_L2(xq)
        metric = faiss.METRIC_INNER_PRODUCT
    m = a.m or (d // 2 if a.bits == 4 else d // 4)
    quantizer = faiss.IndexFlat(d, metric)
    if a.bits == 4:
        ivf = faiss.IndexIVFPQFastScan(quantizer, d, a.lists, m, 4, metric)
    else:
        ivf = faiss.IndexIVFPQ(quantizer, d, a.lists, m, 8, metric)
    index = faiss.IndexRefineFlat(ivf)
    index.k_factor = a.rerank / 10.0
    sample = xb[np.linspace(0, n - 1, min(a.sample, n)).astype(np.int64)]
    t = time.perf_counter()
    index.train(sample)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    index.add(xb)
    add_s = time.perf_counter() - t
    print(f"faiss {'IVFPQFastScan' if a.bits == 4 else 'IVFPQ'} rows {n} dim {d} lists {a.lists} m {m} "
          f"bits {a.bits} rerank {a.rerank} sample {len(sample)}")
    print(f"train {train_s:.2f} s, add {add_s:.2f} s, codes {n * m * a.bits / 8 / 1048576:.1f} MiB")
    print(f"{'probes':>8} {'recall@10':>10} {'QPS':>10} {'p50 ms':>10} {'p99 ms':>10}")
    for p in [int(x) for x in a.probes.split(",")]:
        ivf.nprobe = p
        lat, hits = [], 0
        t0 = time.perf_counter()
        for i in range(len(xq)):
            t = time.perf_counter()
            _, ids = index.search(xq[i:i + 1], 10)
            lat.append(time.perf_counter() - t)
            hits += len(set(ids[0]) & set(gt[i, :10]))
        total = time.perf_counter() - t0
        lat.sort()
        print(f"{p:>8} {hits / (10 * len(xq)):>10.4f} {len(xq) / total:>10.0f} "
              f"{1e3 * lat[len(lat) // 2]:>10.3f} {1e3 * lat[len(lat) * 99 // 100]:>10.3f}")


if __name__ == "__main__":
    main()
