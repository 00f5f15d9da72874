// gv_hnsw scans: ORDER BY v <op> $1 [LIMIT k], as a candidate source of the
// shared ordered scan (common/ordered_scan.h: batches, exact re-rank, order,
// widening, the exact pass, the zero-vector tail).
//
// The search descends greedily through the upper levels, then runs the core's
// level-0 best-first search (ann/best_first.h, Algorithm 2 of Malkov &
// Yashunin) with ef_search candidates on quantized distances, keeping every
// node it discovers: widening (twice the ef) goes on from where it stopped
// and loses nothing. A batch is the best candidates not yet handed out; the
// exact pass walks every node slot.
//
// Under cosine, zero vectors have no direction (their distance is NaN, which
// sorts last); they are kept on a chain outside the graph and returned after
// the graph's nodes.
#include "common/ordered_scan.h"
#include "hnsw/hnsw_page_graph.h"

extern "C" {
#include "pgstat.h"
#include "utils/memutils.h"
}

using gigavector::Candidate;
using gigavector::CloserOnTop;
using gigavector::FartherOnTop;
using gigavector::NodeId;

namespace {

// Flag of the visited marks: handed out in a batch or the exact pass.
constexpr uint16_t kMarkHandedOut = PageVisited::kFlag2;

struct HnswScanState {
    Relation index;
    MemoryContext cxt;
    const HnswLayout *layout;  // -> layout_copy
    HnswLayout layout_copy;
    HnswPageReader reader;
    float *query;
    PageVisited visited;
    bool visited_ready;
    CandidateVec candidates;  // to expand (min-heap)
    CandidateVec best;        // best ef_current discovered (max-heap)
    CandidateVec found;       // everything discovered
    int ef_current;
    uint32 node_count;   // when the search started
    bool zeros_started;  // walking the zero-vector chain
    NodeId zero_next;
    uint32 zero_steps_left;  // bounds the walk should a chain ever loop
    GvOrderedScan ordered;
};
GV_ASSERT_LONGJMP_SAFE(HnswScanState);

// Descends, then searches level 0 with ef.
bool Start(void *am) {
    HnswScanState *s = (HnswScanState *)am;
    HnswMeta meta;
    hnsw_read_meta(s->index, &meta);
    hnsw_check_node_count(s->index, *s->layout, meta.node_count);
    s->node_count = meta.node_count;
    s->reader.node_limit = meta.node_count;
    // about the nodes a search at this ef discovers
    uint32 expected = (uint32)s->ordered.ef * (uint32)s->layout->MaxNeighbors(0);
    if (!s->visited_ready) {
        InitPageVisited(&s->visited, s->cxt, expected);
        s->visited_ready = true;
    } else {
        s->visited.Reset(expected);
    }
    if (meta.entry_node == gigavector::kNoNode) return false;
    s->reader.SyncCoding(meta);
    s->reader.CheckEntryPoint(meta.entry_node, meta.entry_level);
    Candidate cur{s->reader.Distance(meta.entry_node), meta.entry_node};
    gigavector::NoVisited none;
    for (int level = meta.entry_level; level > 0; level--)
        gigavector::GreedyClosest(s->reader, none, level, cur);
    s->visited.Insert(cur.id);
    s->found.push_back(cur);
    gigavector::HeapPush<CloserOnTop>(s->candidates, cur);
    gigavector::HeapPush<FartherOnTop>(s->best, cur);
    s->ef_current = s->ordered.ef;
    gigavector::BestFirstExpand(s->reader, s->visited, 0, s->ef_current, s->candidates, s->best,
                                &s->found);
    return true;
}

void NextBatch(void *am, CandidateVec *out) {
    HnswScanState *s = (HnswScanState *)am;
    for (const Candidate &c : s->best) {
        if (s->visited.Flags(c.id) & kMarkHandedOut) continue;
        s->visited.SetFlags(c.id, kMarkHandedOut);
        out->push_back(c);
    }
}

bool Widen(void *am, int ef) {
    HnswScanState *s = (HnswScanState *)am;
    if (!gigavector::BestFirstWiden(s->visited, s->ef_current, ef, s->candidates, s->best,
                                    s->found))
        return false;
    s->ef_current = ef;
    gigavector::BestFirstExpand(s->reader, s->visited, 0, ef, s->candidates, s->best, &s->found);
    return true;
}

void Exact(void *am, const NodeId *ids, int n, float *out) {
    HnswScanState *s = (HnswScanState *)am;
    for (int at = 0; at < n; at += 2 * kHnswMaxM) {
        int chunk = n - at < 2 * kHnswMaxM ? n - at : 2 * kHnswMaxM;
        if (s->layout->F32())
            s->reader.Distances(ids + at, chunk, out + at);  // the slot's floats: exact
        else
            s->reader.ExactDistances(ids + at, chunk, out + at);
    }
}

bool Verify(void *am, NodeId id, ItemPointer tid, float *distance) {
    HnswScanState *s = (HnswScanState *)am;
    uint8 flags;
    if (!s->reader.VerifiedResult(id, tid, &flags, distance)) return false;  // slot reused
    return (flags & kNodeValid) && !(flags & kNodeDeleted);
}

// Every live graph node not handed out, with its exact distance. Nodes added
// since the search started are included (they may be visible rows).
void Exhaustive(void *am, CandidateVec *out) {
    HnswScanState *s = (HnswScanState *)am;
    const HnswLayout &l = *s->layout;
    HnswMeta meta;
    hnsw_read_meta(s->index, &meta);
    hnsw_check_node_count(s->index, l, meta.node_count);
    s->reader.node_limit = meta.node_count;
    NodeId ids[2 * kHnswMaxM];
    float d[2 * kHnswMaxM];
    int n = 0;
    auto flush = [&]() {
        if (n == 0) return;
        Exact(s, ids, n, d);
        for (int i = 0; i < n; i++) out->push_back(Candidate{d[i], ids[i]});
        n = 0;
    };
    for (uint32 first = 0; first < meta.node_count; first += (uint32)l.nodes_per_page) {
        uint32 last = std::min(first + (uint32)l.nodes_per_page, meta.node_count);
        Buffer buf = s->reader.NodePage(first);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        for (uint32 id = first; id < last; id++) {
            uint8 flags = HnswNodeAt(page, l, l.Slot(id))->flags;
            if (flags != kNodeValid) continue;
            s->visited.Insert(id);
            if (s->visited.Flags(id) & kMarkHandedOut) continue;
            s->visited.SetFlags(id, kMarkHandedOut);
            ids[n] = id;
            if (++n == 2 * kHnswMaxM) {
                LockBuffer(buf, BUFFER_LOCK_UNLOCK);
                flush();
                LockBuffer(buf, BUFFER_LOCK_SHARE);
            }
        }
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        flush();
        // pins are kept per page; do not let them pile up over the whole index
        if (((first / l.nodes_per_page) & 63) == 63) s->reader.ReleasePins();
        CHECK_FOR_INTERRUPTS();
    }
}

// Next live node of the zero-vector chain (cosine's zero vectors, whose
// distance is NaN and so sorts after every other), or false at its end.
// VACUUM may unlink and free the node the walk stands on: the walk then finds
// a slot that is no longer a zero vector and starts again from the chain's
// head, skipping the nodes it returned (marked handed out: graph searches
// never visit zero vectors).
bool NextTail(void *am, ItemPointer tid) {
    HnswScanState *s = (HnswScanState *)am;
    if (!s->visited_ready) return false;
    if (!s->zeros_started) {
        s->zeros_started = true;
        HnswMeta meta;
        hnsw_read_meta(s->index, &meta);
        s->zero_next = meta.zero_head;
        s->zero_steps_left = 2 * meta.node_count + 16;
    }
    while (s->zero_next != gigavector::kNoNode && s->zero_steps_left > 0) {
        s->zero_steps_left--;
        NodeId id = s->zero_next;
        Buffer buf = s->reader.NodePage(id);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        HnswNodeHeader *h = HnswNodeAt(BufferGetPage(buf), *s->layout, s->layout->Slot(id));
        uint8 flags = h->flags;
        *tid = h->heap_tid;
        NodeId next = HnswChainNext(h);
        bool sound = h->checksum == hnsw_node_checksum(tid, nullptr, s->layout->dim);
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        if (flags == kNodeZero && !sound)
            gv_report_corrupted(s->index, s->layout->NodeBlock(id),
                                "zero-vector node %u: its heap TID does not match its checksum",
                                id);
        if (!(flags & kNodeZero)) {
            HnswMeta meta;
            hnsw_read_meta(s->index, &meta);
            s->zero_next = meta.zero_head;
            continue;
        }
        s->zero_next = next;
        if (flags != kNodeZero) continue;
        s->visited.Insert(id);
        if (s->visited.Flags(id) & kMarkHandedOut) continue;
        s->visited.SetFlags(id, kMarkHandedOut);
        return true;
    }
    return false;
}

int64 Visited(void *am) {
    return (int64)((HnswScanState *)am)->found.size();
}

void Work(void *am, GvScanWork *out) {
    out->nodes_visited = (int64)((HnswScanState *)am)->found.size();
}

}  // namespace

