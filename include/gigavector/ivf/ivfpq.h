// IVF-PQ: an inverted file of `lists` k-means cells (Jegou et al. 2011,
// section IV), each holding the PQ codes of its members' residuals from
// the cell's centroid. A search ranks the centroids, scans the `probes`
// nearest lists with a per-list distance table, and keeps the best
// `rerank` candidates by approximate distance for an exact re-rank by the
// caller (from the table's rows, or from vectors kept with the index).
//
// Residuals for L2 and L1 (the table is the residual query's, one per list);
// inner product and cosine use the codes of the residuals too, but their
// table does not depend on the list (-q.r) and the list adds -q.c (so one
// table serves every list).
//
// Storage is behind a contract (the template parameter Lists), as faiss's
// InvertedLists: plain memory (IvfMemoryLists, below: tests, benchmarks) and
// Postgres pages implement the same calls:
//   template <class V> void ScanList(uint32_t list, V &visitor);
// calling, for every run of entries of the list,
//   visitor.Blocks(const uint8_t *blocks, const uint64_t *ids, std::size_t n)
//       n entries (4-bit codes) in fast-scan blocks of 32 (pq_fastscan.h),
//       the last block partly used;
//   visitor.Codes(const uint8_t *codes, const uint64_t *ids, std::size_t n)
//       n entries with one byte per subvector (8-bit codes, and 4-bit
//       entries added since the lists were packed).
// A store may call them any number of times per list, in any order. An id
// of kIvfNoId is an entry that is gone (deleted in place): it is skipped.
//
// The search allocates nothing: the caller provides IvfPqScratch (sized by
// IvfPqScratchSizesFor), so that a Postgres scan takes it from its memory
// context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gigavector/ann/metric.h"
#include "gigavector/quant/pq.h"
#include "gigavector/quant/pq_fastscan.h"

namespace gigavector {

constexpr uint64_t kIvfNoId = ~(uint64_t)0;

// The trained parts of an index (views; the caller owns the memory).
struct IvfPqModel {
    int dim = 0;
    int lists = 0;
    Metric metric = Metric::kL2;
    PqShape pq;
    const float *centroids = nullptr;  // lists x dim
    const float *codebook = nullptr;   // pq.CodebookFloats()
};

// Trains centroids (lists x dim) and codebook on n sample vectors (already
// prepared for the metric: normalised for cosine). A named entry point: may
// throw std::bad_alloc.
void TrainIvfPq(const float *sample, std::size_t n, int dim, int lists, const PqShape &pq,
                const KMeansParams &params, float *centroids, float *codebook);
// The second half of TrainIvfPq, for callers that report the two phases:
// the codebook on the sample's residuals from centroids trained already
// (on at most kPqPointsPerCentroid points per codebook centroid).
constexpr int kPqPointsPerCentroid = 256;
void TrainIvfPqCodebook(const float *sample, std::size_t n, int dim, int lists,
                        const float *centroids, const PqShape &pq, const KMeansParams &params,
                        float *codebook);

// The list of a vector (its nearest centroid under L2: cells are L2 cells
// for every metric, as the codes are of residuals) and its codes (m bytes).
// residual: dim floats of scratch.
uint32_t EncodeIvfPq(const IvfPqModel &model, const float *v, float *residual,
                     uint8_t *codes) noexcept;

// EncodeIvfPq for n vectors at once (the build): the lists through one
// blocked matrix product (AssignNearest), then each vector's codes. lists:
// n entries, codes: n x m bytes. A named entry point: may throw
// std::bad_alloc.
void EncodeIvfPqBatch(const IvfPqModel &model, const float *v, std::size_t n, uint32_t *lists,
                      uint8_t *codes, int threads = 1);

// An approximate candidate.
struct IvfCandidate {
    float distance;  // approximate index distance (metric.h)
    uint64_t id;
};

struct IvfPqScratch {
    float *list_distances;  // lists
    uint32_t *probe_order;  // lists
    float *residual;        // dim
    float *table;           // m x ksub
    uint8_t *qtable;        // 16 x FastScanPaddedM(m)
    IvfCandidate *heap;     // rerank
};

struct IvfPqScratchSizes {
    std::size_t list_floats, list_ids, dim_floats, table_floats, qtable_bytes, heap_entries;
};
IvfPqScratchSizes IvfPqScratchSizesFor(const IvfPqModel &model, std::size_t rerank) noexcept;

// The probe order: the lists by the metric's distance from q to their
// centroids (-q.c for inner product and cosine), nearest first, in
// s.probe_order[0..lists); returns lists.
int RankLists(const IvfPqModel &model, const float *q, IvfPqScratch &s) noexcept;

// Scans lists s.probe_order[first .. first + count) and merges their
// entries into the heap of the best `rerank` (s.heap[0 .. size()), a
// max-heap on distance). Filtered scans call it again for more lists.
class IvfPqScanner {
public:
    IvfPqScanner(const IvfPqModel &model, const float *q, IvfPqScratch &s, std::size_t rerank)
        : model_(model), q_(q), s_(s), rerank_(rerank) {}

