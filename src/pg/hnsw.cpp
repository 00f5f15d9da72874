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
PG_FUNCTION_INFO_V1(gv_hnsw_stats);
#include "access/htup_details.h"
#include "funcapi.h"
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
    static relopt_enum_elt_def storage_values[] = {
        {"sq8", kHnswStorageSq8}, {"f32", kHnswStorageFloat}, {NULL, 0}};
    add_enum_reloption(hnsw_relopt_kind, "storage",
                       "Vector data in the graph's slots: sq8 (8-bit codes, exact re-rank from "
                       "vector pages) or f32 (float vectors in the slots, up to ~1900 dimensions)",
                       storage_values, kHnswStorageSq8, "Valid values are \"sq8\" and \"f32\".",
                       AccessExclusiveLock);
}

static bytea *HnswOptionsParse(Datum reloptions, bool validate) {
    static const relopt_parse_elt table[] = {
        {"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
        {"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
        {"ef_search", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_search)},
        {"storage", RELOPT_TYPE_ENUM, offsetof(HnswOptions, storage)},
    };
    HnswOptions *opts = (HnswOptions *)build_reloptions(reloptions, validate, hnsw_relopt_kind,
                                                        sizeof(HnswOptions), table, 4);
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

// Opens a relation with AccessShareLock, ERRORs unless it is a gv_hnsw index.
static Relation OpenHnswIndex(Oid indexoid) {
    Relation index = relation_open(indexoid, AccessShareLock);
    if (index->rd_rel->relkind != RELKIND_INDEX ||
        index->rd_rel->relam != get_am_oid("gv_hnsw", false)) {
        const char *name = pstrdup(RelationGetRelationName(index));
        relation_close(index, AccessShareLock);
        ereport(ERROR,
                (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a gv_hnsw index", name),
                 errhint("Pass a gv_hnsw index, e.g. 'items_embedding_idx'::regclass.")));
    }
    return index;
}

// gigavector.hnsw_stats(index): the meta page's counters and the layout, one
// row, without reading more than the meta page.
extern "C" Datum gv_hnsw_stats(PG_FUNCTION_ARGS) {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "hnsw_stats must return a composite type");
    Relation index = OpenHnswIndex(PG_GETARG_OID(0));
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    BlockNumber pages = RelationGetNumberOfBlocks(index);
    relation_close(index, AccessShareLock);
    const char *storage = meta.storage == kStorageInline  ? "f32"
                          : meta.storage == kStorageCodes ? "sq8"
                                                          : "vector pages";
    Datum values[13];
    bool nulls[13] = {false};
    values[0] = Int32GetDatum(meta.dim);
    values[1] = CStringGetTextDatum(storage);
    values[2] = Int32GetDatum(meta.m);
    values[3] = Int32GetDatum(meta.ef_construction);
    values[4] = Int64GetDatum((int64)meta.node_count);
    values[5] = Int64GetDatum((int64)meta.free_count);
    values[6] = Int64GetDatum((int64)meta.zero_count);
    values[7] = Int32GetDatum(meta.entry_level);
    values[8] = Int64GetDatum((int64)meta.inserted);
    values[9] = Int64GetDatum((int64)meta.deleted);
    values[10] = Int64GetDatum((int64)meta.reused);
    values[11] = Int64GetDatum((int64)meta.repaired);
    values[12] = Int64GetDatum((int64)pages);
    desc = BlessTupleDesc(desc);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

// gigavector.hnsw_check(index): one row per structural problem; none when
// the index is sound. Checks the meta page, every node slot (flags, level,
// list sizes, neighbour ids in range, no self links, neighbours that have
// the level), upper-list placement and the entry point.
extern "C" Datum gv_hnsw_check(PG_FUNCTION_ARGS) {
    Oid indexoid = PG_GETARG_OID(0);
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    Relation index = OpenHnswIndex(indexoid);
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    HnswLayout layout_copy = hnsw_get_layout(index);
    const HnswLayout *l = &layout_copy;
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    uint32 n = meta.node_count;
    BlockNumber needed = n == 0 ? 1 : l->GroupStart(n - 1) + l->group_pages;
    if (nblocks < needed)
        Problem(rsinfo, "index has %u blocks, %u nodes need %u", nblocks, n, needed);
    else {
        uint8 *levels = (uint8 *)palloc0(n + 1);
        uint8 *flags = (uint8 *)palloc0(n + 1);
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
            flags[id] = h->flags;
            levels[id] = h->level;
            bool known = h->flags == 0 || h->flags == kNodeValid ||
                         h->flags == (kNodeValid | kNodeDeleted) || h->flags == kNodeFree ||
                         h->flags == kNodeZero || h->flags == (kNodeZero | kNodeDeleted);
            if (!known) Problem(rsinfo, "node %u has flags 0x%02x", id, h->flags);
            if (h->flags & kNodeValid) {
                if (h->level > gigavector::kHnswMaxLevel)
                    Problem(rsinfo, "node %u has level %d", id, h->level);
                if (h->count0 > l->MaxNeighbors(0))
                    Problem(rsinfo, "node %u has %d level-0 neighbours, at most %d", id, h->count0,
                            l->MaxNeighbors(0));
                if (h->level > 0) {
                    size_t end = h->upper_offset + (size_t)h->level * l->UpperListBytes();
                    if (h->upper_offset < HnswNodeOffset(*l, l->nodes_per_page) ||
                        end > BLCKSZ - MAXALIGN(sizeof(HnswPageOpaque)))
                        Problem(rsinfo, "node %u has its upper lists outside the reserved area",
                                id);
                }
            }
            if ((h->flags & (kNodeValid | kNodeZero)) && !ItemPointerIsValid(&h->heap_tid))
                Problem(rsinfo, "node %u has an invalid heap TID", id);
            UnlockReleaseBuffer(buf);
        }
        // pass 2: lists. A link to a free slot is not a problem: an insert
        // racing with VACUUM can leave one, and scans skip free slots.
        NodeId *list = (NodeId *)palloc(sizeof(NodeId) * 2 * kHnswMaxM);
        for (uint32 id = 0; id < n; id++) {
            if (!(flags[id] & kNodeValid)) continue;
            Buffer buf = ReadBuffer(index, l->NodeBlock(id));
            LockBuffer(buf, BUFFER_LOCK_SHARE);
            Page page = BufferGetPage(buf);
            HnswNodeHeader *h = HnswNodeAt(page, *l, l->Slot(id));
            for (int lev = 0; lev <= h->level && lev <= gigavector::kHnswMaxLevel; lev++) {
                int count = lev == 0 ? h->count0 : (int)HnswUpperList(page, h, *l, lev)[0];
                if (count > l->MaxNeighbors(lev)) {
                    if (lev > 0)
                        Problem(rsinfo, "node %u has %d neighbours on level %d, at most %d", id,
                                count, lev, l->MaxNeighbors(lev));
                    count = l->MaxNeighbors(lev);
                }
                memcpy(list, HnswListIds(page, h, *l, lev), sizeof(NodeId) * count);
                for (int i = 0; i < count; i++) {
                    NodeId nb = list[i];
                    if (nb >= n)
                        Problem(rsinfo, "node %u links to node %u on level %d, beyond the %u nodes",
                                id, nb, lev, n);
                    else if (nb == id)
                        Problem(rsinfo, "node %u links to itself on level %d", id, lev);
                    else if (flags[nb] == 0)
                        Problem(rsinfo, "node %u links to unwritten node %u on level %d", id, nb,
                                lev);
                    else if (flags[nb] & kNodeZero)
                        Problem(rsinfo, "node %u links to zero-vector node %u on level %d", id, nb,
                                lev);
                    else if ((flags[nb] & kNodeValid) && levels[nb] < lev)
                        Problem(rsinfo,
                                "node %u links to node %u on level %d, which only has level %d", id,
                                nb, lev, levels[nb]);
                }
            }
            UnlockReleaseBuffer(buf);
        }
        // the free list and the zero chain: right kinds of slot, right lengths, no loops
        struct Chain {
            const char *name;
            uint32 head, expected;
            uint8 kind_mask, kind;
        } chains[2] = {
            {"free list", meta.free_head, meta.free_count, 0xff, kNodeFree},
            {"zero-vector chain", meta.zero_head, meta.zero_count, kNodeZero, kNodeZero}};
        for (const Chain &c : chains) {
            uint32 length = 0;
            for (uint32 id = c.head; id != gigavector::kNoNode; length++) {
                if (id >= n || (flags[id] & c.kind_mask) != c.kind || length > n) {
                    Problem(rsinfo, "%s reaches node %u, which is not on it (flags 0x%02x)", c.name,
                            id, id < n ? flags[id] : 0);
                    break;
                }
                Buffer buf = ReadBuffer(index, l->NodeBlock(id));
                LockBuffer(buf, BUFFER_LOCK_SHARE);
                id = HnswChainNext(HnswNodeAt(BufferGetPage(buf), *l, l->Slot(id)));
                UnlockReleaseBuffer(buf);
            }
            if (length != c.expected)
                Problem(rsinfo, "%s has %u nodes, the meta page says %u", c.name, length,
                        c.expected);
        }
        bool any_graph_node = false;
        for (uint32 id = 0; id < n && !any_graph_node; id++)
            any_graph_node = (flags[id] & kNodeValid) != 0;
        if (meta.entry_node == gigavector::kNoNode) {
            if (any_graph_node && meta.entry_level != -1)
                Problem(rsinfo, "no entry point, but entry level %d", meta.entry_level);
        } else if (meta.entry_node >= n || !(flags[meta.entry_node] & kNodeValid)) {
            Problem(rsinfo, "entry point %u is not a graph node", meta.entry_node);
        } else if (levels[meta.entry_node] != meta.entry_level) {
            Problem(rsinfo, "entry point %u has level %d, the meta page says %d", meta.entry_node,
                    levels[meta.entry_node], meta.entry_level);
        }
        if (any_graph_node && meta.entry_node == gigavector::kNoNode) {
            // every graph node deleted and the entry cleared by VACUUM is fine;
            // a live node without an entry point is not
            for (uint32 id = 0; id < n; id++)
                if (flags[id] == kNodeValid) {
                    Problem(rsinfo, "live node %u but no entry point", id);
                    break;
                }
        }
    }
    relation_close(index, AccessShareLock);
    return (Datum)0;
}
