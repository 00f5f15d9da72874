// gv_hnsw: the page-backed graph view used by scans and inserts.
#include "hnsw_search.h"

using gigavector::NodeId;

void DenseVisited::Grow(NodeId id) {
    // doubling from a floor of 64, and never wrapping around
    uint32 n = capacity >= 64 ? capacity : 64;
    while (n <= id) n = n > UINT32_MAX / 2 ? id + 1 : n * 2;
    marks = (uint8 *)repalloc_huge(marks, n);
    memset(marks + capacity, 0, n - capacity);
    capacity = n;
}

void HnswPageReader::Init(Relation rel, const HnswLayout *l, const float *prepared_query,
                          MemoryContext cxt) {
    index = rel;
    layout = l;
    metric = l->metric;
    query = prepared_query;
    sq = nullptr;
    if (l->use_codes && query != nullptr) {
        void *mem = MemoryContextAlloc(cxt, sizeof(gigavector::Sq8Query));
        sq = new (mem) gigavector::Sq8Query(query, (size_t)l->dim, metric);
    }
    pin_capacity = 0;
    group_pins = nullptr;
    pinned.Init(cxt, 256);
    ids = (NodeId *)MemoryContextAlloc(cxt, sizeof(NodeId) * 2 * kHnswMaxM);
    batch = (NodeId *)MemoryContextAlloc(cxt, sizeof(NodeId) * 2 * kHnswMaxM);
    vector_scratch = (float *)MemoryContextAlloc(cxt, sizeof(float) * l->dim);
}

void HnswPageReader::ReleasePins() {
    // newest first: the resource owner finds recent pins fastest
    for (int i = pinned.count - 1; i >= 0; i--) {
        uint32 g = pinned[i];
        ReleaseBuffer(group_pins[g]);
        group_pins[g] = InvalidBuffer;
    }
    pinned.clear();
}

// Pins a node page, trying the backend's hint of its buffer first.
Buffer HnswPageReader::PinNodePage(uint32 group, BlockNumber block) {
    // the hints live in rd_amcache, which an invalidation may have freed:
    // look it up each time, and do without when it is gone (reading the
    // meta page here could deadlock: callers may hold a page lock)
    HnswLayout *l = (HnswLayout *)index->rd_amcache;
    if (l == NULL) return ReadBuffer(index, block);
    if (group >= l->recent_capacity) {
        uint32 n = l->recent_capacity ? l->recent_capacity : 256;
        while (n <= group) n *= 2;
        Buffer *grown = (Buffer *)MemoryContextAllocHuge(index->rd_indexcxt, sizeof(Buffer) * n);
        for (uint32 g = 0; g < n; g++)
            grown[g] = g < l->recent_capacity ? l->recent_buffers[g] : InvalidBuffer;
        if (l->recent_buffers) pfree(l->recent_buffers);
        l->recent_buffers = grown;
        l->recent_capacity = n;
    }
    Buffer hint = l->recent_buffers[group];
    if (BufferIsValid(hint) && ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, block, hint))
        return hint;
    Buffer buf = ReadBuffer(index, block);
    l->recent_buffers[group] = buf;
    return buf;
}

Buffer HnswPageReader::NodePage(NodeId id) {
    uint32 group = id / (uint32)layout->nodes_per_group;
    if (group >= pin_capacity) {
        uint32 n = pin_capacity ? pin_capacity : 64;
        while (n <= group) n *= 2;
        MemoryContext cxt = GetMemoryChunkContext(ids);
        Buffer *grown = (Buffer *)MemoryContextAllocHuge(cxt, sizeof(Buffer) * n);
        for (uint32 g = 0; g < n; g++) grown[g] = g < pin_capacity ? group_pins[g] : InvalidBuffer;
        if (group_pins) pfree(group_pins);
        group_pins = grown;
        pin_capacity = n;
    }
    if (!BufferIsValid(group_pins[group])) {
        group_pins[group] = PinNodePage(group, layout->NodeBlock(id));
        pinned.push_back(group);
    }
    return group_pins[group];
}

int HnswPageReader::CopyNeighbors(NodeId id, int level) {
    Buffer buf = NodePage(id);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    HnswNodeHeader *node = HnswNodeAt(page, *layout, layout->Slot(id));
    int n = 0;
    if ((node->flags & kNodeValid) && level <= node->level) {
        n = HnswListCount(page, node, *layout, level);
        memcpy(ids, HnswListIds(page, node, *layout, level), sizeof(NodeId) * n);
    }
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    return n;
}

