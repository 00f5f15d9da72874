// gv_hnsw CREATE INDEX.
//
// The heap is scanned into an in-memory HnswGraph (src/core) whose memory
// comes from a Postgres memory context, sized by maintenance_work_mem. The
// graph is linked with 1 + max_parallel_maintenance_workers threads (plain
// C++ threads that never call into Postgres; the leader reports progress and
// watches for cancellation), then written page by page without WAL and
// WAL-logged in bulk with log_newpage_range, as the built-in AMs do.
//
// Rows that do not fit in maintenance_work_mem are inserted through pages
// after the graph is written (slower, never an error), with a NOTICE.
#include "hnsw/hnsw_page_graph.h"

extern "C" {
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
}

#include "gigavector/hnsw/hnsw_calibrate.h"
#include "gigavector/hnsw/hnsw_graph.h"

using gigavector::NodeId;

namespace {

constexpr int kPhaseLoad = 2;
constexpr int kPhaseLink = 3;
constexpr int kPhaseWrite = 4;

struct BuildState {
    Relation heap;
    Relation index;
    HnswLayout layout;
    MemoryContext cxt;
    gigavector::HnswGraph *graph;
    char *graph_raw;  // the palloc'd region the graph lives in
    size_t capacity;
    size_t paged;  // rows that went through the page path (the graph was full)
    ItemPointerData *tids;
    int *upper_used;  // bytes of upper lists per group, to keep each page's within its reserve
    float *scratch;
    double indtuples;
    bool graph_written;
    PgVec<ItemPointerData> zero_tids;  // cosine zero vectors, chained after the graph is written
    HnswCoding coding;                 // sq8 ranges trained on the graph's vectors
    uint32 trained_rows;
    int calibrated_ef;  // 0: too few rows to measure
    double calibration_recall;
};

// Bytes the in-memory build needs per node (graph, heap TID).
size_t BytesPerNode(const HnswLayout &l) {
    gigavector::HnswParams p;
    p.m = l.m;
    p.ef_construction = l.ef_construction;
    return gigavector::HnswGraph::BytesNeeded(1024, l.dim, p) / 1024 + sizeof(ItemPointerData) +
           sizeof(int);
}

// Room for how many nodes maintenance_work_mem gives, at most `wanted`.
size_t FitCapacity(const HnswLayout &l, size_t wanted) {
    size_t fit = (size_t)maintenance_work_mem * 1024 / BytesPerNode(l);
    if (fit > wanted) fit = wanted;
    if (fit < 16) fit = 16;
    return fit;
}

// Allocates the graph's region for `capacity` nodes (and the arrays kept
// beside it), moving the nodes added so far: the build starts from the
// table's row estimate and doubles as rows come, up to maintenance_work_mem,
// so a table never analyzed (whose estimate counts only the main fork's
// blocks: 784-d vectors are TOASTed and it said 1,900 rows of 60,000) still
// builds in memory.
void AllocateGraph(BuildState *b, size_t capacity) {
    gigavector::HnswParams params;
    params.m = b->layout.m;
    params.ef_construction = b->layout.ef_construction;
    size_t bytes = gigavector::HnswGraph::BytesNeeded(capacity, b->layout.dim, params);
    char *raw = (char *)MemoryContextAllocHuge(b->cxt, bytes + 64);
    void *aligned = (void *)TYPEALIGN(64, raw);
    if (b->graph == nullptr) {
        GV_CPP_BEGIN
        b->graph = new (palloc(sizeof(gigavector::HnswGraph))) gigavector::HnswGraph(
            aligned, bytes, capacity, b->layout.dim, b->layout.metric, params);
        GV_CPP_END
        b->tids =
            (ItemPointerData *)MemoryContextAllocHuge(b->cxt, sizeof(ItemPointerData) * capacity);
        b->upper_used = (int *)MemoryContextAllocHuge(
            b->cxt, sizeof(int) * (capacity / b->layout.nodes_per_page + 2));
        memset(b->upper_used, 0, sizeof(int) * (capacity / b->layout.nodes_per_page + 2));
    } else {
        GV_CPP_BEGIN
        b->graph->MoveTo(aligned, bytes, capacity);
        GV_CPP_END
        pfree(b->graph_raw);
        b->tids = (ItemPointerData *)repalloc_huge(b->tids, sizeof(ItemPointerData) * capacity);
        size_t old_groups = b->capacity / b->layout.nodes_per_page + 2;
        size_t groups = capacity / b->layout.nodes_per_page + 2;
        b->upper_used = (int *)repalloc_huge(b->upper_used, sizeof(int) * groups);
        memset(b->upper_used + old_groups, 0, sizeof(int) * (groups - old_groups));
    }
    b->graph_raw = raw;
    b->capacity = capacity;
}

// Doubles the graph's room if maintenance_work_mem allows; false when it is
// already as large as it may be.
bool GrowGraph(BuildState *b) {
    size_t want = b->capacity * 2 > b->capacity + 1024 ? b->capacity * 2 : b->capacity + 1024;
    size_t capacity = FitCapacity(b->layout, want);
    if (capacity <= b->capacity) return false;
    AllocateGraph(b, capacity);
    return true;
}

bool ReportLinkProgress(void *, size_t linked) {
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64)linked);
    return !INTERRUPTS_PENDING_CONDITION();
}

