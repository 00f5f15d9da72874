// IVF-PQ training, encoding and the list scan (ivfpq.h).
#include "gigavector/ivf/ivfpq.h"

#include <algorithm>
#include <limits>

#include "gigavector/ann/parallel.h"
#include "gigavector/simd/distance_kernels.h"

namespace gigavector {

namespace {

bool ResidualTable(Metric m) {
    return m == Metric::kL2 || m == Metric::kL1;
}

bool CloserCandidate(const IvfCandidate &a, const IvfCandidate &b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

}  // namespace

void TrainIvfPq(const float *sample, std::size_t n, int dim, int lists, const PqShape &pq,
                const KMeansParams &params, float *centroids, float *codebook) {
    TrainKMeans(sample, n, (std::size_t)dim, (std::size_t)lists, params, centroids);
    TrainIvfPqCodebook(sample, n, dim, lists, centroids, pq, params, codebook);
}

void TrainIvfPqCodebook(const float *sample, std::size_t n, int dim, int lists,
                        const float *centroids, const PqShape &pq, const KMeansParams &params,
                        float *codebook) {
    // at most kPqPointsPerCentroid per codebook centroid, evenly spaced (16
    // centroids of 2 dimensions learn nothing more from MNIST's 15680 rows
    // than from 4096, at a quarter of the time)
    const std::size_t limit = (std::size_t)kPqPointsPerCentroid * (std::size_t)pq.Ksub();
    const std::size_t used = std::min(n, limit);
    std::vector<float> picked;
    if (used < n) {
        picked.resize(used * (std::size_t)dim);
        for (std::size_t i = 0; i < used; i++) {
            std::size_t from = i * n / used;
            std::copy(sample + from * dim, sample + (from + 1) * dim, &picked[i * dim]);
        }
        sample = picked.data();
        n = used;
    }
    std::vector<uint32_t> assign(n);
    AssignNearest(sample, n, (std::size_t)dim, centroids, (std::size_t)lists, assign.data(),
                  nullptr, params.block, params.threads);
    std::vector<float> residuals(n * (std::size_t)dim);
    for (std::size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            residuals[i * dim + d] =
                sample[i * dim + d] - centroids[(std::size_t)assign[i] * dim + d];
    KMeansParams p = params;
    p.seed = params.seed ^ 0x5bd1e995u;  // not the coarse k-means' draws again
    TrainPq(pq, residuals.data(), n, p, codebook);
}

uint32_t EncodeIvfPq(const IvfPqModel &model, const float *v, float *residual,
                     uint8_t *codes) noexcept {
    const DistanceKernels &k = ActiveKernels();
    const std::size_t dim = (std::size_t)model.dim;
    uint32_t best = 0;
    float best_d = std::numeric_limits<float>::infinity();
    for (int c = 0; c < model.lists; c++) {
        float d = k.l2_squared(v, model.centroids + (std::size_t)c * dim, dim);
        if (d < best_d) {
            best_d = d;
            best = (uint32_t)c;
        }
    }
    const float *cen = model.centroids + (std::size_t)best * dim;
    for (std::size_t d = 0; d < dim; d++) residual[d] = v[d] - cen[d];
    EncodePq(model.pq, model.codebook, residual, codes);
    return best;
}

void EncodeIvfPqBatch(const IvfPqModel &model, const float *v, std::size_t n, uint32_t *lists,
                      uint8_t *codes, int threads) {
    const std::size_t dim = (std::size_t)model.dim;
    AssignNearest(v, n, dim, model.centroids, (std::size_t)model.lists, lists, nullptr, 4096,
                  threads);
    const std::size_t chunk = 64;
    const std::size_t chunks = (n + chunk - 1) / chunk;
    RunParallel((int)std::min<std::size_t>((std::size_t)std::max(threads, 1), chunks),
                [&](int worker, int workers) {
                    std::vector<float> residual(dim);
                    for (std::size_t c = (std::size_t)worker; c < chunks; c += (std::size_t)workers)
                        for (std::size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); i++) {
                            const float *x = v + i * dim,
                                        *cen = model.centroids + (std::size_t)lists[i] * dim;
                            for (std::size_t d = 0; d < dim; d++) residual[d] = x[d] - cen[d];
                            EncodePq(model.pq, model.codebook, residual.data(),
                                     codes + i * (std::size_t)model.pq.m);
                        }
                });
}

IvfPqScratchSizes IvfPqScratchSizesFor(const IvfPqModel &model, std::size_t rerank) noexcept {
    IvfPqScratchSizes s;
    s.list_floats = (std::size_t)model.lists;
    s.list_ids = (std::size_t)model.lists;
    s.dim_floats = (std::size_t)model.dim;
    s.table_floats = (std::size_t)model.pq.m * (std::size_t)model.pq.Ksub();
    s.qtable_bytes = (std::size_t)16 * (std::size_t)FastScanPaddedM(model.pq.m);
    s.heap_entries = rerank;
    return s;
}

int RankLists(const IvfPqModel &model, const float *q, IvfPqScratch &s) noexcept {
    const DistanceKernels &k = ActiveKernels();
    const std::size_t dim = (std::size_t)model.dim;
    for (int c = 0; c < model.lists; c++) {
        const float *cen = model.centroids + (std::size_t)c * dim;
        s.list_distances[c] = model.metric == Metric::kL2   ? k.l2_squared(q, cen, dim)
                              : model.metric == Metric::kL1 ? k.l1(q, cen, dim)
                                                            : -k.inner_product(q, cen, dim);
        s.probe_order[c] = (uint32_t)c;
    }
    const float *d = s.list_distances;
    std::sort(s.probe_order, s.probe_order + model.lists,
              [d](uint32_t a, uint32_t b) { return d[a] < d[b] || (d[a] == d[b] && a < b); });
    return model.lists;
}

void IvfPqScanner::PrepareList(uint32_t list) noexcept {
    const std::size_t dim = (std::size_t)model_.dim;
    const float *cen = model_.centroids + (std::size_t)list * dim;
    if (ResidualTable(model_.metric)) {
        for (std::size_t d = 0; d < dim; d++) s_.residual[d] = q_[d] - cen[d];
        ComputePqTable(model_.pq, model_.codebook, s_.residual, model_.metric, s_.table);
        list_bias_ = 0.0f;
    } else {
        float qc = ActiveKernels().inner_product(q_, cen, dim);
        list_bias_ = model_.metric == Metric::kCosine ? 1.0f - qc : -qc;
        if (shared_table_) return;  // (and its quantized copy)
        ComputePqTable(model_.pq, model_.codebook, q_, model_.metric, s_.table);
        shared_table_ = true;
    }
    if (model_.pq.bits == 4)
        QuantizeFastScanTable(s_.table, model_.pq.m, s_.qtable, &qbias_, &qscale_);
}

void IvfPqScanner::Offer(float distance, uint64_t id) noexcept {
    IvfCandidate c{distance, id};
    if (size_ < rerank_) {
        s_.heap[size_++] = c;
        std::push_heap(s_.heap, s_.heap + size_, CloserCandidate);
    } else if (rerank_ > 0 && CloserCandidate(c, s_.heap[0])) {
        std::pop_heap(s_.heap, s_.heap + size_, CloserCandidate);
        s_.heap[size_ - 1] = c;
        std::push_heap(s_.heap, s_.heap + size_, CloserCandidate);
    }
}

void IvfPqScanner::Blocks(const uint8_t *blocks, const uint64_t *ids, std::size_t n) noexcept {
    const FastScanKernels &k = ActiveFastScanKernels();
    const int m = model_.pq.m, pm = FastScanPaddedM(m);
    const std::size_t bytes = FastScanBlockBytes(m);
    uint16_t sums[kFastScanBlock];
    for (std::size_t b = 0; b * kFastScanBlock < n; b++) {
        k.scan_block(blocks + b * bytes, s_.qtable, pm, sums);
        std::size_t base = b * kFastScanBlock;
        std::size_t count = std::min<std::size_t>(kFastScanBlock, n - base);
        // a sum at or above the heap's worst cannot enter: skip the others
        float limit = size_ == rerank_ && rerank_ > 0 ? s_.heap[0].distance
                                                      : std::numeric_limits<float>::infinity();
        for (std::size_t v = 0; v < count; v++) {
            float d = qbias_ + qscale_ * (float)sums[v] + list_bias_;
            if (d <= limit && ids[base + v] != kIvfNoId) {
                Offer(d, ids[base + v]);
                if (size_ == rerank_) limit = s_.heap[0].distance;
            }
        }
    }
}

void IvfPqScanner::Codes(const uint8_t *codes, const uint64_t *ids, std::size_t n) noexcept {
    const int m = model_.pq.m;
    for (std::size_t i = 0; i < n; i++)
        if (ids[i] != kIvfNoId)
            Offer(PqTableDistance(model_.pq, s_.table, codes + i * (std::size_t)m) + list_bias_,
                  ids[i]);
}

std::size_t IvfPqScanner::TakeSorted() noexcept {
    std::sort_heap(s_.heap, s_.heap + size_, CloserCandidate);
    std::size_t n = size_;
    size_ = 0;
    return n;
}

void IvfMemoryLists::Add(uint32_t list, uint64_t id, const uint8_t *codes) {
    List &l = lists_[list];
    l.tail_codes.insert(l.tail_codes.end(), codes, codes + pq_.m);
    l.tail_ids.push_back(id);
}

void IvfMemoryLists::Pack() {
    if (pq_.bits != 4) return;  // 8-bit codes stay one byte per subvector
    const int m = pq_.m;
    const std::size_t bytes = FastScanBlockBytes(m);
    for (List &l : lists_) {
        if (l.tail_ids.empty()) continue;
        // full blocks stay; the last partial one is unpacked and packed
        // again with the tail
        std::size_t full = l.packed_ids.size() / kFastScanBlock;
        std::vector<uint8_t> rest;
        for (std::size_t i = full * kFastScanBlock; i < l.packed_ids.size(); i++)
            for (int j = 0; j < m; j++)
                rest.push_back(
                    FastScanCode(l.blocks.data() + full * bytes, (int)(i % kFastScanBlock), j));
        rest.insert(rest.end(), l.tail_codes.begin(), l.tail_codes.end());
        l.packed_ids.insert(l.packed_ids.end(), l.tail_ids.begin(), l.tail_ids.end());
        std::size_t n = l.packed_ids.size();
        l.blocks.resize((n + kFastScanBlock - 1) / kFastScanBlock * bytes);
        for (std::size_t b = full; b * kFastScanBlock < n; b++) {
            int count = (int)std::min<std::size_t>(kFastScanBlock, n - b * kFastScanBlock);
            PackFastScanBlock(rest.data() + (b - full) * kFastScanBlock * m, count, m,
                              l.blocks.data() + b * bytes);
        }
        l.tail_codes.clear();
        l.tail_ids.clear();
    }
}

std::size_t IvfMemoryLists::CodeBytes() const {
    std::size_t s = 0;
    for (const List &l : lists_) s += l.blocks.size() + l.tail_codes.size();
    return s;
}

}  // namespace gigavector