    template <class Lists>
    void ScanLists(Lists &lists, int first, int count);

    // The heap's entries sorted by distance, nearest first (the heap is
    // consumed); returns how many.
    std::size_t TakeSorted() noexcept;
    std::size_t size() const { return size_; }

    // Visitor callbacks (see the contract above).
    void Blocks(const uint8_t *blocks, const uint64_t *ids, std::size_t n) noexcept;
    void Codes(const uint8_t *codes, const uint64_t *ids, std::size_t n) noexcept;

private:
    void PrepareList(uint32_t list) noexcept;
    void Offer(float distance, uint64_t id) noexcept;

    const IvfPqModel &model_;
    const float *q_;
    IvfPqScratch &s_;
    std::size_t rerank_;
    std::size_t size_ = 0;
    float list_bias_ = 0.0f;  // added to every table sum of the list
    float qbias_ = 0.0f;      // fast scan: bias + scale * sum
    float qscale_ = 1.0f;
    bool shared_table_ = false;  // inner product, cosine: the one table is computed
};

template <class Lists>
void IvfPqScanner::ScanLists(Lists &lists, int first, int count) {
    for (int i = first; i < first + count && i < model_.lists; i++) {
        uint32_t list = s_.probe_order[i];
        PrepareList(list);
        lists.ScanList(list, *this);
    }
}

// Lists as sorted arrays the caller owns (a build, before it writes pages):
// list l's entries are [offsets[l], offsets[l + 1]) of ids, with their
// 4-bit codes packed in blocks (each list's first block at block_of[l]) or,
// when blocks is null, their codes unpacked (m bytes each) in codes.
struct IvfArrayLists {
    const uint32_t *offsets = nullptr;  // lists + 1
    const uint64_t *ids = nullptr;
    const uint8_t *codes = nullptr;      // unpacked: entries x m
    const uint8_t *blocks = nullptr;     // packed: FastScanBlockBytes(m) each
    const uint32_t *block_of = nullptr;  // lists: index of a list's first block
    int m = 0;

    template <class V>
    void ScanList(uint32_t list, V &v) const {
        const uint32_t first = offsets[list], n = offsets[list + 1] - first;
        if (n == 0) return;
        if (blocks != nullptr)
            v.Blocks(blocks + (std::size_t)block_of[list] * FastScanBlockBytes(m), ids + first, n);
        else
            v.Codes(codes + (std::size_t)first * m, ids + first, n);
    }
};

// Lists in plain memory (tests, benchmarks): entries are added to a list's
// unpacked tail; Pack() moves 4-bit tails into fast-scan blocks, as VACUUM
// does on pages. May throw std::bad_alloc.
class IvfMemoryLists {
public:
    IvfMemoryLists(int lists, const PqShape &pq) : pq_(pq), lists_(lists) {}
    void Add(uint32_t list, uint64_t id, const uint8_t *codes);
    void Pack();
    std::size_t Size(uint32_t list) const {
        return lists_[list].packed_ids.size() + lists_[list].tail_ids.size();
    }
    template <class V>
    void ScanList(uint32_t list, V &v) const {
        const List &l = lists_[list];
        if (!l.packed_ids.empty())
            v.Blocks(l.blocks.data(), l.packed_ids.data(), l.packed_ids.size());
        if (!l.tail_ids.empty()) v.Codes(l.tail_codes.data(), l.tail_ids.data(), l.tail_ids.size());
    }
    std::size_t CodeBytes() const;  // bytes of codes held (packed and tail)

private:
    struct List {
        std::vector<uint8_t> blocks;  // fast-scan blocks of the packed entries
        std::vector<uint64_t> packed_ids;
        std::vector<uint8_t> tail_codes;  // m bytes per entry
        std::vector<uint64_t> tail_ids;
    };
    PqShape pq_;
    std::vector<List> lists_;
};

}  // namespace gigavector
