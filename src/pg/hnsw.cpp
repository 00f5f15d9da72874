// gv_hnsw: access method handler, reloptions, planner cost estimate, opclass
// validation, and the structural check gigavector.hnsw_check().
#include "hnsw_search.h"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(gv_hnsw_handler);
PG_FUNCTION_INFO_V1(gvector_metric_l2);
PG_FUNCTION_INFO_V1(gvector_metric_ip);
PG_FUNCTION_INFO_V1(gvector_metric_cosine);
PG_FUNCTION_INFO_V1(gvector_metric_l1);
PG_FUNCTION_INFO_V1(gv_hnsw_check);
}

using gigavector::NodeId;

static relopt_kind hnsw_relopt_kind;

// Registers the reloptions; called from _PG_init.
void hnsw_define_reloptions(void) {
    hnsw_relopt_kind = add_reloption_kind();
    add_int_reloption(hnsw_relopt_kind, "m", "Neighbours per node on upper levels (2m on level 0)",
                      kHnswDefaultM, kHnswMinM, kHnswMaxM, AccessExclusiveLock);
    add_int_reloption(hnsw_relopt_kind, "ef_construction", "Candidate list size while building",
                      kHnswDefaultEfConstruction, kHnswMinEfConstruction, kHnswMaxEfConstruction,
                      AccessExclusiveLock);
    add_int_reloption(hnsw_relopt_kind, "ef_search",
                      "Default candidate list size for scans (gigavector.hnsw_ef_search overrides)",
                      kHnswDefaultEfSearch, kHnswMinEfSearch, kHnswMaxEfSearch,
                      AccessExclusiveLock);
}

static bytea *HnswOptionsParse(Datum reloptions, bool validate) {
    static const relopt_parse_elt table[] = {
        {"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
        {"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
        {"ef_search", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_search)},
    };
    HnswOptions *opts = (HnswOptions *)build_reloptions(reloptions, validate, hnsw_relopt_kind,
                                                        sizeof(HnswOptions), table, 3);
    if (opts && validate && opts->ef_construction < 2 * opts->m)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("ef_construction (%d) must be at least 2 * m (%d)",
                               opts->ef_construction, 2 * opts->m),
                        errhint("Raise ef_construction or lower m.")));
    return (bytea *)opts;
}

// The index is only useful for ORDER BY <distance>; all its work happens
// before the first tuple: about ef_search x 2m distance computations (the
// level-0 expansions), on pages that are read once per scan and usually
// cached, so they are charged at seq_page_cost, not random_page_cost. The
// executor then takes LIMIT k of them; the planner scales the run cost.
static void HnswCostEstimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup,
                             Cost *total, Selectivity *selectivity, double *correlation,
                             double *pages) {
    (void)root;
    (void)loop_count;
    if (path->indexorderbys == NIL) {
        *startup = *total = get_float8_infinity();
        *selectivity = 0;
        *correlation = 0;
        *pages = 0;
        return;
    }
    Relation index = index_open(path->indexinfo->indexoid, NoLock);
    int m, efc, ef;
    hnsw_get_options(index, &m, &efc, &ef);
    if (gv_hnsw_ef_search > 0) ef = gv_hnsw_ef_search;
    index_close(index, NoLock);

    double tuples = path->indexinfo->tuples > 1 ? path->indexinfo->tuples : 1;
    double index_pages = path->indexinfo->pages > 1 ? (double)path->indexinfo->pages : 1;
    double visited = (double)ef * 2 * m;
    if (visited > tuples) visited = tuples;
    double pages_read = visited * index_pages / tuples;
    if (pages_read > index_pages) pages_read = index_pages;
    // a distance costs about as much as two operator calls
    Cost search = pages_read * seq_page_cost + visited * 2 * cpu_operator_cost;
    *startup = search;
    *total = search + tuples * cpu_index_tuple_cost;
    *selectivity = 1.0;
    *correlation = 0;
    *pages = pages_read;
}

static char *HnswPhaseName(int64 phase) {
    switch (phase) {
        case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
            return (char *)"initializing";
        case 2:
            return (char *)"loading tuples";
        case 3:
            return (char *)"linking graph";
        case 4:
            return (char *)"writing pages";
        default:
            return NULL;
    }
}

