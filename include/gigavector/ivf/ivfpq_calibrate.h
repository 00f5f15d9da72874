// IVF-PQ: options derived from the data, and the search settings measured
// on it.
//
// Shape (IvfPqDefaultShape): lists ~ sqrt(rows) (Jegou et al. 2011 use
// k = 1024..8192 for 1M..1B; sqrt balances ranking the centroids against
// scanning the lists), 4-bit codes with two dimensions per subvector (a
// fast-scan block of 32 codes is then 16 * dim / 2 bytes, a byte per
// dimension per block: 1/128 of the float vectors), and no more subvectors
// than a fast-scan block on one page allows.
//
// Search settings (CalibrateIvfPq): a sample of the indexed rows serves as
// queries; their exact k nearest neighbours among all rows (themselves left
// out) are found by brute force while the build reads the rows
// (IvfExactNeighbours); then, for growing probe counts, the lists are
// scanned and the candidates ranked by code distance. Since the re-rank is
// exact, recall@k of a (probes, rerank) setting is the share of the true k
// nearest that are among the first `rerank` candidates, so one scan per
// probe count measures every rerank value. The cheapest setting (by a cost
// model of codes scanned and rows re-ranked) that reaches the target wins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gigavector/ivf/ivfpq.h"

namespace gigavector {

// The most 4-bit subvectors whose fast-scan block (plus `per_entry_bytes`
// of each of its 32 entries) fits in `page_bytes`.
int MaxFastScanSubvectors(int page_bytes, int per_entry_bytes);

struct IvfPqShapeChoice {
    int lists;
    int subvectors;
    int bits;
};

// Derived options for `rows` rows of `dim` dimensions; a value the user gave
// (non-zero in `given`) is kept. max_subvectors bounds the 4-bit choice.
IvfPqShapeChoice IvfPqDefaultShape(double rows, int dim, IvfPqShapeChoice given,
                                   int max_subvectors);

// Exact k nearest neighbours of q queries among rows fed in batches (ids
// are the rows' ids; a row whose id is a query's own is left out of that
// query's answer). L2, inner product and cosine go through one matrix
// product per batch (Eigen), L1 through the distance kernels. All memory is
// the caller's (so that it may live in a Postgres memory context across
// calls that can longjmp): queries and their ids, q * k heap entries, q
// sizes (zeroed), and q * batch floats of work for AddBatch.
struct IvfNeighbourEntry {
    float distance;
    uint64_t id;
};
struct IvfExactNeighbours {
    const float *queries;
    const uint64_t *query_ids;
    int q, dim, k;
    Metric metric;
    IvfNeighbourEntry *heaps;  // q x k
    int *sizes;                // q
    float *work;               // q x batch
    int threads = 1;           // the queries shared out (ann/parallel.h)

    // n <= the batch the work buffer was sized for. Eigen may allocate:
    // a named entry point that may throw std::bad_alloc.
    void AddBatch(const float *rows, const uint64_t *ids, std::size_t n);
    // Writes q x k ids, nearest first (kIvfNoId where fewer than k rows
    // came), into out; the heaps are consumed.
    void TakeResult(uint64_t *out) noexcept;
};

struct IvfPqCalibration {
    int probes = 1;
    int rerank = 10;
    double recall = 0.0;  // the sample's recall@k there
    int queries = 0;
};

// Costs in arbitrary units for the choice: a code scanned, a row re-ranked.
struct IvfPqCostModel {
    double per_code;
    double per_rerank;
    double per_list;  // ranking a centroid and preparing a probed list's table
};

// Measures recall of (probes, rerank) settings as described above and
// returns the cheapest that reaches `target` (or the best found). truth:
// q x k ids (IvfExactNeighbours::TakeResult); query_ids: the queries' own ids,
// which are not counted as candidates. Allocates: may throw std::bad_alloc.
IvfPqCalibration CalibrateIvfPq(const IvfPqModel &model, const IvfArrayLists &lists,
                                const float *queries, const uint64_t *query_ids,
                                const uint64_t *truth, int q, int k, double target,
                                const IvfPqCostModel &cost);

}  // namespace gigavector