// Page order for the nodes: breadth-first from the entry point over level 0,
// so that a node's neighbours tend to share its page and a search touches
// fewer pages (cf. Coleman et al., "Graph Reordering for Cache-Efficient
// Near Neighbor Search", NeurIPS 2022). A node whose upper lists would
// overflow its page's reserve waits for the next page. Fills order[new] = old
// and new_of_old[old] = new; returns false (and the caller keeps the build
// order, which always fits) in the rare case that the last nodes cannot be
// placed.
bool ReorderForLocality(BuildState *b, NodeId *order, NodeId *new_of_old) {
    const HnswLayout &l = b->layout;
    gigavector::HnswGraph &g = *b->graph;
    NodeId n = (NodeId)g.size();
    NodeId *bfs = (NodeId *)palloc_extended(sizeof(NodeId) * (size_t)n, MCXT_ALLOC_HUGE);
    NodeId *deferred = (NodeId *)palloc_extended(sizeof(NodeId) * (size_t)n, MCXT_ALLOC_HUGE);
    NodeId *list = (NodeId *)palloc(sizeof(NodeId) * 2 * l.m);
    const NodeId kUnseen = gigavector::kNoNode;
    for (NodeId i = 0; i < n; i++) new_of_old[i] = kUnseen;
    NodeId head = 0, tail = 0, next_unreached = 0;
    while (tail < n) {
        if (head == tail) {  // (re)start: the entry point, then any node not reached
            NodeId start = g.entry_point();
            if (tail > 0) {
                while (new_of_old[next_unreached] != kUnseen) next_unreached++;
                start = next_unreached;
            }
            new_of_old[start] = 0;
            bfs[tail++] = start;
        }
        int count = g.CopyNeighbors(bfs[head++], 0, list);
        for (int i = 0; i < count; i++) {
            if (new_of_old[list[i]] != kUnseen) continue;
            new_of_old[list[i]] = 0;
            bfs[tail++] = list[i];
        }
    }
    int upper_bytes = (int)l.UpperListBytes();
    NodeId placed = 0, next = 0, ndeferred = 0, dhead = 0;
    int used_slots = 0, used_bytes = 0;
    bool ok = true;
    while (placed < n) {
        NodeId pick = kUnseen;
        if (dhead < ndeferred &&
            used_bytes + g.level(deferred[dhead]) * upper_bytes <= l.upper_reserve) {
            pick = deferred[dhead++];
        } else {
            while (next < n) {
                NodeId old = bfs[next++];
                if (used_bytes + g.level(old) * upper_bytes <= l.upper_reserve) {
                    pick = old;
                    break;
                }
                deferred[ndeferred++] = old;
            }
        }
        if (pick == kUnseen) {
            ok = false;  // only deferred nodes left and none fits this page
            break;
        }
        order[placed] = pick;
        new_of_old[pick] = placed++;
        used_bytes += g.level(pick) * upper_bytes;
        if (++used_slots == l.nodes_per_page) used_slots = used_bytes = 0;
    }
    pfree(bfs);
    pfree(deferred);
    pfree(list);
    return ok;
}

