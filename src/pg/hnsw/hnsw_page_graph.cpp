// gv_hnsw: the page-backed graph view used by scans and inserts.
#include "hnsw/hnsw_page_graph.h"

using gigavector::NodeId;

void HnswPageReader::Init(Relation rel, const HnswLayout *l, const float *prepared_query,
                          MemoryContext cxt) {
    index = rel;
    layout = l;
    metric = l->metric;
    query = prepared_query;
    coding = HnswCoding{gigavector::kNoNode, nullptr, nullptr, 0};
    sq = gigavector::Sq8Query();
    sq_scratch = nullptr;
    if (l->Sq8()) {
        hnsw_alloc_coding(cxt, *l, &coding);
        sq_scratch = (float *)MemoryContextAlloc(cxt, 2 * l->VectorBytes());
    }
    pins = PinTable();
    pins.array().Init(cxt, 64);
    pins.Clear(256);
    node_limit = 0;
    pinned.Init(cxt, 256);
    ids = (NodeId *)MemoryContextAlloc(cxt, sizeof(NodeId) * 2 * kHnswMaxM);
    batch = (NodeId *)MemoryContextAlloc(cxt, sizeof(NodeId) * 2 * kHnswMaxM);
    vector_scratch = (float *)MemoryContextAlloc(cxt, sizeof(float) * l->dim);
}

void HnswPageReader::SyncCoding(const HnswMeta &meta) {
    if (!layout->Sq8()) return;
    hnsw_sync_coding(index, *layout, meta.coded_from, meta.quantizer_checksum, &coding);
    PrepareQuery();
}

void HnswPageReader::PrepareQuery() {
    if (!layout->Sq8() || coding.coded_from == gigavector::kNoNode || query == nullptr) return;
    sq.Prepare(query, metric, coding.Ranges(*layout), sq_scratch);
}

void HnswPageReader::ReleasePins() {
    // newest first: the resource owner finds recent pins fastest
    for (int i = pinned.count - 1; i >= 0; i--) {
        const uint32 *buf = pins.Find(pinned[i]);
        if (buf != nullptr) ReleaseBuffer((Buffer)*buf);
    }
    pins.Clear(pinned.size());
    pinned.clear();
}

// Reads a block, trying the backend's hint of its buffer first.
Buffer HnswPageReader::PinHinted(BlockNumber block, uint16 page_type) {
    // the hints live in rd_amcache, which an invalidation may have freed:
    // look it up each time, and do without when it is gone (reading the
    // meta page here could deadlock: callers may hold a page lock)
    HnswLayout *l = (HnswLayout *)index->rd_amcache;
    if (l == NULL) return gv_read_page(index, block, page_type);
    if (block >= l->recent_capacity) {
        uint32 n = l->recent_capacity ? l->recent_capacity : 1024;
        while (n <= block) n *= 2;
        Buffer *grown = (Buffer *)MemoryContextAllocHuge(index->rd_indexcxt, sizeof(Buffer) * n);
        for (uint32 b = 0; b < n; b++)
            grown[b] = b < l->recent_capacity ? l->recent_buffers[b] : InvalidBuffer;
        if (l->recent_buffers) pfree(l->recent_buffers);
        l->recent_buffers = grown;
        l->recent_capacity = n;
    }
    // A hint is only stored for a buffer whose page was verified: the header
    // and special space of an initialised page never change while it stays
    // in that buffer, so a hit needs no second look (verifying every page a
    // scan pinned cost 17% of a query at 784 dimensions: two cold cache
    // lines a page).
    Buffer hint = l->recent_buffers[block];
    if (BufferIsValid(hint) && ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, block, hint))
        return hint;
    Buffer buf = gv_read_page(index, block, page_type);
    l->recent_buffers[block] = buf;
    return buf;
}

