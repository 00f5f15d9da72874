// gv_hnsw scans: ORDER BY v <op> $1 [LIMIT k].
//
// A scan descends greedily through the upper levels, then runs the level-0
// best-first search (Algorithm 2 of Malkov & Yashunin) with ef_search
// candidates on quantized distances, re-ranks those candidates with the full
// vectors and returns them in exact distance order.
//
// When the executor asks for more (a WHERE clause filtered rows out, or
// LIMIT > ef_search), the search goes on from where it stopped with twice
// the ef: every node discovered is kept (not only the best ef), so widening
// loses nothing. Each new batch is re-ranked and returned in order; a
// candidate whose exact distance is below one already returned would break
// the order and is skipped. gigavector.max_scan_tuples bounds the total.
//
// Under cosine, zero vectors have no direction (their distance is NaN, which
// sorts last); they are kept on a chain outside the graph and returned after
// the graph's nodes.
#include "hnsw_search.h"

extern "C" {
#include "pgstat.h"
#include "utils/memutils.h"
}

using gigavector::Candidate;
using gigavector::CloserOnTop;
using gigavector::FartherOnTop;
using gigavector::NodeId;

namespace {

// Bits of DenseVisited marks.
constexpr uint8 kMarkOutput = 2;    // re-ranked into a batch (returned or skipped)
constexpr uint8 kMarkExpanded = 4;  // its neighbours have been looked at

struct HnswScanState {
    MemoryContext cxt;
    const HnswLayout *layout;  // -> layout_copy
    HnswLayout layout_copy;
    HnswPageReader reader;
    float *query;
    DenseVisited visited;
    CandidateVec candidates;   // to expand: better than the ef-th best when found (min-heap)
    CandidateVec best;         // best ef_current discovered (max-heap)
    CandidateVec found;        // everything discovered
    CandidateVec batch;        // exact distances of the batch being returned, ascending
    PgVec<NodeId> rerank_ids;  // scratch of MakeBatch
    PgVec<float> rerank_distances;
    int batch_pos;
    int ef;
    int ef_current;
    bool started;
    bool exhausted;
    double last_returned;
    int64 returned;
    bool zeros_started;  // the graph is done; walking the zero-vector chain
    NodeId zero_next;
    uint32 zero_steps_left;  // bounds the walk should a chain ever loop
};

// Next live node of the zero-vector chain (cosine's zero vectors, whose
// distance is NaN and so sorts after every other), or false at its end.
// VACUUM may unlink and free the node the walk stands on: the walk then finds
// a slot that is no longer a zero vector and starts again from the chain's
// head, skipping the nodes it returned (marked in the visited array, which
// graph nodes only use for graph ids).
bool NextZero(HnswScanState *s, Relation index, ItemPointer tid) {
    if (!s->zeros_started) {
        s->zeros_started = true;
        HnswMeta meta;
        hnsw_read_meta(index, &meta);
        s->zero_next = meta.zero_head;
        // bounds the walk should a damaged chain ever loop
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
            hnsw_report_corrupted(index, s->layout->NodeBlock(id),
                                  "zero-vector node %u: its heap TID does not match its checksum",
                                  id);
        if (!(flags & kNodeZero)) {
            HnswMeta meta;
            hnsw_read_meta(index, &meta);
            s->zero_next = meta.zero_head;
            continue;
        }
        s->zero_next = next;
        if (flags != kNodeZero || s->visited.Contains(id)) continue;
        s->visited.Insert(id);
        return true;
    }
    return false;
}

// Expands candidates until the nearest unexpanded one is farther than the
// ef_current-th best found (the usual HNSW stopping rule).
void Expand(HnswScanState *s) {
    while (!s->candidates.empty()) {
        Candidate nearest = s->candidates.front();
        if ((int)s->best.size() >= s->ef_current && nearest.distance > s->best.front().distance)
            break;
        gigavector::HeapPop<CloserOnTop>(s->candidates);
        s->visited.marks[nearest.id] |= kMarkExpanded;
        s->reader.ForEachUnvisitedNeighbor(nearest.id, 0, s->visited, [s](NodeId id, float d) {
            Candidate c{d, id};
            s->found.push_back(c);  // kept for widening, even if not good enough now
            bool room = (int)s->best.size() < s->ef_current;
            // Ties with the worst are expanded too: a plateau of equal
            // distances (thousands of duplicates) must be crossed, not stopped at.
            if (room || d <= s->best.front().distance)
                gigavector::HeapPush<CloserOnTop>(s->candidates, c);
            if (room || d < s->best.front().distance) {
                gigavector::HeapPush<FartherOnTop>(s->best, c);
                if ((int)s->best.size() > s->ef_current) gigavector::HeapPop<FartherOnTop>(s->best);
            }
        });
        CHECK_FOR_INTERRUPTS();
    }
}

// Re-ranks the best candidates not yet output into s->batch, ascending.
void MakeBatch(HnswScanState *s) {
    s->batch.clear();
    s->batch_pos = 0;
    for (const Candidate &c : s->best) {
        if (s->visited.marks[c.id] & kMarkOutput) continue;
        s->visited.marks[c.id] |= kMarkOutput;
        s->batch.push_back(c);
    }
    // inline vectors: the traversal distance is already exact; else re-rank
    if (!s->layout->inline_vectors) {
        PgVec<NodeId> &ids = s->rerank_ids;
        PgVec<float> &exact = s->rerank_distances;
        ids.clear();
        exact.clear();
        for (const Candidate &c : s->batch) {
            ids.push_back(c.id);
            exact.push_back(0);
        }
        s->reader.ExactDistances(ids.begin(), ids.count, exact.begin());
        for (int i = 0; i < s->batch.count; i++) s->batch[i].distance = exact[i];
    }
    std::sort(s->batch.begin(), s->batch.end(), gigavector::Closer);
}

// First batch: descend, search level 0 with ef, re-rank.
void StartSearch(HnswScanState *s, Relation index) {
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    hnsw_check_node_count(index, *s->layout, meta.node_count);
    s->reader.node_limit = meta.node_count;
    if (s->visited.marks == nullptr) {
        s->visited.Init(s->cxt, meta.node_count + 64);
    } else {
        if (meta.node_count >= s->visited.capacity) s->visited.Grow(meta.node_count);
        s->visited.Reset();
    }
    if (meta.entry_node == gigavector::kNoNode) {
        s->exhausted = true;
        return;
    }
    s->reader.SyncCoding(meta);
    s->reader.CheckEntryPoint(meta.entry_node, meta.entry_level);
    Candidate cur{s->reader.Distance(meta.entry_node), meta.entry_node};
    NoVisited none;
    for (int level = meta.entry_level; level > 0; level--)
        gigavector::GreedyClosest(s->reader, none, level, cur);
    s->visited.Insert(cur.id);
    s->found.push_back(cur);
    gigavector::HeapPush<CloserOnTop>(s->candidates, cur);
    gigavector::HeapPush<FartherOnTop>(s->best, cur);
    s->ef_current = s->ef;
    Expand(s);
    MakeBatch(s);
}

// Next batch: double ef, rebuild the best set and the nodes to expand from
// everything found, search on.
void WidenSearch(HnswScanState *s) {
    bool unexpanded = false;
    for (const Candidate &c : s->found)
        if (!(s->visited.marks[c.id] & kMarkExpanded)) {
            unexpanded = true;
            break;
        }
    bool nothing_left = !unexpanded && s->ef_current >= (int)s->found.size();
    if (nothing_left || s->returned >= gv_max_scan_tuples || s->ef_current >= gv_max_scan_tuples) {
        s->exhausted = true;
        return;
    }
    s->ef_current = s->ef_current * 2;
    if (s->ef_current > gv_max_scan_tuples) s->ef_current = gv_max_scan_tuples;
    int keep = s->ef_current < (int)s->found.size() ? s->ef_current : (int)s->found.size();
    std::nth_element(s->found.begin(), s->found.begin() + (keep > 0 ? keep - 1 : 0), s->found.end(),
                     gigavector::Closer);
    s->best.clear();
    for (int i = 0; i < keep; i++) gigavector::HeapPush<FartherOnTop>(s->best, s->found[i]);
    s->candidates.clear();
    for (const Candidate &c : s->found)
        if (!(s->visited.marks[c.id] & kMarkExpanded)) s->candidates.push_back(c);
    std::make_heap(s->candidates.begin(), s->candidates.end(), CloserOnTop());
    Expand(s);
    MakeBatch(s);
}

}  // namespace