// Writes the in-memory graph as pages 0 .. n (no WAL; logged afterwards),
// nodes renumbered by ReorderForLocality.
void WritePages(BuildState *b) {
    const HnswLayout &l = b->layout;
    gigavector::HnswGraph &g = *b->graph;
    size_t n = g.size();
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseWrite);
    NodeId *order = (NodeId *)palloc_extended(sizeof(NodeId) * (n + 1), MCXT_ALLOC_HUGE);
    NodeId *new_of_old = (NodeId *)palloc_extended(sizeof(NodeId) * (n + 1), MCXT_ALLOC_HUGE);
    // Slots with codes of the coded dimensions only (sq8.h: MNIST's 717 of
    // 784 give 9 nodes a page, not 8). The load clamped levels to the pages
    // of its own layout (code_bytes = dim), so the reorder must place every
    // node within the new pages' reserves, else the old layout stays.
    HnswLayout loaded = b->layout;
    bool compact = b->coding.coded_from != gigavector::kNoNode && b->coding.coded < (uint32)l.dim;
    if (compact)
        hnsw_compute_layout(l.dim, l.metric, l.m, l.ef_construction, false, &b->layout,
                            (int)b->coding.coded);
    bool ordered = n > 0 && ReorderForLocality(b, order, new_of_old);
    if (!ordered && compact) {
        b->layout = loaded;
        ordered = ReorderForLocality(b, order, new_of_old);
    }
    if (n > 0 && !ordered) {
        for (size_t i = 0; i < n; i++) order[i] = new_of_old[i] = (NodeId)i;
    }

    Buffer metabuf = ReadBufferExtended(b->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
    Assert(BufferGetBlockNumber(metabuf) == 0);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    Page metapage = BufferGetPage(metabuf);
    hnsw_init_meta(metapage, l);
    HnswMeta *meta = hnsw_meta_of(b->index, metapage);
    meta->node_count = (uint32)n;
    meta->entry_node = n ? new_of_old[g.entry_point()] : gigavector::kNoNode;
    meta->entry_level = n ? g.max_level() : -1;
    meta->coded_from = b->coding.coded_from;
    meta->calibrated_ef = (uint16)b->calibrated_ef;
    meta->calibration_recall = (uint16)(b->calibration_recall * 10000.0 + 0.5);
    meta->trained_rows = b->trained_rows;
    meta->coded_dims = (uint16)b->coding.coded;
    if (b->coding.coded_from != gigavector::kNoNode)
        meta->quantizer_checksum = hnsw_ranges_checksum(b->coding.ranges, l.dim);
    MarkBufferDirty(metabuf);
    UnlockReleaseBuffer(metabuf);

    // the quantizer pages: the trained ranges, or empty pages that the insert
    // which trains the index fills
    if (l.quantizer_pages > 0) {
        Page *qpages = (Page *)palloc(sizeof(Page) * l.quantizer_pages);
        for (int p = 0; p < l.quantizer_pages; p++) {
            qpages[p] = (Page)palloc(BLCKSZ);
            gv_init_page(qpages[p], kHnswPageQuantizer, 0);
        }
        if (b->coding.coded_from != gigavector::kNoNode)
            gv_write_stream(qpages, (int)GvPageDataOffset(), b->coding.ranges, 2 * l.VectorBytes());
        for (int p = 0; p < l.quantizer_pages; p++) {
            Buffer qbuf = ReadBufferExtended(b->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
            LockBuffer(qbuf, BUFFER_LOCK_EXCLUSIVE);
            memcpy(BufferGetPage(qbuf), qpages[p], BLCKSZ);
            MarkBufferDirty(qbuf);
            UnlockReleaseBuffer(qbuf);
            pfree(qpages[p]);
        }
        pfree(qpages);
    }

    NodeId *list = (NodeId *)palloc(sizeof(NodeId) * 2 * l.m);
    uint32 uncoded = 0;
    size_t group_nodes = l.GroupNodes();
    size_t groups = (n + group_nodes - 1) / group_nodes;
    int vector_pages = l.group_pages - l.node_pages;
    Page *vpages = (Page *)palloc(sizeof(Page) * (vector_pages + 1));
    for (int p = 0; p < vector_pages; p++) vpages[p] = (Page)palloc(BLCKSZ);
    for (size_t grp = 0; grp < groups; grp++) {
        // the group's node pages (all of them, so that the vector pages keep
        // their block numbers), then its vector pages, in block order. Vector
        // pages are composed in local images (a group can have hundreds, more
        // than the LWLocks one backend may hold) and copied into their buffers.
        for (int p = 0; p < vector_pages; p++)
            gv_init_page(vpages[p], kHnswPageVectors, (uint32)grp);
        BlockNumber vector_start =
            l.FirstGroupBlock() + (BlockNumber)grp * l.group_pages + l.node_pages;
        for (int k = 0; k < l.node_pages; k++) {
            Buffer nodebuf = ReadBufferExtended(b->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
            LockBuffer(nodebuf, BUFFER_LOCK_EXCLUSIVE);
            Page page = BufferGetPage(nodebuf);
            gv_init_page(page, kHnswPageNodes, (uint32)grp);
            PageHeader ph = (PageHeader)page;
            size_t first = grp * group_nodes + (size_t)k * l.nodes_per_page;
            size_t last = first + l.nodes_per_page < n ? first + l.nodes_per_page : n;
            for (size_t id = first; id < last; id++) {
                int slot = (int)(id - first);
                NodeId old = order[id];
                int level = g.level(old);
                uint16 upper_offset = 0;
                if (level > 0) {
                    ph->pd_upper = (LocationIndex)(ph->pd_upper - level * (int)l.UpperListBytes());
                    upper_offset = ph->pd_upper;
                }
                if (!hnsw_fill_node(page, l, b->coding, (NodeId)id, &b->tids[old], level,
                                    upper_offset, g.vector(old)))
                    uncoded++;
                HnswNodeHeader *node = HnswNodeAt(page, l, slot);
                for (int lev = 0; lev <= level; lev++) {
                    int count = g.CopyNeighbors(old, lev, list);
                    for (int i = 0; i < count; i++) list[i] = new_of_old[list[i]];
                    HnswSetList(page, node, l, lev, list, count);
                }
                if (l.F32()) continue;  // the vector is in the slot
                int offset, pages;
                int vp = (int)(l.VectorBlock((NodeId)id, &offset, &pages) - vector_start);
                gv_write_stream(&vpages[vp], offset, g.vector(old), l.VectorBytes());
            }
            if (last > first) ph->pd_lower = (LocationIndex)HnswNodeOffset(l, (int)(last - first));
            MarkBufferDirty(nodebuf);
            UnlockReleaseBuffer(nodebuf);
        }
        for (int p = 0; p < vector_pages; p++) {
            Buffer vbuf = ReadBufferExtended(b->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
            LockBuffer(vbuf, BUFFER_LOCK_EXCLUSIVE);
            memcpy(BufferGetPage(vbuf), vpages[p], BLCKSZ);
            MarkBufferDirty(vbuf);
            UnlockReleaseBuffer(vbuf);
        }
        if ((grp & 63) == 0) CHECK_FOR_INTERRUPTS();
    }
    for (int p = 0; p < vector_pages; p++) pfree(vpages[p]);
    pfree(vpages);
    pfree(list);
    pfree(order);
    pfree(new_of_old);
    if (uncoded > 0) {
        // rows the ranges (trained on a sample) miss: known only now
        metabuf = ReadBuffer(b->index, 0);
        LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
        hnsw_meta_of(b->index, BufferGetPage(metabuf))->uncoded_nodes = uncoded;
        MarkBufferDirty(metabuf);
        UnlockReleaseBuffer(metabuf);
    }
    // WAL-log the pages now: inserts that follow (tuples beyond
    // maintenance_work_mem) write generic WAL records on top of them.
    if (RelationNeedsWAL(b->index))
        log_newpage_range(b->index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(b->index), true);
}

// Trains the sq8 ranges on the graph's vectors (at most kHnswSq8MaxTrainRows
// of them, evenly spaced), unless there are too few to be representative:
// the index then starts untrained and an insert trains it later.
void TrainCoding(BuildState *b) {
    const HnswLayout &l = b->layout;
    gigavector::HnswGraph &g = *b->graph;
    size_t n = g.size();
    b->coding.coded_from = gigavector::kNoNode;
    if (!l.Sq8() || n < kHnswSq8TrainRows) return;
    hnsw_alloc_coding(CurrentMemoryContext, l, &b->coding);
    float *hi = (float *)palloc(l.VectorBytes());
    gigavector::Sq8Trainer trainer((size_t)l.dim, b->coding.ranges, hi);
    size_t stride = (n + kHnswSq8MaxTrainRows - 1) / kHnswSq8MaxTrainRows;
    for (size_t i = 0; i < n; i += stride) trainer.Add(g.vector((NodeId)i));
    trainer.Finish(b->coding.ranges, b->coding.ranges + l.dim);
    hnsw_set_coded_dims(l, &b->coding);  // the load's layout has room for dim
    b->trained_rows = (uint32)trainer.count();
    b->coding.coded_from = 0;
    pfree(hi);
}

// Links the graph (threads), then writes it. C++ that may throw runs inside
// GV_CPP blocks that hold no Postgres resources.
void FinishGraph(BuildState *b) {
    gigavector::HnswGraph &g = *b->graph;
    size_t n = g.size();
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLink);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64)n);
    int threads = 1 + max_parallel_maintenance_workers;
    if (threads > 8) threads = 8;
    if (n < 10000) threads = 1;
    // The threads stop whenever an interrupt is pending; the leader then
    // services it here (a cancel raises its ERROR, anything else returns)
    // and linking resumes where it stopped.
    NodeId from = 0;
    for (;;) {
        bool finished = true;
        GV_CPP_BEGIN
        finished = g.LinkRange(from, (NodeId)n, threads, ReportLinkProgress, nullptr, &from);
        GV_CPP_END
        if (finished) break;
        CHECK_FOR_INTERRUPTS();
    }
    GV_CPP_BEGIN
    g.FillDeferred();
    g.ConnectOrphans();
    GV_CPP_END
    // the default ef_search, measured on the index's own rows (the threads
    // block every signal; a cancel is seen when this returns)
    if (n >= (size_t)kHnswCalibrationQueries) {
        gigavector::EfCalibration cal;
        GV_CPP_BEGIN
        cal = gigavector::CalibrateEfSearch(g, kHnswCalibrationQueries, 10, kHnswCalibrationRecall,
                                            threads);
        GV_CPP_END
        b->calibrated_ef = cal.ef;
        b->calibration_recall = cal.recall;
        CHECK_FOR_INTERRUPTS();
    }
    TrainCoding(b);
    WritePages(b);
    b->graph_written = true;
}

void BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
                   bool tuple_is_alive, void *state) {
    BuildState *b = (BuildState *)state;
    (void)index;
    (void)tuple_is_alive;
    if (isnull[0]) return;
    if (!hnsw_prepare_vector(b->index, values[0], b->layout, b->scratch)) {  // zero vector, cosine
        b->zero_tids.push_back(*tid);
        return;
    }
    if (!b->graph_written) {
        for (;;) {
            gigavector::HnswGraph &g = *b->graph;
            NodeId id = (NodeId)g.size();
            if (id < b->capacity) {
                int m = b->layout.m;
                int level = gigavector::RandomLevel(1.0 - pg_prng_double(&pg_global_prng_state), m);
                int grp = (int)(id / b->layout.nodes_per_page);
                while (level > 0 && b->upper_used[grp] + level * (int)b->layout.UpperListBytes() >
                                        b->layout.upper_reserve)
                    level--;
                NodeId added = g.Add(b->scratch, level);
                if (added != gigavector::kNoNode) {
                    b->tids[added] = *tid;
                    b->upper_used[grp] += level * (int)b->layout.UpperListBytes();
                    b->indtuples += 1;
                    return;
                }
            }
            if (!GrowGraph(b)) break;
        }
        // maintenance_work_mem is full: write what we have, go on through
        // pages (the NOTICE at the end says how much memory it would take)
        FinishGraph(b);
        index->rd_amcache = NULL;
    }
    b->paged++;
    hnsw_insert_on_disk(b->index, b->scratch, tid);
    b->indtuples += 1;
}

}  // namespace