void HnswPageReader::CheckNodeId(NodeId id, NodeId from) {
    if (id < node_limit) return;
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    node_limit = meta.node_count;
    if (id >= node_limit)
        gv_report_corrupted(index, layout->NodeBlock(from),
                            "node %u links to node %u, beyond the %u nodes of the index", from, id,
                            node_limit);
}

Buffer HnswPageReader::PinBlock(BlockNumber block, uint16 page_type) {
    bool inserted;
    uint32 *slot = pins.FindOrInsert(block, (uint32)InvalidBuffer, &inserted);
    if (!inserted) return (Buffer)*slot;
    // (the slot pointer may move with the next insertion: store through a
    // fresh lookup after reading the buffer)
    Buffer buf = PinHinted(block, page_type);  // verified
    *pins.FindOrInsert(block, 0, &inserted) = (uint32)buf;
    pinned.push_back(block);
    return buf;
}

Buffer HnswPageReader::NodePage(NodeId id) {
    return PinBlock(layout->NodeBlock(id), kHnswPageNodes);
}

int HnswPageReader::CopyNeighbors(NodeId id, int level) {
    Buffer buf = NodePage(id);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    HnswNodeHeader *node = HnswNodeAt(page, *layout, layout->Slot(id));
    int n = 0;
    if ((node->flags & kNodeValid) && level <= node->level) {
        if (unlikely(!HnswNodeListsInPage(node, *layout))) {
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            gv_report_corrupted(index, BufferGetBlockNumber(buf),
                                "node %u has level %d with upper lists at offset %u, outside "
                                "the page's list area",
                                id, node->level, node->upper_offset);
        }
        n = HnswListCount(page, node, *layout, level);
        memcpy(ids, HnswListIds(page, node, *layout, level), sizeof(NodeId) * n);
    }
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    return n;
}

// Copies the full vector of id from its vector page(s), with share locks or
// (lock = false) without: see ReadVectorUnlocked.
void HnswPageReader::CopyFromVectorPages(NodeId id, float *out, bool lock) {
    int offset, pages;
    BlockNumber block = layout->VectorBlock(id, &offset, &pages);
    gv_read_stream(index, block, offset, out, layout->VectorBytes(), kHnswPageVectors, lock);
}

