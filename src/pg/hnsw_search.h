// gv_hnsw: searching the graph through the buffer manager.
//
// HnswPageReader is the "graph view" that src/core's SearchLayer and
// GreedyClosest run over (see include/gigavector/hnsw.h). It copies neighbour
// lists under share locks, one page at a time, computes quantized distances,
// and keeps the pages it reads pinned for the life of a scan so a page is
// looked up in the buffer mapping table once, not once per visit.
//
// Everything here is palloc'd and trivially destructible (PgVec, not
// std::vector): an ERROR raised by the buffer manager in the middle of a
// search longjmps over these frames without skipping any destructor, and the
// memory goes with the memory context.
#pragma once

#include "hnsw.h"

// Growable array in the current memory context at construction; enough of a
// std::vector for the core's heaps.
template <typename T>
struct PgVec {
    T *items = nullptr;
    int count = 0;
    int capacity = 0;
    MemoryContext cxt = nullptr;

    void Init(MemoryContext memory, int initial) {
        cxt = memory;
        capacity = initial > 4 ? initial : 4;
        items = (T *)MemoryContextAlloc(cxt, sizeof(T) * capacity);
        count = 0;
    }
    void clear() { count = 0; }
    size_t size() const { return (size_t)count; }
    bool empty() const { return count == 0; }
    T *begin() { return items; }
    T *end() { return items + count; }
    const T *begin() const { return items; }
    const T *end() const { return items + count; }
    T &front() { return items[0]; }
    T &back() { return items[count - 1]; }
    T &operator[](int i) { return items[i]; }
    const T &operator[](int i) const { return items[i]; }
    void pop_back() { count--; }
    void push_back(const T &v) {
        if (count == capacity) {
            capacity *= 2;
            items = (T *)repalloc_huge(items, sizeof(T) * capacity);
        }
        items[count++] = v;
    }
};

using CandidateVec = PgVec<gigavector::Candidate>;

// Visited marks over dense node ids; grows for nodes inserted during a scan.
struct DenseVisited {
    uint8 *marks = nullptr;
    uint32 capacity = 0;
    MemoryContext cxt = nullptr;

    void Init(MemoryContext memory, uint32 n) {
        cxt = memory;
        capacity = n > 64 ? n : 64;
        marks = (uint8 *)MemoryContextAllocHuge(cxt, capacity);
        memset(marks, 0, capacity);
    }
    void Reset() { memset(marks, 0, capacity); }
    bool Contains(gigavector::NodeId id) const { return id < capacity && marks[id] != 0; }
    // Marks id; true if it was not marked.
    bool Insert(gigavector::NodeId id) {
        if (id >= capacity) Grow(id);
        if (marks[id]) return false;
        marks[id] = 1;
        return true;
    }
    void Grow(gigavector::NodeId id);
};

// A visited set that remembers nothing, for greedy descent on upper levels
// (it only ever moves to a strictly closer node, so it terminates).
struct NoVisited {
    bool Insert(gigavector::NodeId) { return true; }
};

struct HnswPageReader {
    Relation index;
    const HnswLayout *layout;
    gigavector::Metric metric;
    const float *query;       // prepared (normalised for cosine)
    HnswCoding coding;        // which nodes have sq8 codes, and the ranges
    gigavector::Sq8Query sq;  // the query prepared for codes (when coded)
    float *sq_scratch;        // sq's scaled query
    Buffer *block_pins;       // pinned buffer per block, or InvalidBuffer
    uint32 pin_capacity;
    PgVec<BlockNumber> pinned;  // blocks with a pin, in pinning order
    uint32 node_limit;          // ids below this exist (the meta page's node count, as last read)
    gigavector::NodeId *ids;    // scratch: a neighbour list
    gigavector::NodeId *batch;  // scratch: unvisited neighbours
    float *vector_scratch;      // scratch: one full vector

