// gv_ivfpq scans: ORDER BY v <op> $1 [LIMIT k], as a candidate source of the
// shared ordered scan (common/ordered_scan.h: batches, exact re-rank, order,
// widening, the exact pass, the zero-vector tail).
//
// A search ranks the centroids once, scans the `probes` nearest lists with
// the core's scanner (ivf/ivfpq.h: fast-scan blocks and unpacked tails, on
// the pages under a share lock, one page at a time) and keeps the best
// `rerank_candidates` by code distance. Widening doubles both and scans
// again; candidates handed out before are not handed out twice. Exact
// distances come from the table's row under the scan's snapshot (rerank =
// heap: a row the snapshot cannot see is no candidate) or from the index's
// copy (rerank = index).
#include "common/ordered_scan.h"
#include "ivfpq/ivfpq_am.h"

extern "C" {
#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "pgstat.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
}

using gigavector::Candidate;
using gigavector::NodeId;

namespace {

constexpr uint8 kUnknown = 0, kReady = 1, kGone = 2;

// The pages of the lists, as the core scanner's storage (ivfpq.h's
// contract): each page's blocks and unpacked entries. The ids are the
// entries' heap TIDs (rerank = heap: all the re-rank needs) or their
// positions (rerank = index: the re-rank reads the vector's locator there).
struct IvfPageLists {
    Relation index;
    const IvfState *st;
    BlockNumber nblocks;  // the index's size as last seen (ivfpq_block_in_index)
    uint64 *ids;          // per page: as many as a page holds
    uint8 *codes;         // per page: its unpacked entries' codes, contiguous
    int64 scanned;        // entries scanned
    bool tid_ids;         // ids are heap TIDs, else positions

