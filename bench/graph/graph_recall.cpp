// In-memory HNSW graph on a TEXMEX data set, without Postgres: link time
// and recall@10 per ef. For comparing graph policies quickly; the index's
// recall per ef is the same as the in-memory graph's (same core code).
//
//   build/gv_graph_recall DIR [--metric l2|cosine] [--m 16] [--efc 64]
//                         [--threads 2] [--limit N] [--queries N]
// DIR holds base.fvecs, query.fvecs and groundtruth.ivecs (or
// groundtruth_angular.ivecs for cosine).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../texmex_io.h"
#include "gigavector/hnsw/hnsw_calibrate.h"
#include "gigavector/hnsw/hnsw_graph.h"

namespace gv = gigavector;

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: %s DIR [--metric l2|cosine] [--m M] [--efc E] [--threads T]"
                     " [--limit N] [--queries N]\n",
                     argv[0]);
        return 2;
    }
    std::string dir = argv[1], metric_name = "l2";
    int m = 16, efc = 64, threads = 2;
    std::size_t limit = (std::size_t)-1, nq = 1000;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--metric")
            metric_name = argv[i + 1];
        else if (a == "--m")
            m = std::atoi(argv[i + 1]);
        else if (a == "--efc")
            efc = std::atoi(argv[i + 1]);
        else if (a == "--threads")
            threads = std::atoi(argv[i + 1]);
        else if (a == "--limit")
            limit = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--queries")
            nq = std::strtoull(argv[i + 1], nullptr, 10);
    }
    gv::Metric metric = metric_name == "cosine" ? gv::Metric::kCosine : gv::Metric::kL2;
    int dim = 0, qdim = 0, k = 0;
    std::vector<float> base = bench_io::ReadFvecs(dir + "/base.fvecs", &dim, limit);
    std::vector<float> queries = bench_io::ReadFvecs(dir + "/query.fvecs", &qdim, nq);
    std::vector<int> gt = bench_io::ReadIvecs(
        dir + (metric == gv::Metric::kCosine ? "/groundtruth_angular.ivecs" : "/groundtruth.ivecs"),
        &k);
    std::size_t n = base.size() / dim;
    nq = queries.size() / dim;
    if (limit != (std::size_t)-1)
        std::fprintf(stderr, "note: --limit makes the ground truth wrong\n");

    gv::HnswParams params;
    params.m = m;
    params.ef_construction = efc;
    std::size_t bytes = gv::HnswGraph::BytesNeeded(n, dim, params);
    std::unique_ptr<char[]> raw(new char[bytes + 64]);
    void *mem = (void *)(((uintptr_t)raw.get() + 63) & ~(uintptr_t)63);
    gv::HnswGraph g(mem, bytes, n, dim, metric, params);
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::size_t i = 0; i < n; i++) g.Add(&base[i * dim], gv::RandomLevel(1.0 - u(rng), m));
    auto t0 = std::chrono::steady_clock::now();
    g.LinkRange(0, (gv::NodeId)n, threads);
    auto t1 = std::chrono::steady_clock::now();
    std::size_t filled = g.FillDeferred();
    std::size_t orphans = g.ConnectOrphans();
    auto t2 = std::chrono::steady_clock::now();
    std::printf(
        "n %zu dim %d m %d efc %d threads %d: link %.2f s (%.0f distances per node), "
        "fill+orphans %.2f s (%zu filled, %zu orphans linked)\n",
        n, dim, m, efc, threads, std::chrono::duration<double>(t1 - t0).count(),
        (double)g.link_distances() / n, std::chrono::duration<double>(t2 - t1).count(), filled,
        orphans);
    gv::EfCalibration cal = gv::CalibrateEfSearch(
        g, 200, 10, getenv("GV_TARGET") ? atof(getenv("GV_TARGET")) : 0.96, threads);
    std::printf("calibrated ef %d (sample recall %.4f, %d queries, %.2f s)\n", cal.ef, cal.recall,
                cal.queries, cal.seconds);
    std::vector<gv::Candidate> out;
    for (int ef : {10, 20, 40, 80, 120, 160, 240, 320, 480}) {
        double hits = 0, distances = 0;
        auto q0 = std::chrono::steady_clock::now();
        for (std::size_t q = 0; q < nq; q++) {
            distances += (double)g.Search(&queries[q * dim], 10, ef, out);
            for (const gv::Candidate &c : out)
                for (int j = 0; j < 10; j++)
                    if (gt[q * k + j] == (int)c.id) hits++;
        }
        auto q1 = std::chrono::steady_clock::now();
        std::printf("ef %4d recall@10 %.4f  distances/query %.0f  QPS %.0f\n", ef,
                    hits / (10.0 * nq), distances / nq,
                    nq / std::chrono::duration<double>(q1 - q0).count());
    }
    return 0;
}
