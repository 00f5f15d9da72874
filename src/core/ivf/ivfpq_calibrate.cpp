// IVF-PQ derived options, brute-force neighbours and the measured search
// settings (ivfpq_calibrate.h).
#include "gigavector/ivf/ivfpq_calibrate.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

#include "gigavector/simd/distance_kernels.h"

namespace gigavector {

namespace {

// The heap order of the neighbour heaps: the farthest on top.
bool FartherEntry(const IvfNeighbourEntry &a, const IvfNeighbourEntry &b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

// Candidate counts and probe counts the calibration tries.
// (at least 40: the first batch of a scan is its candidates, and a LIMIT
// above them is served by widening, whose late rows may come out of order)
constexpr int kRerankSteps[] = {40, 64, 100, 160, 250, 400, 640, 1000, 1600, 2500, 4000};

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
    if (metric == Metric::kL1) {
        const DistanceKernels &kern = ActiveKernels();
        for (int i = 0; i < q; i++)
            for (std::size_t j = 0; j < n; j++)
                dist(i, (Eigen::Index)j) =
                    kern.l1(queries + (std::size_t)i * dim, rows + j * dim, (std::size_t)dim);
    } else if (metric == Metric::kL2) {
        // the exact kernel: |q|^2 - 2 q.x + |x|^2 loses the small distances
        // of near-duplicates, which the neighbours are
        const DistanceKernels &kern = ActiveKernels();
        for (int i = 0; i < q; i++)
            for (std::size_t j = 0; j < n; j++)
                dist(i, (Eigen::Index)j) = kern.l2_squared(queries + (std::size_t)i * dim,
                                                           rows + j * dim, (std::size_t)dim);
    } else {
        dist.noalias() = qm * x.transpose();  // dot products
        if (metric == Metric::kCosine)
            dist = (1.0f - dist.array()).matrix();
        else
            dist = -dist;
    }
    for (int i = 0; i < q; i++) {
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
    IvfPqCalibration best;
    best.queries = q;
    best.probes = model.lists;
    best.rerank = kRerankSteps[sizeof(kRerankSteps) / sizeof(int) - 1];
    if (q == 0 || model.lists == 0) return best;
    const std::size_t total = lists.offsets[model.lists];
    const int max_rerank = (int)std::min<std::size_t>(
        kRerankSteps[sizeof(kRerankSteps) / sizeof(int) - 1], std::max<std::size_t>(total, 1));
    IvfPqScratchSizes sz = IvfPqScratchSizesFor(model, (std::size_t)max_rerank + 1);
    std::vector<float> list_d(sz.list_floats), residual(sz.dim_floats), table(sz.table_floats);
    std::vector<uint32_t> order((std::size_t)q * model.lists);
    std::vector<uint8_t> qtable(sz.qtable_bytes);
    std::vector<IvfCandidate> heap(sz.heap_entries);
    IvfPqScratch s{list_d.data(), nullptr,       residual.data(),
                   table.data(),  qtable.data(), heap.data()};
    for (int i = 0; i < q; i++) {
        s.probe_order = &order[(std::size_t)i * model.lists];
        RankLists(model, queries + (std::size_t)i * model.dim, s);
    }
    // the truth's entries that exist, per query
    int wanted = 0;
    for (std::size_t i = 0; i < (std::size_t)q * k; i++)
        if (truth[i] != kIvfNoId) wanted++;
    if (wanted == 0) return best;
    const int steps = (int)(sizeof(kRerankSteps) / sizeof(int));
    double best_cost = std::numeric_limits<double>::infinity();
    double best_recall = -1.0;
    std::vector<long> hits(steps);
    const double per_list_rows = (double)total / model.lists;
    for (int p = 1;; p = std::max(p + 1, (p * 3) / 2)) {
        if (p > model.lists) p = model.lists;
        double scan_cost = p * (cost.per_list + per_list_rows * cost.per_code);
        if (scan_cost + k * cost.per_rerank >= best_cost) break;  // cannot beat the best
        std::fill(hits.begin(), hits.end(), 0);
        for (int i = 0; i < q; i++) {
            s.probe_order = &order[(std::size_t)i * model.lists];
            IvfPqScanner scanner(model, queries + (std::size_t)i * model.dim, s,
                                 (std::size_t)max_rerank + 1);
            scanner.ScanLists(lists, 0, p);
            std::size_t n = scanner.TakeSorted();
            int rank = 0;
            for (std::size_t c = 0; c < n; c++) {
                uint64_t id = s.heap[c].id;
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
        for (int r = 0; r < steps; r++) {
            if (kRerankSteps[r] > max_rerank && r > 0 && kRerankSteps[r - 1] >= max_rerank) break;
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
        }
        if (p == model.lists) break;
    }
    return best;
}

}  // namespace gigavector