static bool HnswValidate(Oid opclassoid) {
    (void)opclassoid;
    return true;
}

extern "C" Datum gv_hnsw_handler(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    IndexAmRoutine *am = makeNode(IndexAmRoutine);
    am->amstrategies = 0;
    am->amsupport = 2;
    am->amoptsprocnum = 0;
    am->amcanorder = false;
    am->amcanorderbyop = true;
    am->amcanbackward = false;
    am->amcanunique = false;
    am->amcanmulticol = false;
    am->amoptionalkey = true;
    am->amsearcharray = false;
    am->amsearchnulls = false;
    am->amstorage = false;
    am->amclusterable = false;
    am->ampredlocks = false;
    am->amcanparallel = false;
    am->amcaninclude = false;
    am->amusemaintenanceworkmem = false;
    am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
    am->amkeytype = InvalidOid;
    am->ambuild = hnsw_build;
    am->ambuildempty = hnsw_buildempty;
    am->aminsert = hnsw_insert;
    am->ambulkdelete = hnsw_bulkdelete;
    am->amvacuumcleanup = hnsw_vacuumcleanup;
    am->amcanreturn = NULL;
    am->amcostestimate = HnswCostEstimate;
    am->amoptions = HnswOptionsParse;
    am->amproperty = NULL;
    am->ambuildphasename = HnswPhaseName;
    am->amvalidate = HnswValidate;
    am->amadjustmembers = NULL;
    am->ambeginscan = hnsw_beginscan;
    am->amrescan = hnsw_rescan;
    am->amgettuple = hnsw_gettuple;
    am->amgetbitmap = NULL;
    am->amendscan = hnsw_endscan;
    am->ammarkpos = NULL;
    am->amrestrpos = NULL;
    am->amestimateparallelscan = NULL;
    am->aminitparallelscan = NULL;
    am->amparallelrescan = NULL;
    PG_RETURN_POINTER(am);
}

// Operator class support function 2: which metric the opclass orders by.
extern "C" Datum gvector_metric_l2(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32((int)gigavector::Metric::kL2);
}
extern "C" Datum gvector_metric_ip(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32((int)gigavector::Metric::kInnerProduct);
}
extern "C" Datum gvector_metric_cosine(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32((int)gigavector::Metric::kCosine);
}
extern "C" Datum gvector_metric_l1(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32((int)gigavector::Metric::kL1);
}