extern "C" IndexScanDesc hnsw_beginscan(Relation index, int nkeys, int norderbys) {
    IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw scan", ALLOCSET_DEFAULT_SIZES);
    HnswScanState *s = (HnswScanState *)MemoryContextAllocZero(cxt, sizeof(HnswScanState));
    s->cxt = cxt;
    s->layout_copy = hnsw_get_layout(index);
    s->layout = &s->layout_copy;
    s->query = (float *)MemoryContextAllocZero(cxt, sizeof(float) * s->layout->dim);
    s->reader.Init(index, s->layout, s->query, cxt);
    s->candidates.Init(cxt, 256);
    s->best.Init(cxt, 256);
    s->found.Init(cxt, 1024);
    s->batch.Init(cxt, 256);
    s->rerank_ids.Init(cxt, 256);
    s->rerank_distances.Init(cxt, 256);
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
    s->batch.clear();
    s->batch_pos = 0;
    s->started = false;
    s->exhausted = false;
    s->returned = 0;
    s->last_returned = -INFINITY;
    s->zeros_started = false;
    s->zero_next = gigavector::kNoNode;
    s->ef = hnsw_ef_search(scan->indexRelation);

    // The query: a NULL ORDER BY argument orders nothing; use the zero vector.
    memset(s->query, 0, sizeof(float) * s->layout->dim);
    if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL))
        hnsw_prepare_vector(scan->orderByData[0].sk_argument, *s->layout, s->query);
    // (the query is prepared for sq8 codes when the search starts, with the
    // ranges the meta page says are in effect then)
}

