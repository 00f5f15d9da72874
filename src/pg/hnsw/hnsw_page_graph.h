// gv_hnsw: searching the graph through the buffer manager.
//
// HnswPageReader is the "graph view" that src/core's SearchLayer and
// GreedyClosest run over (see include/gigavector/hnsw.h). It copies neighbour
// lists under share locks, one page at a time, computes quantized distances,
// and keeps the pages it reads pinned for the life of a scan so a page is
// looked up in the buffer mapping table once, not once per visit.
//
// Everything here is palloc'd and trivially destructible (PgVec, not
// std::vector, asserted below): an ERROR raised by the buffer manager in the
// middle of a search longjmps over these frames (the core's search templates
// included) without skipping any destructor, and the memory goes with the
// memory context.
#pragma once

#include "common/pg_vec.h"
#include "gigavector/ann/best_first.h"
#include "hnsw/hnsw_am.h"

using CandidateVec = PgVec<gigavector::Candidate>;

// The visited set of searches over pages: a hash table in palloc'd memory,
// sized by the nodes a search visits, not by the index (see id_table.h).
using PageVisited = gigavector::VisitedTable<PgVec<gigavector::IdTableEntry>>;
GV_ASSERT_LONGJMP_SAFE(PageVisited);
GV_ASSERT_LONGJMP_SAFE(CandidateVec);

// Blocks a reader keeps pinned, and their buffers.
using PinTable = gigavector::IdTable<PgVec<gigavector::IdTableEntry>>;

// A fresh visited set in cxt, for a search that visits about `expected` ids.
inline void InitPageVisited(PageVisited *v, MemoryContext cxt, uint32 expected) {
    v->array().Init(cxt, 64);
    v->Reset(expected);
}

struct HnswPageReader {
    Relation index;
    const HnswLayout *layout;
    gigavector::Metric metric;
    const float *query;         // prepared (normalised for cosine)
    HnswCoding coding;          // which nodes have sq8 codes, and the ranges
    gigavector::Sq8Query sq;    // the query prepared for codes (when coded)
    float *sq_scratch;          // sq's scaled query
    PinTable pins;              // block -> the buffer pinned for it
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
    bool FromCodes(gigavector::NodeId id) const { return layout->Sq8() && coding.Coded(id); }
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
    // Reads a block that must be a sound page of page_type, trying the
    // backend's hint of its buffer first.
    Buffer PinHinted(BlockNumber block, uint16 page_type);

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
    // The same from pinned pages (PinBlock), without content locks.
    void ReadVectorUnlockedFromPages(gigavector::NodeId id, float *out);

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
    // Whether id is a live graph node with `level` (read as FlagsUnlocked).
    bool LiveAtLevelUnlocked(gigavector::NodeId id, int level) {
        const HnswNodeHeader *h =
            HnswNodeAt(BufferGetPage(NodePage(id)), *layout, layout->Slot(id));
        return h->flags == kNodeValid && level <= h->level;
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
    // A search over pages can be cancelled after each expansion.
    void AfterExpand() { CHECK_FOR_INTERRUPTS(); }
};
GV_ASSERT_LONGJMP_SAFE(HnswPageReader);

// Decoded copies of nodes' vectors (from codes, or full vectors without
// codes), for the heuristic's pair distances (inserts and VACUUM), found by id through a small
// open-addressing table. One heuristic run compares every candidate with
// every neighbour kept so far, so a lookup that scanned the set (as the first
// version did) made a back-link into a full list of 2m = 200 neighbours cost
// millions of id compares: inserts at m = 100 slowed down batch after batch
// as lists filled up. The set is cleared before each run and holds all of
// its candidates (capacity >= ef_construction + 2m + 2), so no pointer it
// handed out is recycled within a run.
struct PairVectors {
    const HnswLayout *layout;
    gigavector::NodeId *ids;
    float *vectors;
    int32 *table;  // slot index + 1 per bucket, 0 empty
    uint32 mask;
    int count;
    int capacity;

    void Init(const HnswLayout *l, int cap) {
        layout = l;
        capacity = cap;
        count = 0;
        uint32 buckets = 64;
        while (buckets < 2 * (uint32)cap) buckets *= 2;
        mask = buckets - 1;
        ids = (gigavector::NodeId *)palloc(sizeof(gigavector::NodeId) * cap);
        vectors = (float *)palloc_extended(sizeof(float) * (size_t)l->dim * cap, MCXT_ALLOC_HUGE);
        table = (int32 *)palloc0(sizeof(int32) * buckets);
    }
    void Clear() {
        if (count > 0) memset(table, 0, sizeof(int32) * (mask + 1));
        count = 0;
    }
    // Adds (or finds) id's vector (decoded from codes in coded mode), read
    // without content locks: back-links call this while they hold an
    // exclusive lock on the target's page (ReadVectorUnlocked says why
    // that is safe).
    const float *Load(HnswPageReader &reader, gigavector::NodeId id) {
        uint32 h = (id * 0x9e3779b9U) & mask;
        while (table[h] != 0) {
            int at = table[h] - 1;
            if (ids[at] == id) return vectors + (size_t)at * layout->dim;
            h = (h + 1) & mask;
        }
        if (count == capacity) {  // more candidates than a run can have: start over
            Clear();
            h = (id * 0x9e3779b9U) & mask;
        }
        float *dst = vectors + (size_t)count * layout->dim;
        ids[count] = id;
        table[h] = ++count;
        reader.ReadVectorUnlocked(id, dst);
        return dst;
    }
    // The index distance between two nodes (both vectors stay put: the set is
    // cleared before a heuristic run, never within one).
    float Distance(HnswPageReader &reader, gigavector::NodeId a, gigavector::NodeId b) {
        const float *va = Load(reader, a);
        const float *vb = Load(reader, b);
        return gigavector::IndexDistance(layout->metric, gigavector::ActiveKernels(), va, vb,
                                         (size_t)layout->dim);
    }
};
GV_ASSERT_LONGJMP_SAFE(PairVectors);