// Copies the full vector of id from its vector page(s), with share locks or
// (lock = false) without: see ReadVectorUnlocked.
void HnswPageReader::CopyFromVectorPages(NodeId id, float *out, bool lock) {
    int offset;
    BlockNumber block = layout->VectorBlock(id, &offset);
    char *dst = (char *)out;
    size_t left = layout->VectorBytes();
    int usable = hnsw_usable_bytes();
    for (int p = 0; left > 0; p++) {
        size_t chunk = left < (size_t)usable ? left : (size_t)usable;
        Buffer buf = ReadBuffer(index, block + p);
        if (lock) LockBuffer(buf, BUFFER_LOCK_SHARE);
        memcpy(dst,
               (char *)BufferGetPage(buf) + (p == 0 ? offset : (int)MAXALIGN(SizeOfPageHeaderData)),
               chunk);
        if (lock) LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        ReleaseBuffer(buf);
        dst += chunk;
        left -= chunk;
    }
}

void HnswPageReader::ReadVector(NodeId id, float *out) {
    if (!layout->inline_vectors) {
        CopyFromVectorPages(id, out, true);
        return;
    }
    Buffer buf = NodePage(id);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    HnswNodeHeader *node = HnswNodeAt(BufferGetPage(buf), *layout, layout->Slot(id));
    memcpy(out, HnswInlineVector(node, *layout), layout->VectorBytes());
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
}

void HnswPageReader::ReadVectorUnlocked(NodeId id, float *out) {
    if (!layout->inline_vectors && !layout->use_codes) {
        CopyFromVectorPages(id, out, false);
        return;
    }
    HnswNodeHeader *node = HnswNodeAt(BufferGetPage(NodePage(id)), *layout, layout->Slot(id));
    if (layout->inline_vectors)
        memcpy(out, HnswInlineVector(node, *layout), layout->VectorBytes());
    else
        gigavector::Sq8Decode(node->code_header, HnswCodes(node, *layout), (size_t)layout->dim,
                              out);
}

float HnswPageReader::ExactDistance(NodeId id) {
    ReadVector(id, vector_scratch);
    return gigavector::IndexDistance(metric, gigavector::ActiveKernels(), query, vector_scratch,
                                     (size_t)layout->dim);
}

void HnswPageReader::NodeInfo(NodeId id, ItemPointer tid, uint8 *flags) {
    Buffer buf = NodePage(id);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    HnswNodeHeader *node = HnswNodeAt(BufferGetPage(buf), *layout, layout->Slot(id));
    *tid = node->heap_tid;
    *flags = node->flags;
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
}

void HnswPageReader::ResultInfo(NodeId id, ItemPointer tid, uint8 *flags, float *distance) {
    Buffer buf = NodePage(id);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    HnswNodeHeader *node = HnswNodeAt(BufferGetPage(buf), *layout, layout->Slot(id));
    *tid = node->heap_tid;
    *flags = node->flags;
    if (layout->inline_vectors && (node->flags & kNodeValid))
        *distance = gigavector::IndexDistance(metric, gigavector::ActiveKernels(), query,
                                              HnswInlineVector(node, *layout), (size_t)layout->dim);
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
}

float HnswPageReader::Distance(NodeId id) {
    float d;
    Distances(&id, 1, &d);
    return d;
}

// Distances to a batch of neighbours.
//
// Inline mode reads the vectors without the page's content lock: a node's
// vector bytes are written once, before any link to the node exists (the
// link is published under an exclusive lock on another page, which we took
// in share mode to read it), and are never changed while the index exists;
// other writers on the page only touch other bytes, and page images written
// back by generic WAL or replay rewrite these bytes with the same values. The
// pin keeps the page in its buffer. The valid flag is read without the lock
// too: a node is marked valid in the same write as its vector.
//
// Codes mode reads under a share lock (the code header and codes are also
// immutable, but the mode is rarely hot enough to matter).
//
// All slots of the batch are prefetched first, so memory latency overlaps.
void HnswPageReader::Distances(const NodeId *batch_ids, int n, float *out) {
    if (sq == nullptr && !layout->inline_vectors) {
        for (int i = 0; i < n; i++) out[i] = ExactDistance(batch_ids[i]);
        return;
    }
    HnswNodeHeader *nodes[2 * kHnswMaxM];
    for (int i = 0; i < n; i++) {
        Page page = BufferGetPage(NodePage(batch_ids[i]));
        nodes[i] = HnswNodeAt(page, *layout, layout->Slot(batch_ids[i]));
        const char *p = (const char *)nodes[i];
        for (int off = 0; off < layout->node_size; off += 64) __builtin_prefetch(p + off);
    }
    if (layout->inline_vectors) {
        const gigavector::DistanceKernels &k = gigavector::ActiveKernels();
        for (int i = 0; i < n; i++) {
            out[i] = (nodes[i]->flags & kNodeValid)
                         ? gigavector::IndexDistance(metric, k, query,
                                                     HnswInlineVector(nodes[i], *layout),
                                                     (size_t)layout->dim)
                         : INFINITY;
        }
    } else {
        for (int i = 0; i < n; i++) {
            Buffer buf = NodePage(batch_ids[i]);
            LockBuffer(buf, BUFFER_LOCK_SHARE);
            out[i] = (nodes[i]->flags & kNodeValid)
                         ? sq->Distance(nodes[i]->code_header, HnswCodes(nodes[i], *layout))
                         : INFINITY;
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        }
    }
}
