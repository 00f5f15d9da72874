// In-memory HNSW graph, used to build indexes (then written to pages) and by
// the unit tests and benchmarks.
//
// The graph lives in one caller-provided memory region, so the extension can
// take it from a Postgres memory context sized by maintenance_work_mem and
// nothing leaks if the build is cancelled. Layout:
//
//   vectors   capacity x dim floats (prepared for the metric: unit length
//             for cosine)
//   records   capacity x {lock, level, upper list offset, level-0 list}
//   upper     pool of upper-level lists, m + 1 uint32 each (count, ids)
//
// Linking (Algorithm 1) is thread-safe across different nodes: each node has
// a spinlock over its lists, as in hnswlib, and the entry point a mutex.
// Threads never call back into the caller except through the progress
// callback, and only the calling thread runs that.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "gigavector/ann/candidate.h"
#include "gigavector/ann/metric.h"
#include "gigavector/hnsw/hnsw_policy.h"
#include "gigavector/simd/distance_kernels.h"

namespace gigavector {

class HnswGraph {
public:
    // Bytes needed for `capacity` nodes of `dim` floats.
    static std::size_t BytesNeeded(std::size_t capacity, int dim, const HnswParams &params);

    // `memory` must be 64-byte aligned and at least BytesNeeded(capacity, ...).
    HnswGraph(void *memory, std::size_t bytes, std::size_t capacity, int dim, Metric metric,
              const HnswParams &params);

    // Moves the graph into a larger region (`memory`, 64-byte aligned, at
    // least BytesNeeded(capacity, ...)), so a build can grow its graph as
    // rows come instead of sizing it from the table's statistics. Before
    // linking only (not thread-safe). Throws std::bad_alloc when the region
    // is too small; the old region may be freed afterwards.
    void MoveTo(void *memory, std::size_t bytes, std::size_t capacity);

    // Copies a vector in (normalised for cosine) and gives it `level` lists.
    // Not thread-safe; call before linking. Returns kNoNode when the region
    // is full (capacity or upper-level pool), so the caller can go on another way.
    NodeId Add(const float *vector, int level);

    // Links nodes [first, last) into the graph with `threads` threads (the
    // calling thread included). `progress(done)` is called from the calling
    // thread now and then; returning false stops early: LinkRange returns
    // false, and every node below *resume_at is linked, none above, so the
    // caller can handle what made it stop and call again from there.
    using ProgressFn = bool (*)(void *context, std::size_t linked);
    bool LinkRange(NodeId first, NodeId last, int threads, ProgressFn progress = nullptr,
                   void *progress_context = nullptr, NodeId *resume_at = nullptr);

    // After linking: fills each level-0 list up to OwnListFill with the
    // nearest candidates its heuristic pruned when the node was linked
    // (kept aside then). While linking, a new node's level-0 list is only
    // filled to LinkTimeFill: filling to OwnListFill at once makes lists
    // full sooner, so nearly every back-link re-runs the heuristic over a
    // full list and later searches expand more neighbours. On GloVe-100
    // (2 threads) this took the link time from 6.1 s to 3.4 s, with recall@10
    // at ef 280 going from 0.953 to 0.954 (filling nothing while linking:
    // 3.0 s but 0.919; half: 4.2 s, 0.958).
    // Single-threaded; returns how many ids it added.
    std::size_t FillDeferred();

    // After linking, gives every level-0 node the entry point does not reach
    // an in-link (ConnectUnreached, hnsw_orphans.h: the rule VACUUM uses
    // too). Single-threaded; returns how many nodes it connected.
    std::size_t ConnectOrphans();

    // k nearest (index distance ascending) by searching with max(ef, k).
    // Returns how many distances the search computed.
    // With `exclude`, that node is neither visited nor returned (the graph
    // searched as if it were not in it).
    std::size_t Search(const float *query, int k, int ef, std::vector<Candidate> &out,
                       NodeId exclude = kNoNode) const;

    std::size_t size() const { return size_; }
    // Distances computed by LinkRange so far (searches, back-links, heuristics).
    std::size_t link_distances() const { return link_distances_.load(); }
    std::size_t capacity() const { return capacity_; }
    int dim() const { return dim_; }
    Metric metric() const { return metric_; }
    const HnswParams &params() const { return params_; }
    NodeId entry_point() const { return entry_; }
    int max_level() const { return max_level_; }
    int level(NodeId id) const { return Record(id)->level; }
    const float *vector(NodeId id) const { return vectors_ + (std::size_t)id * dim_; }

    // Copies the neighbour list of id on level into out without the lock,
    // for searches while other threads link (see the definition).
    void ReadNeighbors(NodeId id, int level, std::vector<NodeId> &out) const;
    // Copies the neighbour list of id on level into out (under the node's lock).
    void CopyNeighbors(NodeId id, int level, std::vector<NodeId> &out) const;
    // The same into a caller's array of MaxNeighbors(m, level) ids; returns the count.
    int CopyNeighbors(NodeId id, int level, NodeId *out) const;

    // Index distance between a query (already prepared) and a stored node.
    float DistanceTo(const float *query, NodeId id) const {
        return IndexDistance(metric_, *kernels_, query, vector(id), (std::size_t)dim_);
    }

private:
    struct NodeRecord {
        std::atomic<uint8_t> lock;
        uint8_t level;
        uint16_t reserved;
        uint32_t upper;    // offset into upper_ of this node's level-1 list
        uint32_t count0;   // level-0 neighbours
        uint32_t ids0[1];  // really 2m entries
    };

    struct Scratch;
    class View;
    class Level0Lists;

    NodeRecord *Record(NodeId id) const {
        return reinterpret_cast<NodeRecord *>(records_ + (std::size_t)id * record_size_);
    }
    // List of id on level: pointer to its count, ids follow.
    uint32_t *List(NodeId id, int level) const;
    void Lock(NodeId id) const;
    void Unlock(NodeId id) const;
    void Link(NodeId id, Scratch &scratch);
    // Adds `from` to target's list on `level` (ShrinkList when it is full);
    // returns whether `from` is in it afterwards. With `force`, it takes the
    // place of the last neighbour kept; with `hand_over`, the member that
    // leaves is linked from its witness (else it goes to scratch.dropped).
    bool AddBacklink(NodeId target, NodeId from, int level, Scratch &scratch, bool force,
                     bool hand_over);

    std::size_t capacity_;
    int dim_;
    Metric metric_;
    HnswParams params_;
    const DistanceKernels *kernels_;
    std::size_t record_size_;
    float *vectors_;
    unsigned char *records_;
    uint32_t *upper_;
    uint32_t *deferred_;          // per node: count, then OwnListFill(m, 0) pruned ids
    std::size_t upper_capacity_;  // uint32 slots
    std::size_t upper_used_ = 0;
    std::size_t size_ = 0;

    std::atomic<std::size_t> link_distances_{0};
    std::mutex entry_mutex_;
    NodeId entry_ = kNoNode;
    int max_level_ = -1;
};

}  // namespace gigavector