    template <class V>
    void ScanList(uint32 list, V &v);
};

template <class V>
void IvfPageLists::ScanList(uint32 list, V &v) {
    const IvfGeometry &g = st->geo;
    ivfpq_walk_list(index, st, (int)list, BUFFER_LOCK_SHARE, &nblocks, NULL, [&](Buffer buf) {
        BlockNumber block = BufferGetBlockNumber(buf);
        Page page = BufferGetPage(buf);
        const IvfListPage *h = IvfListPageOf(page);
        int slot = 0;
        for (int k = 0; k < h->blocks; k++) {
            const char *blk = (const char *)page + g.BlockOffset(k);
            int n = std::min(gigavector::kFastScanBlock, h->packed - k * 32);
            for (int e = 0; e < n; e++) {
                ItemPointerData tid;
                memcpy(&tid, blk + g.block_code_bytes + e * g.ref_bytes, sizeof(tid));
                ids[e] = !ItemPointerIsValid(&tid) ? gigavector::kIvfNoId
                         : tid_ids                 ? IvfTidId(&tid)
                                                   : IvfPosition(block, slot + e);
            }
            v.Blocks((const uint8_t *)blk, ids, (size_t)n);
            slot += n;
        }
        for (int t = 0; t < h->tail; t++) {
            const char *ref = (const char *)page + g.TailOffset(h->blocks, t);
            ItemPointerData tid;
            memcpy(&tid, ref, sizeof(tid));
            ids[t] = !ItemPointerIsValid(&tid) ? gigavector::kIvfNoId
                     : tid_ids                 ? IvfTidId(&tid)
                                               : IvfPosition(block, h->packed + t);
            memcpy(codes + (size_t)t * g.m, ref + g.ref_bytes, g.m);
        }
        if (h->tail > 0) v.Codes(codes, ids, (size_t)h->tail);
        scanned += h->packed + h->tail;
    });
}

struct IvfScanState {
    Relation index;
    MemoryContext cxt;
    MemoryContext tmp;  // per candidate
    const IvfState *st;
    float *query;
    float *vec;
    IvfPageLists pages;
    gigavector::IvfPqScratch scratch;
    size_t heap_cap;
    size_t batch_n;  // candidates of the last search, sorted in scratch.heap
    int probes0, rerank0;
    int probes_cur;
    size_t rerank_cur;
    bool exhausted;           // the last search held every entry of every list
    PgVec<uint64> positions;  // local id -> the scanner's id (heap TID or position)
    PgVec<ItemPointerData> tids;
    PgVec<float> exact;
    PgVec<uint8> state;
    HTAB *handed;    // ids handed out
    HTAB *returned;  // heap TIDs returned (a list re-packed between two
                     // searches of a scan shows its entries twice)
    int64 reranked;
    // heap access for rerank = heap
    Relation heap;
    Snapshot snapshot;
    IndexFetchTableData *fetch;
    TupleTableSlot *slot;
    EState *estate;
    IndexInfo *iinfo;
    // the zero-vector list
    bool zero_started;
    BlockNumber zero_block;
    int zero_slot;
    BlockNumber zero_steps;
    GvOrderedScan ordered;
};
GV_ASSERT_LONGJMP_SAFE(IvfScanState);

void EnsureHeap(IvfScanState *s, size_t cap) {
    if (cap <= s->heap_cap) return;
    s->scratch.heap = (gigavector::IvfCandidate *)MemoryContextAllocHuge(
        s->cxt, sizeof(gigavector::IvfCandidate) * cap);
    s->heap_cap = cap;
}

// Scans the first `probes` lists of the probe order with room for `rerank`.
void Search(IvfScanState *s, int probes, size_t rerank) {
    EnsureHeap(s, rerank);
    gigavector::IvfPqScanner scanner(s->st->model, s->query, s->scratch, rerank);
    int64 before = s->pages.scanned;
    scanner.ScanLists(s->pages, 0, probes);
    s->probes_cur = probes;
    s->rerank_cur = rerank;
    // every entry of every list fits in the heap: nothing is left to find
    s->exhausted = probes >= s->st->meta.lists && (size_t)(s->pages.scanned - before) < rerank;
    s->batch_n = scanner.TakeSorted();  // sorted in scratch.heap, for NextBatch
}

bool Start(void *am) {
    IvfScanState *s = (IvfScanState *)am;
    if (s->st->meta.exact) return false;  // untrained: the exact pass reads every entry
    gigavector::RankLists(s->st->model, s->query, s->scratch);
    Search(s, std::min(s->probes0, s->st->meta.lists), (size_t)s->rerank0);
    return true;
}

// A set of 64-bit ids in a memory context.
HTAB *IdSet(MemoryContext cxt, const char *name) {
    HASHCTL ctl;
    memset(&ctl, 0, sizeof(ctl));
    ctl.keysize = sizeof(uint64);
    ctl.entrysize = sizeof(uint64);
    ctl.hcxt = cxt;
    return hash_create(name, 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

bool Handed(IvfScanState *s, uint64 pos, bool mark) {
    bool found;
    hash_search(s->handed, &pos, mark ? HASH_ENTER : HASH_FIND, &found);
    return found;
}

NodeId AddLocal(IvfScanState *s, uint64 pos) {
    NodeId id = (NodeId)s->positions.size();
    s->positions.push_back(pos);
    ItemPointerData none;
    ItemPointerSetInvalid(&none);
    s->tids.push_back(none);
    s->exact.push_back(0.0f);
    s->state.push_back(kUnknown);
    return id;
}

void NextBatch(void *am, PgVec<Candidate> *out) {
    IvfScanState *s = (IvfScanState *)am;
    size_t n = s->batch_n;
    s->batch_n = 0;
    for (size_t i = 0; i < n; i++) {
        const gigavector::IvfCandidate &c = s->scratch.heap[i];
        if (Handed(s, c.id, true)) continue;
        out->push_back(Candidate{c.distance, AddLocal(s, c.id)});
    }
}

bool Widen(void *am, int ef) {
    IvfScanState *s = (IvfScanState *)am;
    if (s->exhausted) return false;
    int lists = s->st->meta.lists;
    int probes = std::min(lists, std::max(ef, s->probes_cur));
    size_t rerank = (size_t)((double)s->rerank0 * ef / std::max(1, s->probes0));
    rerank = std::max(rerank, s->rerank_cur * 2);
    Search(s, probes, rerank);
    return true;
}

// The exact index distance of a candidate, from the heap or the index;
// false when the entry or its row is gone (or invisible to the snapshot).
bool ExactOne(IvfScanState *s, NodeId id) {
    uint64 pos = s->positions[id];
    const IvfGeometry &g = s->st->geo;
    char ref[2 * sizeof(ItemPointerData)];
    if (s->pages.tid_ids) {
        ItemPointerSet((ItemPointer)ref, (BlockNumber)(pos >> 16), (OffsetNumber)(pos & 0xFFFF));
    } else {
        BlockNumber block = IvfPositionBlock(pos);
        int slot = IvfPositionSlot(pos);
        if (!ivfpq_block_in_index(s->index, block, &s->pages.nblocks))
            gv_report_corrupted(s->index, block, "a position points past the end of the index");
        Buffer buf = gv_read_page(s->index, block, kIvfPageList);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        const IvfListPage *h = IvfListPageOf(page);
        if (slot >= h->packed + h->tail) {
            UnlockReleaseBuffer(buf);
            return false;
        }
        memcpy(ref, IvfEntryRef(page, g, slot), g.ref_bytes);
        UnlockReleaseBuffer(buf);
    }
    ItemPointerData tid;
    memcpy(&tid, ref, sizeof(tid));
    if (!ItemPointerIsValid(&tid)) return false;
    s->tids[id] = tid;
    MemoryContext old = MemoryContextSwitchTo(s->tmp);
    bool ok = false;
    if (g.vectors) {
        ItemPointerData loc;
        memcpy(&loc, ref + sizeof(ItemPointerData), sizeof(loc));
        ivfpq_read_vector(s->index, s->st, &loc, s->vec, &s->pages.nblocks);
        ok = true;
    } else {
        bool call_again = false, all_dead = false;
        ItemPointerData t = tid;
        if (table_index_fetch_tuple(s->fetch, &t, s->snapshot, s->slot, &call_again, &all_dead)) {
            Datum values[INDEX_MAX_KEYS];
            bool isnull[INDEX_MAX_KEYS];
            ExprContext *econtext = GetPerTupleExprContext(s->estate);
            econtext->ecxt_scantuple = s->slot;
            FormIndexDatum(s->iinfo, s->slot, s->estate, values, isnull);
            if (!isnull[0])
                ok = gv_prepare_vector(s->index, values[0], s->st->meta.dim,
                                       (gigavector::Metric)s->st->meta.metric, s->vec);
            ResetExprContext(econtext);
            ExecClearTuple(s->slot);
        }
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(s->tmp);
    if (!ok) return false;
    s->exact[id] = gigavector::IndexDistance((gigavector::Metric)s->st->meta.metric,
                                             gigavector::ActiveKernels(), s->query, s->vec,
                                             (size_t)s->st->meta.dim);
    return true;
}

void Exact(void *am, const NodeId *ids, int n, float *out) {
    IvfScanState *s = (IvfScanState *)am;
    for (int i = 0; i < n; i++) {
        NodeId id = ids[i];
        if (s->state[id] == kUnknown) {
            s->state[id] = ExactOne(s, id) ? kReady : kGone;
            s->reranked++;
        }
        out[i] = s->state[id] == kReady ? s->exact[id] : INFINITY;
        if ((s->reranked & 255) == 0) CHECK_FOR_INTERRUPTS();
    }
}

bool Verify(void *am, NodeId id, ItemPointer tid, float *distance) {
    IvfScanState *s = (IvfScanState *)am;
    if (s->state[id] != kReady) return false;
    uint64 key = IvfTidId(&s->tids[id]);
    bool seen;
    hash_search(s->returned, &key, HASH_ENTER, &seen);
    if (seen) return false;
    *tid = s->tids[id];
    *distance = s->exact[id];
    return true;
}

// Every entry of every list not handed out, with its exact distance.
struct CollectAll {
    IvfScanState *s;
    PgVec<NodeId> *fresh;
    void Take(const uint64_t *ids, size_t n) {
        for (size_t i = 0; i < n; i++) {
            if (ids[i] == gigavector::kIvfNoId) continue;
            if (Handed(s, ids[i], true)) continue;
            fresh->push_back(AddLocal(s, ids[i]));
        }
    }
    void Blocks(const uint8_t *, const uint64_t *ids, size_t n) { Take(ids, n); }
    void Codes(const uint8_t *, const uint64_t *ids, size_t n) { Take(ids, n); }
};

void Exhaustive(void *am, PgVec<Candidate> *out) {
    IvfScanState *s = (IvfScanState *)am;
    PgVec<NodeId> fresh;
    fresh.Init(s->cxt, 1024);
    CollectAll all{s, &fresh};
    for (int l = 0; l < s->st->meta.lists; l++) {
        fresh.clear();
        s->pages.ScanList((uint32)l, all);
        for (NodeId id : fresh) {
            float d;
            Exact(s, &id, 1, &d);
            if (s->state[id] == kReady) out->push_back(Candidate{d, id});
        }
        CHECK_FOR_INTERRUPTS();
    }
}

// The zero-vector list (cosine), after everything else.
bool NextTail(void *am, ItemPointer tid) {
    IvfScanState *s = (IvfScanState *)am;
    const IvfGeometry &g = s->st->geo;
    int zero_list = s->st->meta.lists;
    if (!s->zero_started) {
        s->zero_started = true;
        s->zero_block = ivfpq_read_dir(s->index, s->st, zero_list).head;
        s->zero_slot = 0;
        s->zero_steps = 0;
    }
    while (s->zero_block != InvalidBlockNumber) {
        // (a walk longer than the index has blocks loops)
        if (!ivfpq_block_in_index(s->index, s->zero_steps++, &s->pages.nblocks))
            gv_report_corrupted(s->index, s->zero_block, "the zero-vector list loops");
        Buffer buf = ivfpq_read_list_page(s->index, s->zero_block, zero_list, &s->pages.nblocks);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        ivfpq_check_list_page(s->index, buf, g, zero_list);
        Page page = BufferGetPage(buf);
        const IvfListPage *h = IvfListPageOf(page);
        while (s->zero_slot < h->packed + h->tail) {
            ItemPointerData t;
            memcpy(&t, IvfEntryRef(page, g, s->zero_slot), sizeof(t));
            s->zero_slot++;
            if (ItemPointerIsValid(&t)) {
                UnlockReleaseBuffer(buf);
                s->zero_steps--;
                *tid = t;
                return true;
            }
        }
        s->zero_block = h->next;
        s->zero_slot = 0;
        UnlockReleaseBuffer(buf);
    }
    return false;
}

int64 Visited(void *am) {
    return ((IvfScanState *)am)->reranked;
}

void Work(void *am, GvScanWork *out) {
    const IvfScanState *s = (const IvfScanState *)am;
    out->lists_probed = s->probes_cur;
    out->codes_scanned = (int64)s->pages.scanned;
}

}  // namespace

extern "C" IndexScanDesc ivfpq_beginscan(Relation index, int nkeys, int norderbys) {
    IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv_ivfpq scan", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    IvfScanState *s = (IvfScanState *)palloc0(sizeof(IvfScanState));
    s->index = index;
    s->cxt = cxt;
    s->tmp = AllocSetContextCreate(cxt, "gv_ivfpq candidate", ALLOCSET_SMALL_SIZES);
    s->st = ivfpq_state(index);
    const IvfState *st = s->st;
    s->query = (float *)palloc0(sizeof(float) * st->meta.dim);
    s->vec = (float *)palloc0(sizeof(float) * st->meta.dim);
    s->pages.index = index;
    s->pages.st = st;
    int per_page = std::max(st->geo.TailCapacity(0), gigavector::kFastScanBlock) + 1;
    s->pages.ids = (uint64 *)palloc(sizeof(uint64) * per_page);
    s->pages.codes = (uint8 *)palloc((size_t)per_page * st->geo.m);
    gigavector::IvfPqScratchSizes sz = gigavector::IvfPqScratchSizesFor(st->model, 0);
    s->scratch.list_distances = (float *)palloc(sizeof(float) * (sz.list_floats + 1));
    s->scratch.probe_order = (uint32 *)palloc(sizeof(uint32) * (sz.list_ids + 1));
    s->scratch.residual = (float *)palloc(sizeof(float) * (sz.dim_floats + 1));
    s->scratch.table = (float *)palloc(sizeof(float) * (sz.table_floats + 1));
    s->scratch.qtable = (uint8 *)palloc(sz.qtable_bytes + 1);
    s->positions.Init(cxt, 256);
    s->tids.Init(cxt, 256);
    s->exact.Init(cxt, 256);
    s->state.Init(cxt, 256);
    s->handed = IdSet(cxt, "gv_ivfpq handed out");
    s->returned = IdSet(cxt, "gv_ivfpq returned");
    s->pages.tid_ids = !st->geo.vectors;
    GvScanSource source = {s,      Start,      NextBatch, Widen,   Exact,
                           Verify, Exhaustive, NextTail,  Visited, Work};
    gv_ordered_scan_init(&s->ordered, source, cxt, index);
    MemoryContextSwitchTo(old);
    scan->opaque = s;
    return scan;
}

extern "C" void ivfpq_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
                             int norderbys) {
    IvfScanState *s = (IvfScanState *)scan->opaque;
    (void)nkeys;
    (void)norderbys;
    if (keys && scan->numberOfKeys > 0)
        memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
    if (orderbys && scan->numberOfOrderBys > 0)
        memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
    MemoryContext old = MemoryContextSwitchTo(s->cxt);
    // heap access for the re-rank: the heap and snapshot are known by now
    if (!s->st->geo.vectors && s->fetch == NULL && scan->heapRelation != NULL) {
        s->heap = scan->heapRelation;
        s->fetch = table_index_fetch_begin(s->heap);
        s->slot = table_slot_create(s->heap, NULL);
        s->estate = CreateExecutorState();
        s->iinfo = BuildIndexInfo(s->index);
    }
    s->snapshot = scan->xs_snapshot;
    hash_destroy(s->handed);
    hash_destroy(s->returned);
    s->handed = IdSet(s->cxt, "gv_ivfpq handed out");
    s->returned = IdSet(s->cxt, "gv_ivfpq returned");
    s->positions.clear();
    s->tids.clear();
    s->exact.clear();
    s->state.clear();
    s->reranked = 0;
    s->exhausted = false;
    s->zero_started = false;
    s->pages.scanned = 0;
    s->probes0 = std::max(1, ivfpq_probes(s->index, s->st));
    s->rerank0 = std::max(1, ivfpq_rerank_candidates(s->index, s->st));
    s->batch_n = 0;
    gv_ordered_scan_reset(&s->ordered, s->probes0);
    memset(s->query, 0, sizeof(float) * s->st->meta.dim);
    if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL))
        ivfpq_prepare_vector(s->index, s->st, scan->orderByData[0].sk_argument, s->query);
    MemoryContextSwitchTo(old);
}

extern "C" bool ivfpq_gettuple(IndexScanDesc scan, ScanDirection dir) {
    IvfScanState *s = (IvfScanState *)scan->opaque;
    if (!s->st->geo.vectors && s->fetch == NULL)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("gv_ivfpq scans with rerank = heap need the table"),
                        errhint("Build the index WITH (rerank = index).")));
    return gv_ordered_scan_gettuple(&s->ordered, scan, dir);
}

extern "C" void ivfpq_endscan(IndexScanDesc scan) {
    IvfScanState *s = (IvfScanState *)scan->opaque;
    gv_ordered_scan_end(&s->ordered);
    if (s->fetch != NULL) {
        table_index_fetch_end(s->fetch);
        ExecDropSingleTupleTableSlot(s->slot);
        FreeExecutorState(s->estate);
    }
    MemoryContextDelete(s->cxt);
    scan->opaque = NULL;
}