extern "C" IndexScanDesc hnsw_beginscan(Relation index, int nkeys, int norderbys) {
    IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw scan", ALLOCSET_DEFAULT_SIZES);
    HnswScanState *s = (HnswScanState *)MemoryContextAllocZero(cxt, sizeof(HnswScanState));
    s->index = index;
    s->cxt = cxt;
    s->layout_copy = hnsw_get_layout(index);
    s->layout = &s->layout_copy;
    s->query = (float *)MemoryContextAllocZero(cxt, sizeof(float) * s->layout->dim);
    s->reader.Init(index, s->layout, s->query, cxt);
    s->candidates.Init(cxt, 256);
    s->best.Init(cxt, 256);
    s->found.Init(cxt, 1024);
    GvScanSource source = {s,      Start,      NextBatch, Widen,   Exact,
                           Verify, Exhaustive, NextTail,  Visited, Work};
    gv_ordered_scan_init(&s->ordered, source, cxt, index);
    scan->opaque = s;
    return scan;
}

extern "C" void hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
                            int norderbys) {
    HnswScanState *s = (HnswScanState *)scan->opaque;
    if (keys && scan->numberOfKeys > 0)
        memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
    if (orderbys && scan->numberOfOrderBys > 0)
        memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
    (void)nkeys;
    (void)norderbys;

    // Forget the previous search; keep pins (they are still valid pages).
    s->candidates.clear();
    s->best.clear();
    s->found.clear();
    s->zeros_started = false;
    s->zero_next = gigavector::kNoNode;
    gv_ordered_scan_reset(&s->ordered, hnsw_ef_search(scan->indexRelation));

    // The query: a NULL ORDER BY argument orders nothing; use the zero vector.
    memset(s->query, 0, sizeof(float) * s->layout->dim);
    if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL))
        hnsw_prepare_vector(scan->indexRelation, scan->orderByData[0].sk_argument, *s->layout,
                            s->query);
    // (the query is prepared for sq8 codes when the search starts, with the
    // ranges the meta page says are in effect then)
}

extern "C" bool hnsw_gettuple(IndexScanDesc scan, ScanDirection dir) {
    HnswScanState *s = (HnswScanState *)scan->opaque;
    return gv_ordered_scan_gettuple(&s->ordered, scan, dir);
}

extern "C" void hnsw_endscan(IndexScanDesc scan) {
    HnswScanState *s = (HnswScanState *)scan->opaque;
    gv_ordered_scan_end(&s->ordered);
    s->reader.ReleasePins();
    MemoryContextDelete(s->cxt);
    scan->opaque = NULL;
}