void HnswPageReader::ReadVector(NodeId id, float *out) {
    if (!layout->F32()) {
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
    if (!layout->F32() && !FromCodes(id)) {
        CopyFromVectorPages(id, out, false);
        return;
    }
    HnswNodeHeader *node = HnswNodeAt(BufferGetPage(NodePage(id)), *layout, layout->Slot(id));
    if (layout->F32())
        memcpy(out, HnswInlineVector(node, *layout), layout->VectorBytes());
    else if (node->coded)
        gigavector::Sq8Decode(HnswCodes(node, *layout), coding.Ranges(*layout), out);
    else
        CopyFromVectorPages(id, out, false);  // the ranges miss it (hnsw_fill_node)
}

void HnswPageReader::ExactDistances(const NodeId *batch_ids, int n, float *out) {
    if (layout->F32() || layout->Spanning()) {
        for (int i = 0; i < n; i++) out[i] = ExactDistance(batch_ids[i]);
        return;
    }
    // vectors on one page are read in place (pins kept, no content lock, see
    // Distances); one that continues on the next page is copied in two parts
    const gigavector::DistanceKernels &k = gigavector::ActiveKernels();
    size_t bytes = layout->VectorBytes();
    for (int at = 0; at < n; at += 64) {
        int chunk = n - at < 64 ? n - at : 64;
        const float *vectors[64];
        bool split[64];
        for (int i = 0; i < chunk; i++) {
            int offset, pages;
            BlockNumber block = layout->VectorBlock(batch_ids[at + i], &offset, &pages);
            const char *p = (const char *)BufferGetPage(PinBlock(block, kHnswPageVectors)) + offset;
            split[i] = pages > 1;
            vectors[i] = (const float *)p;
            if (!split[i])
                for (size_t line = 0; line < bytes; line += 64) __builtin_prefetch(p + line);
        }
        for (int i = 0; i < chunk; i++) {
            if (split[i]) {
                ReadVectorUnlockedFromPages(batch_ids[at + i], vector_scratch);
                vectors[i] = vector_scratch;
            }
            out[at + i] =
                gigavector::IndexDistance(metric, k, query, vectors[i], (size_t)layout->dim);
        }
    }
}

// A vector's bytes from its (pinned) vector pages without content locks.
void HnswPageReader::ReadVectorUnlockedFromPages(NodeId id, float *dst) {
    int offset, pages;
    BlockNumber block = layout->VectorBlock(id, &offset, &pages);
    char *to = (char *)dst;
    size_t left = layout->VectorBytes();
    for (int p = 0; p < pages && left > 0; p++) {
        int start = p == 0 ? offset : (int)GvPageDataOffset();
        size_t room = (size_t)((int)GvPageDataOffset() + GvPageUsableBytes() - start);
        size_t chunk = left < room ? left : room;
        memcpy(to, (const char *)BufferGetPage(PinBlock(block + p, kHnswPageVectors)) + start,
               chunk);
        to += chunk;
        left -= chunk;
    }
}

float HnswPageReader::ExactDistance(NodeId id) {
    ReadVector(id, vector_scratch);
    return gigavector::IndexDistance(metric, gigavector::ActiveKernels(), query, vector_scratch,
                                     (size_t)layout->dim);
}

void HnswPageReader::CheckEntryPoint(NodeId entry, int entry_level) {
    Buffer buf = NodePage(entry);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    HnswNodeHeader *node = HnswNodeAt(BufferGetPage(buf), *layout, layout->Slot(entry));
    uint8 flags = node->flags;
    int level = node->level;
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    // (VACUUM keeps a deleted entry point valid until it has replaced it)
    if (unlikely(!(flags & kNodeValid) || (flags & ~(kNodeValid | kNodeDeleted)) != 0 ||
                 level != entry_level))
        gv_report_corrupted(index, BufferGetBlockNumber(buf),
                            "the entry point, node %u, has flags 0x%02x and level %d; the meta "
                            "page says it is a graph node of level %d",
                            entry, flags, level, entry_level);
}

void HnswPageReader::NodeInfo(NodeId id, ItemPointer tid, uint8 *flags) {
    Buffer buf = NodePage(id);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    HnswNodeHeader *node = HnswNodeAt(BufferGetPage(buf), *layout, layout->Slot(id));
    *tid = node->heap_tid;
    *flags = node->flags;
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
}

bool HnswPageReader::VerifiedResult(NodeId id, ItemPointer tid, uint8 *flags, float *distance) {
    const gigavector::DistanceKernels &k = gigavector::ActiveKernels();
    size_t dim = (size_t)layout->dim;
    for (int attempt = 0;; attempt++) {
        Buffer buf = NodePage(id);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        HnswNodeHeader *node = HnswNodeAt(BufferGetPage(buf), *layout, layout->Slot(id));
        *tid = node->heap_tid;
        *flags = node->flags;
        uint32 checksum = node->checksum, actual;
        if (!(node->flags & kNodeValid) || (node->flags & kNodeDeleted)) {
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            return true;  // not returned: nothing to verify
        }
        if (layout->F32()) {
            const float *v = HnswInlineVector(node, *layout);
            *distance = gigavector::IndexDistance(metric, k, query, v, dim);
            actual = hnsw_node_checksum(tid, v, layout->dim);
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        } else {
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            ReadVector(id, vector_scratch);
            *distance = gigavector::IndexDistance(metric, k, query, vector_scratch, dim);
            actual = hnsw_node_checksum(tid, vector_scratch, layout->dim);
            // the slot must still hold the node whose vector was read
            ItemPointerData again;
            uint8 flags_again;
            NodeInfo(id, &again, &flags_again);
            if (!ItemPointerEquals(tid, &again) || flags_again != *flags) return false;
        }
        if (likely(actual == checksum)) return true;
        // once more, in case the slot was freed and reused between the reads
        // (with the very same heap TID: unlikely, but not a sign of damage)
        if (attempt > 0)
            gv_report_corrupted(index, layout->NodeBlock(id),
                                "node %u: its vector or heap TID does not match its checksum "
                                "(stored %08x, computed %08x)",
                                id, checksum, actual);
    }
}

float HnswPageReader::Distance(NodeId id) {
    float d;
    Distances(&id, 1, &d);
    return d;
}

// Distances to a batch of neighbours.
//
// The vector data of a slot (float vector or sq8 codes) is read without the
// page's content lock: it is written once, before any link to the node exists
// (the link is published under an exclusive lock on another page, which we
// took in share mode to read it), and other writers on the page only touch
// other bytes; page images written back by generic WAL or replay rewrite
// these bytes with the same values. The pin keeps the page in its buffer.
// The valid flag is read without the lock too: a node is marked valid in the
// same write as its vector. The one exception is a slot that VACUUM freed and
// an insert reuses while a scan reads it: the scan may compute a distance
// from a torn vector, which only misleads the traversal, because every result
// is checked again under a share lock before it is returned (hnsw_gettuple).
//
// All slots of the batch are prefetched first, so memory latency overlaps.
void HnswPageReader::Distances(const NodeId *batch_ids, int n, float *out) {
    if (!layout->F32() && !layout->Sq8()) {
        for (int i = 0; i < n; i++) out[i] = ExactDistance(batch_ids[i]);
        return;
    }
    HnswNodeHeader *nodes[2 * kHnswMaxM];
    NodeId exact_ids[2 * kHnswMaxM];
    int exact_at[2 * kHnswMaxM];
    int nexact = 0;
    for (int i = 0; i < n; i++) {
        if (!layout->F32() && !FromCodes(batch_ids[i])) {
            // no codes (an index trained after this node was written): exact
            nodes[i] = nullptr;
            exact_at[nexact] = i;
            exact_ids[nexact++] = batch_ids[i];
            continue;
        }
        Page page = BufferGetPage(NodePage(batch_ids[i]));
        nodes[i] = HnswNodeAt(page, *layout, layout->Slot(batch_ids[i]));
        // the header (flags) and the vector or codes, not the neighbour list
        // between them: the fill buffers, not the arithmetic, bound this loop
        const char *p = (const char *)nodes[i];
        __builtin_prefetch(p);
        const char *data = (const char *)HnswCodes(nodes[i], *layout);
        const char *end = (const char *)nodes[i] + layout->node_size;
        for (const char *line = (const char *)((uintptr_t)data & ~(uintptr_t)63); line < end;
             line += 64)
            __builtin_prefetch(line);
    }
    if (layout->F32()) {
        const gigavector::DistanceKernels &k = gigavector::ActiveKernels();
        for (int i = 0; i < n; i++) {
            out[i] = (nodes[i]->flags & kNodeValid)
                         ? gigavector::IndexDistance(metric, k, query,
                                                     HnswInlineVector(nodes[i], *layout),
                                                     (size_t)layout->dim)
                         : INFINITY;
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        if (nodes[i] == nullptr) continue;
        if (!(nodes[i]->flags & kNodeValid)) {
            out[i] = INFINITY;
        } else if (nodes[i]->coded) {
            out[i] = sq.Distance(HnswCodes(nodes[i], *layout));
        } else {
            // the ranges miss this vector (hnsw_fill_node): exact, like nodes
            // written before the index was trained
            exact_at[nexact] = i;
            exact_ids[nexact++] = batch_ids[i];
        }
    }
    if (nexact > 0) {
        float exact[2 * kHnswMaxM];
        ExactDistances(exact_ids, nexact, exact);
        for (int j = 0; j < nexact; j++) {
            NodeId id = exact_ids[j];
            out[exact_at[j]] = FlagsUnlocked(id) & kNodeValid ? exact[j] : INFINITY;
        }
    }
}
