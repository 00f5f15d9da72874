// IVF-PQ derived options, brute-force neighbours and the measured search
// settings (ivfpq_calibrate.h).
#include "gigavector/ivf/ivfpq_calibrate.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

#include "gigavector/ann/parallel.h"
#include "gigavector/simd/distance_kernels.h"

namespace gigavector {

namespace {

// The heap order of the neighbour heaps: the farthest on top.
bool FartherEntry(const IvfNeighbourEntry &a, const IvfNeighbourEntry &b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

// Candidate counts and probe counts the calibration tries.
// (a LIMIT above the candidates is served by widening, whose rows can come
// after farther ones with gigavector.scan_order = relaxed)
constexpr int kRerankSteps[] = {10, 16, 25, 40, 64, 100, 160, 250, 400, 640, 1000};

}  // namespace

int MaxFastScanSubvectors(int page_bytes, int per_entry_bytes) {
    int room = page_bytes - kFastScanBlock * per_entry_bytes;
    int m = room / 16;
    return m < 1 ? 0 : (m & ~3) > 0 ? (m & ~3) : m;
}

IvfPqShapeChoice IvfPqDefaultShape(double rows, int dim, IvfPqShapeChoice given,
                                   int max_subvectors) {
    IvfPqShapeChoice c = given;
    if (c.lists <= 0) {
        double l = std::round(std::sqrt(std::max(rows, 0.0)));
        if (rows < 10000) l = std::max(1.0, std::round(rows / 100.0));  // lists of ~100 rows
        c.lists = (int)std::min(std::max(l, 1.0), 65535.0);
    }
    if (c.bits <= 0) c.bits = 4;
    if (c.subvectors <= 0) {
        int m = (dim + 1) / 2;  // two dimensions per subvector
        if (c.bits == 4) m = std::min(m, max_subvectors);
        c.subvectors = std::max(1, std::min(m, dim));
    }
    return c;
}

void IvfExactNeighbours::AddBatch(const float *rows, const uint64_t *ids, std::size_t n) {
    if (n == 0 || q == 0) return;
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const RowMatrix> x(rows, (Eigen::Index)n, dim);
    Eigen::Map<const RowMatrix> qm(queries, q, dim);
    Eigen::Map<RowMatrix> dist(work, q, (Eigen::Index)n);
    if (metric == Metric::kInnerProduct || metric == Metric::kCosine) {
        dist.noalias() = qm * x.transpose();  // dot products
        if (metric == Metric::kCosine)
            dist = (1.0f - dist.array()).matrix();
        else
            dist = -dist;
    }
    // L1 and L2 by the kernels (|q|^2 - 2 q.x + |x|^2 loses the small
    // distances of near-duplicates, which the neighbours are), and the
    // heaps: the queries shared out to the threads
    RunParallel(std::min(threads, q), [&](int worker, int workers) {
        const DistanceKernels &kern = ActiveKernels();
        for (int i = worker; i < q; i += workers) {
            if (metric == Metric::kL1 || metric == Metric::kL2)
                for (std::size_t j = 0; j < n; j++)
                    dist(i, (Eigen::Index)j) =
                        metric == Metric::kL1 ? kern.l1(queries + (std::size_t)i * dim,
                                                        rows + j * dim, (std::size_t)dim)
                                              : kern.l2_squared(queries + (std::size_t)i * dim,
                                                                rows + j * dim, (std::size_t)dim);
            IvfNeighbourEntry *h = heaps + (std::size_t)i * k;
            int &size = sizes[i];
            for (std::size_t j = 0; j < n; j++) {
                if (ids[j] == query_ids[i]) continue;
                IvfNeighbourEntry e{dist(i, (Eigen::Index)j), ids[j]};
                if (size < k) {
                    h[size++] = e;
                    std::push_heap(h, h + size, FartherEntry);
                } else if (FartherEntry(e, h[0])) {
                    std::pop_heap(h, h + size, FartherEntry);
                    h[size - 1] = e;
                    std::push_heap(h, h + size, FartherEntry);
                }
            }
        }
    });
}

void IvfExactNeighbours::TakeResult(uint64_t *out) noexcept {
    for (int i = 0; i < q; i++) {
        IvfNeighbourEntry *h = heaps + (std::size_t)i * k;
        std::sort_heap(h, h + sizes[i], FartherEntry);
        for (int j = 0; j < k; j++) out[(std::size_t)i * k + j] = j < sizes[i] ? h[j].id : kIvfNoId;
        sizes[i] = 0;
    }
}

IvfPqCalibration CalibrateIvfPq(const IvfPqModel &model, const IvfArrayLists &lists,
                                const float *queries, const uint64_t *query_ids,
                                const uint64_t *truth, int q, int k, double target,
                                const IvfPqCostModel &cost) {
    const int steps = (int)(sizeof(kRerankSteps) / sizeof(int));
    IvfPqCalibration best;
    best.queries = q;
    best.probes = model.lists;
    best.rerank = kRerankSteps[steps - 1];
    if (q == 0 || model.lists == 0) return best;
    const std::size_t total = lists.offsets[model.lists];
    const int max_rerank =
        (int)std::min<std::size_t>(kRerankSteps[steps - 1], std::max<std::size_t>(total, 1));
    int wanted = 0;
    for (std::size_t i = 0; i < (std::size_t)q * k; i++)
        if (truth[i] != kIvfNoId) wanted++;
    if (wanted == 0) return best;
    // one scanner per query, each with its scratch, so that the probe count
    // grows for all queries in step: each list is scanned once per query
    // (the heap keeps max_rerank + 1: the query's own row takes a place)
    IvfPqScratchSizes sz = IvfPqScratchSizesFor(model, (std::size_t)max_rerank + 1);
    const std::size_t per_query = sz.list_floats + sz.list_ids + sz.dim_floats + sz.table_floats +
                                  (sz.qtable_bytes + 3) / 4 +
                                  sz.heap_entries * (sizeof(IvfCandidate) / sizeof(float));
    std::vector<float> arena((std::size_t)q * per_query);
    std::vector<IvfPqScratch> scratch((std::size_t)q);
    std::vector<IvfPqScanner> scanners;
    scanners.reserve((std::size_t)q);
    for (int i = 0; i < q; i++) {
        float *at = &arena[(std::size_t)i * per_query];
        IvfPqScratch &s = scratch[(std::size_t)i];
        s.list_distances = at;
        at += sz.list_floats;
        s.probe_order = reinterpret_cast<uint32_t *>(at);
        at += sz.list_ids;
        s.residual = at;
        at += sz.dim_floats;
        s.table = at;
        at += sz.table_floats;
        s.qtable = reinterpret_cast<uint8_t *>(at);
        at += (sz.qtable_bytes + 3) / 4;
        s.heap = reinterpret_cast<IvfCandidate *>(at);
        const float *qv = queries + (std::size_t)i * model.dim;
        RankLists(model, qv, s);
        scanners.emplace_back(model, qv, s, (std::size_t)max_rerank + 1);
    }
    std::vector<IvfCandidate> sorted((std::size_t)max_rerank + 1);
    auto closer = [](const IvfCandidate &a, const IvfCandidate &b) {
        return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
    };
    double best_cost = std::numeric_limits<double>::infinity();
    double best_recall = -1.0;
    std::vector<long> hits(steps);
    const double per_list_rows = (double)total / model.lists;
    int scanned = 0;
    for (int p = 1;; p = std::max(p + 1, (p * 3) / 2)) {
        if (p > model.lists) p = model.lists;
        double scan_cost = p * (cost.per_list + per_list_rows * cost.per_code);
        if (scan_cost + k * cost.per_rerank >= best_cost) break;  // cannot beat the best
        std::fill(hits.begin(), hits.end(), 0);
        for (int i = 0; i < q; i++) {
            IvfPqScanner &sc = scanners[(std::size_t)i];
            sc.ScanLists(lists, scanned, p - scanned);
            // the heap's candidates in order (the heap itself goes on)
            std::size_t n = sc.size();
            std::copy(scratch[(std::size_t)i].heap, scratch[(std::size_t)i].heap + n,
                      sorted.begin());
            std::sort(sorted.begin(), sorted.begin() + (std::ptrdiff_t)n, closer);
            int rank = 0;
            for (std::size_t c = 0; c < n; c++) {
                uint64_t id = sorted[c].id;
                if (id == query_ids[i]) continue;
                for (int t = 0; t < k; t++)
                    if (truth[(std::size_t)i * k + t] == id) {
                        for (int r = 0; r < steps; r++)
                            if (rank < kRerankSteps[r]) hits[r]++;
                        break;
                    }
                rank++;
            }
        }
        scanned = p;
        for (int r = 0; r < steps; r++) {
            double recall = (double)hits[r] / wanted;
            double c = scan_cost + std::min(kRerankSteps[r], max_rerank) * cost.per_rerank;
            if (recall >= target && c < best_cost) {
                best_cost = c;
                best.probes = p;
                best.rerank = std::max(kRerankSteps[r], k);
                best.recall = recall;
            }
            if (best_cost == std::numeric_limits<double>::infinity() && recall > best_recall) {
                best_recall = recall;  // nothing reached the target yet: keep the best
                best.probes = p;
                best.rerank = std::max(kRerankSteps[r], k);
                best.recall = recall;
            }
            if (kRerankSteps[r] >= max_rerank) break;
        }
        if (p == model.lists) break;
    }
    return best;
}

}  // namespace gigavector
