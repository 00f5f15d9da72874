// In-memory IVF-PQ (the core of gv_ivfpq, without Postgres) on a TEXMEX
// data set: training and add time, code bytes, and recall@10 / QPS (one
// thread) per probe count, with the exact re-rank of `rerank` candidates
// from the base vectors. For choosing defaults and comparing with faiss
// (bench/ivfpq_faiss.py runs faiss on the same files and parameters).
//
//   build/gv_ivfpq_recall DIR [--metric l2|cosine|ip] [--lists N] [--m N]
//                         [--bits 4|8] [--rerank N] [--probes 1,2,4,...]
//                         [--sample N] [--iterations N] [--queries N] [--simd avx2]
// Lists default to 4 sqrt(rows), m to dim / 4 (4-bit) or dim / 4 (8-bit),
// the training sample to 64 rows per list (at least 10000, at most all).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../texmex_io.h"
#include "gigavector/ivf/ivfpq.h"
#include "gigavector/simd/simd_level.h"

namespace gv = gigavector;

namespace {

double Seconds(std::chrono::steady_clock::time_point a) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

std::vector<int> ParseList(const char *s) {
    std::vector<int> out;
    for (const char *p = s; *p;) {
        out.push_back(std::atoi(p));
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    return out;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: %s DIR [--metric l2|cosine|ip] [--lists N] [--m N] "
                     "[--bits 4|8] [--rerank N] [--probes LIST] [--sample N] "
                     "[--queries N] [--simd LEVEL]\n",
                     argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    gv::Metric metric = gv::Metric::kL2;
    int lists = 0, m = 0, bits = 4, rerank = 100;
    std::size_t sample = 0, nq = 1000;
    gv::KMeansParams kmeans;
    std::vector<int> probes = {1, 2, 4, 8, 12, 16, 24, 32, 48, 64};
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!std::strcmp(a, "--metric"))
            metric = !std::strcmp(v, "cosine") ? gv::Metric::kCosine
                     : !std::strcmp(v, "ip")   ? gv::Metric::kInnerProduct
                                               : gv::Metric::kL2;
        else if (!std::strcmp(a, "--lists"))
            lists = std::atoi(v);
        else if (!std::strcmp(a, "--m"))
            m = std::atoi(v);
        else if (!std::strcmp(a, "--bits"))
            bits = std::atoi(v);
        else if (!std::strcmp(a, "--rerank"))
            rerank = std::atoi(v);
        else if (!std::strcmp(a, "--probes"))
            probes = ParseList(v);
        else if (!std::strcmp(a, "--sample"))
            sample = (std::size_t)std::atol(v);
        else if (!std::strcmp(a, "--iterations"))
            kmeans.iterations = std::atoi(v);
        else if (!std::strcmp(a, "--queries"))
            nq = (std::size_t)std::atol(v);
        else if (!std::strcmp(a, "--simd")) {
            gv::SimdLevel level;
            if (!gv::ParseSimdLevel(v, &level) || !gv::SetActiveSimdLevel(level)) {
                std::fprintf(stderr, "unknown or unsupported SIMD level %s\n", v);
                return 2;
            }
        }
    }
    int dim = 0, qdim = 0, k = 0;
    std::vector<float> base = bench_io::ReadFvecs(dir + "/base.fvecs", &dim, (std::size_t)-1);
    std::vector<float> queries = bench_io::ReadFvecs(dir + "/query.fvecs", &qdim, nq);
    std::vector<int> gt = bench_io::ReadIvecs(
        dir + (metric == gv::Metric::kCosine ? "/groundtruth_angular.ivecs" : "/groundtruth.ivecs"),
        &k);
    const std::size_t n = base.size() / dim;
    nq = queries.size() / dim;
    for (std::size_t i = 0; i < n; i++) gv::PrepareForMetric(metric, &base[i * dim], dim);
    for (std::size_t i = 0; i < nq; i++) gv::PrepareForMetric(metric, &queries[i * dim], dim);
    if (lists <= 0) lists = std::max(1, (int)std::lround(4.0 * std::sqrt((double)n)));
    if (m <= 0) m = std::max(1, dim / 4);
    if (sample == 0) sample = std::min(n, std::max<std::size_t>(10000, (std::size_t)lists * 64));