// Appends one problem row.
static void Problem(ReturnSetInfo *rsinfo, const char *fmt, ...) pg_attribute_printf(2, 3);
static void Problem(ReturnSetInfo *rsinfo, const char *fmt, ...) {
    char buf[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    Datum value = CStringGetTextDatum(buf);
    bool isnull = false;
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
}

// gigavector.hnsw_check(index): one row per structural problem; none when
// the index is sound. Checks the meta page, every node slot (flags, level,
// list sizes, neighbour ids in range, no self links, neighbours that have
// the level), upper-list placement and the entry point.
extern "C" Datum gv_hnsw_check(PG_FUNCTION_ARGS) {
    Oid indexoid = PG_GETARG_OID(0);
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    Relation index = index_open(indexoid, AccessShareLock);
    if (index->rd_rel->relam != get_am_oid("gv_hnsw", false))
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a gv_hnsw index", RelationGetRelationName(index)),
                        errhint("Pass a gv_hnsw index, e.g. 'items_embedding_idx'::regclass.")));
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    HnswLayout layout_copy = hnsw_get_layout(index);
    const HnswLayout *l = &layout_copy;
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    uint32 n = meta.node_count;
    BlockNumber needed = n == 0 ? 1 : l->NodeBlock(n - 1) + l->group_pages;
    if (nblocks < needed)
        Problem(rsinfo, "index has %u blocks, %u nodes need %u", nblocks, n, needed);
    else {
        uint8 *levels = (uint8 *)palloc0(n + 1);
        uint8 *valid = (uint8 *)palloc0(n + 1);
        // pass 1: node headers
        for (uint32 id = 0; id < n; id++) {
            Buffer buf = ReadBuffer(index, l->NodeBlock(id));
            LockBuffer(buf, BUFFER_LOCK_SHARE);
            Page page = BufferGetPage(buf);
            HnswPageOpaque *op = (HnswPageOpaque *)PageGetSpecialPointer(page);
            if (op->page_type != kHnswPageNodes)
                Problem(rsinfo, "block %u holds node %u but is not a node page", l->NodeBlock(id),
                        id);
            HnswNodeHeader *h = HnswNodeAt(page, *l, l->Slot(id));
            valid[id] = (h->flags & kNodeValid) != 0;
            levels[id] = h->level;
            if (valid[id]) {
                if (h->level > gigavector::kHnswMaxLevel)
                    Problem(rsinfo, "node %u has level %d", id, h->level);
                if (h->count0 > l->MaxNeighbors(0))
                    Problem(rsinfo, "node %u has %d level-0 neighbours, at most %d", id, h->count0,
                            l->MaxNeighbors(0));
                if (h->level > 0) {
                    size_t end = h->upper_offset + (size_t)h->level * l->UpperListBytes();
                    if (h->upper_offset < HnswNodeOffset(*l, l->nodes_per_group) ||
                        end > BLCKSZ - MAXALIGN(sizeof(HnswPageOpaque)))
                        Problem(rsinfo, "node %u has its upper lists outside the reserved area",
                                id);
                }
                if (!ItemPointerIsValid(&h->heap_tid))
                    Problem(rsinfo, "node %u has an invalid heap TID", id);
            }
            UnlockReleaseBuffer(buf);
        }
        // pass 2: lists
        NodeId *list = (NodeId *)palloc(sizeof(NodeId) * 2 * kHnswMaxM);
        for (uint32 id = 0; id < n; id++) {
            if (!valid[id]) continue;
            Buffer buf = ReadBuffer(index, l->NodeBlock(id));
            LockBuffer(buf, BUFFER_LOCK_SHARE);
            Page page = BufferGetPage(buf);
            HnswNodeHeader *h = HnswNodeAt(page, *l, l->Slot(id));
            for (int lev = 0; lev <= h->level && lev <= gigavector::kHnswMaxLevel; lev++) {
                int count;
                if (lev == 0) {
                    count = h->count0 > l->MaxNeighbors(0) ? l->MaxNeighbors(0) : h->count0;
                    memcpy(list, HnswNeighbors0(h), sizeof(NodeId) * count);
                } else {
                    uint32 *upper = HnswUpperList(page, h, *l, lev);
                    count = (int)upper[0];
                    if (count > l->m) {
                        Problem(rsinfo, "node %u has %d neighbours on level %d, at most %d", id,
                                count, lev, l->m);
                        count = l->m;
                    }
                    memcpy(list, upper + 1, sizeof(NodeId) * count);
                }
                for (int i = 0; i < count; i++) {
                    NodeId nb = list[i];
                    if (nb >= n)
                        Problem(rsinfo, "node %u links to node %u on level %d, beyond the %u nodes",
                                id, nb, lev, n);
                    else if (nb == id)
                        Problem(rsinfo, "node %u links to itself on level %d", id, lev);
                    else if (!valid[nb])
                        Problem(rsinfo, "node %u links to unwritten node %u on level %d", id, nb,
                                lev);
                    else if (levels[nb] < lev)
                        Problem(rsinfo,
                                "node %u links to node %u on level %d, which only has level %d", id,
                                nb, lev, levels[nb]);
                }
            }
            UnlockReleaseBuffer(buf);
        }
        if (n > 0) {
            if (meta.entry_node >= n || !valid[meta.entry_node])
                Problem(rsinfo, "entry point %u is not a written node", meta.entry_node);
            else if (levels[meta.entry_node] != meta.entry_level)
                Problem(rsinfo, "entry point %u has level %d, the meta page says %d",
                        meta.entry_node, levels[meta.entry_node], meta.entry_level);
        } else if (meta.entry_node != gigavector::kNoNode) {
            Problem(rsinfo, "empty index has entry point %u", meta.entry_node);
        }
    }
    index_close(index, AccessShareLock);
    return (Datum)0;
}
