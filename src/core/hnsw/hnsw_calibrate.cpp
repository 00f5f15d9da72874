// Choosing ef_search from the data (hnsw_calibrate.h).
#include "gigavector/hnsw/hnsw_calibrate.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include <pthread.h>
#include <signal.h>

namespace gigavector {

namespace {

// The ef values tried, ascending: steps of about 1.2x (with 1.4x steps the
// ef chosen overshot by up to 1.4x, or, just reaching the target on the
// sample, fell short of it on other queries as often).
constexpr int kCalibrationEfs[] = {10,  12,  14,  17,  20,  24,   28,   34,   40,   48,   56,
                                   68,  80,  96,  112, 136, 160,  192,  224,  272,  320,  384,
                                   448, 544, 640, 768, 896, 1088, 1280, 1536, 1792, 2176, 2560};

}  // namespace

EfCalibration CalibrateEfSearch(const HnswGraph &graph, int queries, int k, double target,
                                int threads) {
    auto t0 = std::chrono::steady_clock::now();
    EfCalibration out{kCalibrationEfs[0], 1.0, 0, 0.0};
    const std::size_t n = graph.size();
    if (n <= (std::size_t)k + 1) return out;
    std::size_t q = std::min<std::size_t>((std::size_t)queries, n);
    std::size_t stride = n / q;
    std::vector<NodeId> sample(q);
    for (std::size_t i = 0; i < q; i++) sample[i] = (NodeId)(i * stride);
    // exact neighbours by brute force, the query itself left out
    std::vector<NodeId> truth(q * (std::size_t)k);
    // (in blocks of queries, so each base vector is read from memory once a
    // block: brute force over 60k x 784-d was 37 GB of reads one query at a
    // time)
    constexpr std::size_t kBlock = 16;
    auto brute = [&](std::size_t from, std::size_t to) {
        std::vector<std::vector<Candidate>> best(kBlock);
        for (std::size_t b0 = from; b0 < to; b0 += kBlock) {
            std::size_t b1 = std::min(to, b0 + kBlock);
            for (std::size_t i = b0; i < b1; i++) best[i - b0].clear();
            for (std::size_t j = 0; j < n; j++) {
                for (std::size_t i = b0; i < b1; i++) {
                    if (j == sample[i]) continue;
                    std::vector<Candidate> &h = best[i - b0];
                    Candidate c{graph.DistanceTo(graph.vector(sample[i]), (NodeId)j), (NodeId)j};
                    if ((int)h.size() < k) {
                        HeapPush<FartherOnTop>(h, c);
                    } else if (Closer(c, h.front())) {
                        HeapPop<FartherOnTop>(h);
                        HeapPush<FartherOnTop>(h, c);
                    }
                }
            }
            for (std::size_t i = b0; i < b1; i++) {
                std::vector<Candidate> &h = best[i - b0];
                std::sort(h.begin(), h.end(), Closer);
                for (int j = 0; j < k; j++)
                    truth[i * k + j] = j < (int)h.size() ? h[j].id : kNoNode;
            }
        }
    };
    if (threads < 1) threads = 1;
    std::vector<std::thread> helpers;
    std::size_t per = (q + threads - 1) / threads;
    if (threads > 1) {
        // helpers get no signals: the host process (a backend) takes them
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (int t = 1; t < threads; t++) {
            std::size_t from = std::min(q, per * t), to = std::min(q, per * (t + 1));
            if (from < to) helpers.emplace_back(brute, from, to);
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    brute(0, std::min(q, per));
    for (std::thread &t : helpers) t.join();

    std::vector<Candidate> found;
    for (int ef : kCalibrationEfs) {
        double hits = 0, total = 0;
        for (std::size_t i = 0; i < q; i++) {
            // the query as if it were not in the graph: a search that may
            // pass through the query's own node finds its neighbours far too
            // easily (MNIST: 0.98 at ef 10 that way, 0.94 for held-out digits)
            graph.Search(graph.vector(sample[i]), k, std::max(ef, k), found, sample[i]);
            for (const Candidate &c : found)
                for (int j = 0; j < k; j++) hits += truth[i * k + j] == c.id;
            for (int j = 0; j < k; j++) total += truth[i * k + j] != kNoNode;
        }
        out.ef = ef;
        out.recall = total > 0 ? hits / total : 1.0;
        if (out.recall >= target) break;
    }
    out.queries = (int)q;
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

}  // namespace gigavector