    void Init(Relation rel, const HnswLayout *l, const float *prepared_query, MemoryContext cxt);
    // Brings the coding in line with the meta page (read by the caller),
    // then prepares the query for it.
    void SyncCoding(const HnswMeta &meta);
    // Prepares the current query (its floats may have changed) for codes.
    void PrepareQuery();
    // Whether traversal distances to id come from its codes.
    bool FromCodes(gigavector::NodeId id) const { return layout->use_codes && coding.Coded(id); }
    // Drops every pin (end of scan or rescan).
    void ReleasePins();

    // Pinned (not locked) node page of a node.
    Buffer NodePage(gigavector::NodeId id);
    // Pinned (not locked) block, kept pinned until ReleasePins; verified to
    // be a sound page of page_type when first pinned.
    Buffer PinBlock(BlockNumber block, uint16 page_type);
    // ERRORs (XX001) unless id is a node the index has: a list id at or
    // past the node count is refreshed from the meta page once (a
    // concurrent insert may have added it) before it counts as damage.
    void CheckNodeId(gigavector::NodeId id, gigavector::NodeId from);
    // Reads a block, trying the backend's hint of its buffer first.
    Buffer PinHinted(BlockNumber block);

    // Copies the neighbour list of id on level into ids[]; returns the count.
    int CopyNeighbors(gigavector::NodeId id, int level);

    // Quantized (or, without codes, exact) index distance to one node.
    float Distance(gigavector::NodeId id);

    // Exact index distance, reading the full vector.
    float ExactDistance(gigavector::NodeId id);

    // Exact distances to n nodes, for re-ranking: vectors on vector pages
    // that hold whole vectors are read in place, without content locks (see
    // Distances) and with their pages kept pinned; spanning vectors are
    // copied under share locks. The caller re-checks what it returns.
    void ExactDistances(const gigavector::NodeId *batch_ids, int n, float *out);

    // Reads the full vector of id into out, under share locks.
    void ReadVector(gigavector::NodeId id, float *out);

    // The same without content locks, for a caller that holds an exclusive
    // lock on another page: vectors and codes never change once a node is
    // reachable, and the pins keep the pages in place (see Distances).
    void ReadVectorUnlocked(gigavector::NodeId id, float *out);
    void CopyFromVectorPages(gigavector::NodeId id, float *out, bool lock);

    // ERRORs (XX001) unless the entry point the meta page names is a graph
    // node of the level it says: a search from anything else would end at
    // once and return nothing, a silent wrong answer.
    void CheckEntryPoint(gigavector::NodeId entry, int entry_level);

    // Heap TID and flags of a node.
    void NodeInfo(gigavector::NodeId id, ItemPointer tid, uint8 *flags);

    // The flags of a node read without the content lock (one byte: either
    // the old or the new value), for choices that only affect graph quality.
    uint8 FlagsUnlocked(gigavector::NodeId id) {
        return HnswNodeAt(BufferGetPage(NodePage(id)), *layout, layout->Slot(id))->flags;
    }

    // For a result about to be returned: the node's heap TID, flags and
    // exact distance, read so that they belong together (a slot reused
    // since the search shows another TID and is skipped by the caller), and
    // the vector and TID verified against the slot's checksum (a mismatch is
    // an ERROR: damage). Returns false when the slot changed while it was
    // read.
    bool VerifiedResult(gigavector::NodeId id, ItemPointer tid, uint8 *flags, float *distance);

    // Distances to n ids (same order), locking each node page once per run
    // of ids on it.
    void Distances(const gigavector::NodeId *batch_ids, int n, float *out);

    template <class Visited, class Visit>
    void ForEachUnvisitedNeighbor(gigavector::NodeId node, int level, Visited &visited,
                                  Visit &&visit) {
        int n = CopyNeighbors(node, level);
        int fresh = 0;
        for (int i = 0; i < n; i++) {
            if (unlikely(ids[i] >= node_limit)) CheckNodeId(ids[i], node);
            if (visited.Insert(ids[i])) batch[fresh++] = ids[i];
        }
        if (fresh == 0) return;
        float distances[2 * kHnswMaxM];
        Distances(batch, fresh, distances);
        for (int i = 0; i < fresh; i++) visit(batch[i], distances[i]);
    }
};