extern "C" IndexBuildResult *hnsw_build(Relation heap, Relation index, IndexInfo *info) {
    if (RelationGetNumberOfBlocks(index) != 0)
        elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
    int m, efc, efs;
    hnsw_get_options(index, &m, &efc, &efs);
    int dim = gv_indexed_dimensions(index);

    BuildState *b = (BuildState *)palloc0(sizeof(BuildState));
    b->heap = heap;
    b->index = index;
    hnsw_compute_layout(dim, gv_index_metric(index), m, efc, hnsw_wants_f32(index), &b->layout);
    b->coding.coded_from = gigavector::kNoNode;
    b->cxt = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw build", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(b->cxt);

    // a first capacity from the table's estimated rows; the graph grows
    // from there as rows come (AllocateGraph), up to maintenance_work_mem
    double estimate = heap->rd_rel->reltuples;
    if (estimate < 0)
        estimate = (double)RelationGetNumberOfBlocks(heap) * (BLCKSZ / (dim * 4.0 + 40.0));
    AllocateGraph(b, FitCapacity(b->layout, (size_t)(estimate * 1.2) + 1000));
    b->scratch = (float *)palloc(sizeof(float) * dim);
    b->zero_tids.Init(b->cxt, 16);

    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLoad);
    double reltuples =
        table_index_build_scan(heap, index, info, true, true, BuildCallback, b, NULL);
    if (!b->graph_written) FinishGraph(b);
    for (const ItemPointerData &tid : b->zero_tids) {
        ItemPointerData copy = tid;
        hnsw_insert_zero(index, &copy);
        b->indtuples += 1;
    }

    if (b->paged > 0) {
        double rows = b->indtuples;
        size_t needed = (size_t)(rows * (double)BytesPerNode(b->layout) / (1024.0 * 1024.0)) + 1;
        ereport(NOTICE,
                (errmsg("gv_hnsw built %zu of %.0f rows in memory and inserted %zu page by page",
                        b->graph->size(), rows, b->paged),
                 errdetail("Building all of them in memory needs about %zu MB of "
                           "maintenance_work_mem; it is %d MB.",
                           needed, maintenance_work_mem / 1024),
                 errhint("SET maintenance_work_mem = '%zuMB' before CREATE INDEX to build faster.",
                         needed + needed / 8 + 1)));
    }
    double index_tuples = b->indtuples;
    b->graph->~HnswGraph();
    MemoryContextSwitchTo(old);
    MemoryContextDelete(b->cxt);
    // in the caller's context: b->cxt and everything in it is gone
    IndexBuildResult *result = (IndexBuildResult *)palloc(sizeof(IndexBuildResult));
    result->heap_tuples = reltuples;
    result->index_tuples = index_tuples;
    index->rd_amcache = NULL;
    return result;
}

// Empty index in the init fork (UNLOGGED tables): the meta page and empty
// quantizer pages.
extern "C" void hnsw_buildempty(Relation index) {
    int m, efc, efs;
    hnsw_get_options(index, &m, &efc, &efs);
    int dim = gv_indexed_dimensions(index);
    HnswLayout layout;
    hnsw_compute_layout(dim, gv_index_metric(index), m, efc, hnsw_wants_f32(index), &layout);
    Buffer buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, NULL);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    START_CRIT_SECTION();
    hnsw_init_meta(BufferGetPage(buf), layout);
    MarkBufferDirty(buf);
    log_newpage_buffer(buf, true);
    END_CRIT_SECTION();
    UnlockReleaseBuffer(buf);
    // the (empty) quantizer pages, so that a reset index has every block
    // the meta page implies; the insert that trains the index fills them
    for (int p = 0; p < layout.quantizer_pages; p++) {
        buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, NULL);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        START_CRIT_SECTION();
        gv_init_page(BufferGetPage(buf), kHnswPageQuantizer, 0);
        MarkBufferDirty(buf);
        log_newpage_buffer(buf, true);
        END_CRIT_SECTION();
        UnlockReleaseBuffer(buf);
    }
}