// Hands one heap TID to the executor: exact, in order, nothing to recheck.
static bool ReturnTuple(IndexScanDesc scan, HnswScanState *s, ItemPointer tid) {
    s->returned++;
    scan->xs_heaptid = *tid;
    scan->xs_recheck = false;
    scan->xs_recheckorderby = false;
    return true;
}

extern "C" bool hnsw_gettuple(IndexScanDesc scan, ScanDirection dir) {
    HnswScanState *s = (HnswScanState *)scan->opaque;
    if (!ScanDirectionIsForward(dir))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("gv_hnsw scans only go forward"),
                 errhint("Do not use a scrollable cursor over a gv_hnsw index scan.")));
    if (scan->numberOfOrderBys == 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("gv_hnsw index scans need ORDER BY a distance operator"),
                        errhint("Query with ORDER BY v <-> $1 LIMIT k.")));
    MemoryContext old = MemoryContextSwitchTo(s->cxt);
    if (!s->started) {
        s->started = true;
        pgstat_count_index_scan(scan->indexRelation);
        StartSearch(s, scan->indexRelation);
    }
    for (;;) {
        while (s->batch_pos < (int)s->batch.size()) {
            Candidate c = s->batch[s->batch_pos++];
            if ((double)c.distance < s->last_returned) continue;  // would break the order
            ItemPointerData tid;
            uint8 flags;
            float now;
            if (!s->reader.VerifiedResult(c.id, &tid, &flags, &now)) continue;  // slot reused
            if (!(flags & kNodeValid) || (flags & kNodeDeleted)) continue;
            if (now != c.distance) continue;  // the slot holds another node by now
            s->last_returned = c.distance;
            MemoryContextSwitchTo(old);
            return ReturnTuple(scan, s, &tid);
        }
        if (s->exhausted) break;
        WidenSearch(s);
    }
    MemoryContextSwitchTo(old);
    ItemPointerData tid;
    if (NextZero(s, scan->indexRelation, &tid)) return ReturnTuple(scan, s, &tid);
    return false;
}

extern "C" void hnsw_endscan(IndexScanDesc scan) {
    HnswScanState *s = (HnswScanState *)scan->opaque;
    s->reader.ReleasePins();
    MemoryContextDelete(s->cxt);
    scan->opaque = NULL;
}