    gv::IvfPqModel model;
    model.dim = dim;
    model.lists = lists;
    model.metric = metric;
    model.pq = gv::PqShape{dim, m, bits};
    std::vector<float> centroids((std::size_t)lists * dim), codebook(model.pq.CodebookFloats());
    // the sample: evenly spaced rows
    std::vector<float> train(sample * dim);
    for (std::size_t i = 0; i < sample; i++)
        std::memcpy(&train[i * dim], &base[(i * n / sample) * dim], sizeof(float) * dim);
    auto t0 = std::chrono::steady_clock::now();
    gv::TrainIvfPq(train.data(), sample, dim, lists, model.pq, kmeans, centroids.data(),
                   codebook.data());
    double train_s = Seconds(t0);
    model.centroids = centroids.data();
    model.codebook = codebook.data();
    t0 = std::chrono::steady_clock::now();
    gv::IvfMemoryLists store(lists, model.pq);
    std::vector<uint32_t> list_of(n);
    std::vector<uint8_t> codes(n * (std::size_t)m);
    gv::EncodeIvfPqBatch(model, base.data(), n, list_of.data(), codes.data());
    for (std::size_t i = 0; i < n; i++) store.Add(list_of[i], i, &codes[i * m]);
    store.Pack();
    double add_s = Seconds(t0);
    std::printf("rows %zu dim %d metric %d lists %d m %d bits %d rerank %d sample %zu simd %s\n", n,
                dim, (int)metric, lists, m, bits, rerank, sample,
                gv::SimdLevelName(gv::ActiveKernels().level));
    std::printf("train %.2f s, add %.2f s, codes %.1f MiB (%.1f%% of the vectors)\n", train_s,
                add_s, store.CodeBytes() / 1048576.0,
                100.0 * store.CodeBytes() / (4.0 * (double)n * dim));

    gv::IvfPqScratchSizes z = gv::IvfPqScratchSizesFor(model, (std::size_t)rerank);
    std::vector<float> ld(z.list_floats), res(z.dim_floats), table(z.table_floats);
    std::vector<uint32_t> order(z.list_ids);
    std::vector<uint8_t> qt(z.qtable_bytes);
    std::vector<gv::IvfCandidate> heap(z.heap_entries);
    gv::IvfPqScratch s{ld.data(), order.data(), res.data(), table.data(), qt.data(), heap.data()};
    const gv::DistanceKernels &kern = gv::ActiveKernels();
    std::printf("%8s %10s %10s %10s %10s\n", "probes", "recall@10", "QPS", "p50 ms", "p99 ms");
    for (int p : probes) {
        if (p > lists) continue;
        double hits = 0;
        std::vector<double> lat;
        std::vector<std::pair<float, uint64_t>> exact;
        auto all = std::chrono::steady_clock::now();
        for (std::size_t qi = 0; qi < nq; qi++) {
            const float *q = &queries[qi * dim];
            auto t = std::chrono::steady_clock::now();
            gv::RankLists(model, q, s);
            gv::IvfPqScanner scan(model, q, s, (std::size_t)rerank);
            scan.ScanLists(store, 0, p);
            std::size_t c = scan.TakeSorted();
            exact.clear();
            for (std::size_t i = 0; i < c; i++)
                exact.push_back(
                    {gv::IndexDistance(metric, kern, q, &base[heap[i].id * dim], dim), heap[i].id});
            std::size_t top = std::min<std::size_t>(10, exact.size());
            std::partial_sort(exact.begin(), exact.begin() + top, exact.end());
            lat.push_back(Seconds(t));
            for (std::size_t i = 0; i < top; i++)
                for (int j = 0; j < 10; j++)
                    if ((int)exact[i].second == gt[qi * k + j]) hits++;
        }
        double total = Seconds(all);
        std::sort(lat.begin(), lat.end());
        std::printf("%8d %10.4f %10.0f %10.3f %10.3f\n", p, hits / (10.0 * nq), nq / total,
                    1e3 * lat[lat.size() / 2], 1e3 * lat[lat.size() * 99 / 100]);
    }
    return 0;
}
