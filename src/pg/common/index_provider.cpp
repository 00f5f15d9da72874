// The access-method-independent inspection functions over the providers
// (index_provider.h): gigavector.index_facts, gigavector.index_info,
// gigavector.index_check and gigavector.index_search.
//
// index_check adds, to the access method's structural check, what only the
// table can tell (in the spirit of amcheck's heapallindexed):
//   - every live entry points to a heap line pointer that exists and is in
//     use (a row, a HOT redirect, or a dead row VACUUM has yet to remove);
//   - no heap row has two entries;
//   - with heapallindexed: every row visible to the check's snapshot is in
//     the index (an entry with its root TID), and a search for its own
//     vector returns it (among its first 10 rows, or among the rows at
//     distance 0 when it has duplicates).
// The table is held with ShareLock for the whole check (as CREATE INDEX
// holds it): no insert, delete or VACUUM changes the index or the heap
// meanwhile, so what it reports is a fault, not a race.
#include "common/index_provider.h"

#include "common/index_counters.h"
#include "common/ordered_scan.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_opclass.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "executor/tuptable.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(gv_index_facts);
PG_FUNCTION_INFO_V1(gv_index_info);
PG_FUNCTION_INFO_V1(gv_index_check);
PG_FUNCTION_INFO_V1(gv_index_search_sql);
PG_FUNCTION_INFO_V1(gv_tune_candidates);
PG_FUNCTION_INFO_V1(gv_exact_distances);
}

namespace {

constexpr int kMaxProviders = 4;
const GvAmProvider *providers[kMaxProviders];
int provider_count = 0;

// A search for a row's own vector must return it among this many rows
// (more when the rows before it are all at distance 0: duplicates).
constexpr int kSelfSearchRows = 10;
constexpr int kSelfSearchCap = 1000;

bool TidLess(const ItemPointerData &a, const ItemPointerData &b) {
    return ItemPointerCompare((ItemPointer)&a, (ItemPointer)&b) < 0;
}

// Occurrences of tid in the sorted entries.
int CountEntries(const PgVec<ItemPointerData> &sorted, ItemPointer tid) {
    const ItemPointerData *lo = std::lower_bound(sorted.begin(), sorted.end(), *tid, TidLess);
    int n = 0;
    while (lo + n < sorted.end() && ItemPointerEquals((ItemPointer)(lo + n), tid)) n++;
    return n;
}

// Every entry's TID against the heap's line pointers, and duplicates.
void CheckHeapPointers(Relation heap, PgVec<ItemPointerData> &sorted, GvProblems *p) {
    BlockNumber nblocks = RelationGetNumberOfBlocks(heap);
    BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
    size_t i = 0;
    while (i < sorted.size()) {
        BlockNumber block = ItemPointerGetBlockNumberNoCheck(&sorted[i]);
        size_t end = i;
        while (end < sorted.size() && ItemPointerGetBlockNumberNoCheck(&sorted[end]) == block)
            end++;
        CHECK_FOR_INTERRUPTS();
        if (block >= nblocks) {
            gv_problem(p,
                       "%d entries point to heap block %u, past the end of table \"%s\" (%u "
                       "blocks); REINDEX",
                       (int)(end - i), block, RelationGetRelationName(heap), nblocks);
            i = end;
            continue;
        }
        Buffer buf = ReadBufferExtended(heap, MAIN_FORKNUM, block, RBM_NORMAL, strategy);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        OffsetNumber maxoff = PageIsNew(page) ? 0 : PageGetMaxOffsetNumber(page);
        for (; i < end; i++) {
            OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&sorted[i]);
            if (i + 1 < end && ItemPointerEquals(&sorted[i], &sorted[i + 1])) {
                size_t same = i + 1;
                while (same < end && ItemPointerEquals(&sorted[i], &sorted[same])) same++;
                gv_problem(p, "heap row (%u,%u) has %d index entries; REINDEX", block, off,
                           (int)(same - i));
                i = same - 1;
            }
            if (off < FirstOffsetNumber || off > maxoff)
                gv_problem(p,
                           "an entry points to heap row (%u,%u), past the page's last line "
                           "pointer (%u); REINDEX",
                           block, off, maxoff);
            else if (!ItemIdIsUsed(PageGetItemId(page, off)))
                gv_problem(p,
                           "an entry points to heap row (%u,%u), an unused line pointer: the row "
                           "was removed and the index kept its entry; REINDEX",
                           block, off);
        }
        UnlockReleaseBuffer(buf);
    }
    FreeAccessStrategy(strategy);
}

struct HeapAllIndexed {
    Relation heap;
    Relation index;
    Snapshot snapshot;
    const PgVec<ItemPointerData> *sorted;
    GvProblems *problems;
    int64 rows;
    // the self-search of the current row
    ItemPointerData want;
    int seen;
    bool found;
    bool untestable;  // no distance order to speak of (zero vectors under cosine)
};

bool SelfSearchStep(ItemPointer tid, double distance, TupleTableSlot *, void *arg) {
    HeapAllIndexed *h = (HeapAllIndexed *)arg;
    if (h->seen == 0 && std::isnan(distance)) {
        h->untestable = true;
        return false;
    }
    h->seen++;
    if (ItemPointerEquals(tid, &h->want)) {
        h->found = true;
        return false;
    }
    // past the first rows, keep going only through a run of duplicates
    return h->seen < kSelfSearchRows || (distance == 0.0 && h->seen < kSelfSearchCap);
}

void HeapRowCallback(Relation, ItemPointer tid, Datum *values, bool *isnull, bool, void *arg) {
    HeapAllIndexed *h = (HeapAllIndexed *)arg;
    if (isnull[0]) return;  // NULLs are not indexed
    h->rows++;
    if ((h->rows & 255) == 0) CHECK_FOR_INTERRUPTS();
    BlockNumber block = ItemPointerGetBlockNumber(tid);
    OffsetNumber off = ItemPointerGetOffsetNumber(tid);
    if (CountEntries(*h->sorted, tid) == 0) {
        gv_problem(h->problems,
                   "heap row (%u,%u) is live but has no index entry: no scan of the index can "
                   "return it; REINDEX",
                   block, off);
        return;
    }
    h->want = *tid;
    h->seen = 0;
    h->found = h->untestable = false;
    gv_index_search(h->heap, h->index, h->snapshot, values[0], SelfSearchStep, h);
    if (!h->found && !h->untestable)
        gv_problem(h->problems,
                   "heap row (%u,%u) is indexed, but a search for its own vector does not return "
                   "it among the first %d rows: the index cannot find it; REINDEX",
                   block, off, h->seen);
}

// Facts read inside a subtransaction: a damaged index becomes an unhealthy
// row of the views instead of an ERROR that would hide every other index.
struct FactsCall {
    const GvAmProvider *provider;
    Relation index;
    GvIndexFacts *facts;
};

void CallFacts(void *arg) {
    FactsCall *c = (FactsCall *)arg;
    c->provider->facts(c->index, c->facts);
}

bool SafeFacts(const GvAmProvider *provider, Relation index, GvIndexFacts *f, char *error,
               size_t error_len) {
    FactsCall call = {provider, index, f};
    return gv_try(CallFacts, &call, error, error_len);
}

}  // namespace

void gv_register_am_provider(const GvAmProvider *provider) {
    if (provider_count < kMaxProviders) providers[provider_count++] = provider;
}

const GvAmProvider *gv_am_provider(Oid amoid) {
    for (int i = 0; i < provider_count; i++)
        if (get_am_oid(providers[i]->am_name, true) == amoid) return providers[i];
    return NULL;
}

void gv_info(GvInfoRows *rows, const char *property, const char *fmt, ...) {
    char buf[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    Datum values[2] = {CStringGetTextDatum(property), CStringGetTextDatum(buf)};
    bool nulls[2] = {false, false};
    tuplestore_putvalues(rows->rsinfo->setResult, rows->rsinfo->setDesc, values, nulls);
}

void gv_tune_candidate(GvInfoRows *rows, int series, const char *gucs, const char *reloptions) {
    Datum values[3] = {Int32GetDatum(series), CStringGetTextDatum(gucs),
                       CStringGetTextDatum(reloptions)};
    bool nulls[3] = {false, false, false};
    tuplestore_putvalues(rows->rsinfo->setResult, rows->rsinfo->setDesc, values, nulls);
}

Relation gv_open_any_index_for_inspection(Oid indexoid, const GvAmProvider **provider) {
    Relation index = gv_open_index_for_inspection(indexoid, NULL);
    *provider = gv_am_provider(index->rd_rel->relam);
    return index;
}

void gv_index_search(Relation heap, Relation index, Snapshot snapshot, Datum query, GvSearchFn fn,
                     void *arg) {
    bool was_measuring = gv_counters_measuring;
    gv_counters_measuring = true;
    PG_TRY();
    {
        IndexScanDesc scan = index_beginscan(heap, index, snapshot, 0, 1);
        ScanKeyData key;
        ScanKeyEntryInitialize(&key, 0, 1, 1, InvalidOid, InvalidOid, InvalidOid, query);
        index_rescan(scan, NULL, 0, &key, 1);
        TupleTableSlot *slot = table_slot_create(heap, NULL);
        while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
            // xs_heaptid: the TID the index returned (a HOT chain's root)
            if (!fn(&scan->xs_heaptid, gv_last_returned_distance, slot, arg)) break;
        }
        ExecDropSingleTupleTableSlot(slot);
        index_endscan(scan);
    }
    PG_FINALLY();
    { gv_counters_measuring = was_measuring; }
    PG_END_TRY();
}

// gigavector.index_facts(index): one row for the views.
extern "C" Datum gv_index_facts(PG_FUNCTION_ARGS) {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "index_facts must return a composite type");
    const GvAmProvider *provider;
    Relation index = gv_open_any_index_for_inspection(PG_GETARG_OID(0), &provider);
    GvIndexFacts f;
    memset(&f, 0, sizeof(f));
    initStringInfo(&f.options);
    char error[256];
    Datum values[8];
    bool nulls[8] = {false};
    values[0] = CStringGetTextDatum(provider->am_name);
    if (!index->rd_index->indisvalid) {
        f.status = "unhealthy";
        f.reason =
            "the index is invalid: a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY "
            "failed or was cancelled";
        f.action = "REINDEX INDEX";
        nulls[1] = nulls[2] = nulls[3] = nulls[4] = true;
    } else if (!SafeFacts(provider, index, &f, error, sizeof(error))) {
        f.status = "unhealthy";
        f.reason = psprintf("the index cannot be read: %s", error);
        f.action = "REINDEX INDEX";
        nulls[1] = nulls[2] = nulls[3] = nulls[4] = true;
    }
    values[1] = Int32GetDatum(f.dimensions);
    values[2] = Int64GetDatum(f.live_entries);
    values[3] = Int64GetDatum(f.dead_entries);
    values[4] = CStringGetTextDatum(f.options.data);
    values[5] = f.status ? CStringGetTextDatum(f.status) : (Datum)0;
    values[6] = f.reason ? CStringGetTextDatum(f.reason) : (Datum)0;
    values[7] = f.action ? CStringGetTextDatum(f.action) : (Datum)0;
    nulls[5] = f.status == NULL;
    nulls[6] = f.reason == NULL;
    nulls[7] = f.action == NULL;
    relation_close(index, AccessShareLock);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

// gigavector.index_info(index): (property, value) rows.
extern "C" Datum gv_index_info(PG_FUNCTION_ARGS) {
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    const GvAmProvider *provider;
    Relation index = gv_open_any_index_for_inspection(PG_GETARG_OID(0), &provider);
    GvInfoRows rows = {(ReturnSetInfo *)fcinfo->resultinfo};
    gv_info(&rows, "access_method", "%s", provider->am_name);
    gv_info(&rows, "pages", "%u", RelationGetNumberOfBlocks(index));
    provider->info(index, &rows);
    relation_close(index, AccessShareLock);
    return (Datum)0;
}

// gigavector.index_check(index, heapallindexed): one row per problem.
extern "C" Datum gv_index_check(PG_FUNCTION_ARGS) {
    Oid indexoid = PG_GETARG_OID(0);
    bool heapallindexed = PG_GETARG_BOOL(1);
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    const GvAmProvider *provider;
    Relation index = gv_open_any_index_for_inspection(indexoid, &provider);
    Oid heapoid = index->rd_index->indrelid;
    // ShareLock holds writers off: only a role that could take it with LOCK
    // TABLE ... IN SHARE MODE may (SELECT alone would let it stall writers)
    if (pg_class_aclmask(heapoid, GetUserId(), ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE,
                         ACLMASK_ANY) == 0 &&
        !pg_class_ownercheck(heapoid, GetUserId()))
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                 errmsg("permission denied to check index \"%s\"", RelationGetRelationName(index)),
                 errhint("index_check holds ShareLock on table \"%s\", which needs UPDATE, "
                         "DELETE or TRUNCATE on it (as LOCK TABLE ... IN SHARE MODE does); "
                         "hnsw_check and ivfpq_check check the structure with SELECT "
                         "alone.",
                         get_rel_name(heapoid))));
    bool on_standby = RecoveryInProgress();
    // ShareLock keeps writers and VACUUM out (see the top of this file); a
    // standby cannot take it, and replay changes pages under the check
    Relation heap = table_open(heapoid, on_standby ? AccessShareLock : ShareLock);
    PgVec<ItemPointerData> entries;
    entries.Init(CurrentMemoryContext, 1024);
    GvProblems problems = {(ReturnSetInfo *)fcinfo->resultinfo, 0, &entries};
    provider->check(index, &problems);
    std::sort(entries.begin(), entries.end(), TidLess);
    if (on_standby) {
        ereport(NOTICE, (errmsg("index_check: heap pointers not checked on a standby"),
                         errhint("Run it on the primary for the checks against the table.")));
    } else if (problems.count == 0) {
        // the structural check passed: the entries it read are all of them
        CheckHeapPointers(heap, entries, &problems);
        if (heapallindexed) {
            HeapAllIndexed h;
            memset(&h, 0, sizeof(h));
            h.heap = heap;
            h.index = index;
            h.sorted = &entries;
            h.problems = &problems;
            h.snapshot = RegisterSnapshot(GetTransactionSnapshot());
            IndexInfo *ii = BuildIndexInfo(index);
            ii->ii_Concurrent = true;  // only the rows the snapshot sees
            TableScanDesc scan = table_beginscan_strat(heap, h.snapshot, 0, NULL, true, true);
            table_index_build_scan(heap, index, ii, true, false, HeapRowCallback, &h, scan);
            UnregisterSnapshot(h.snapshot);
        }
    } else if (heapallindexed) {
        ereport(NOTICE, (errmsg("index_check: the table was not checked against a damaged index"),
                         errhint("REINDEX, then check again.")));
    }
    table_close(heap, NoLock);
    relation_close(index, AccessShareLock);
    return (Datum)0;
}

// The function of the index's ordering operator (strategy 1 of its operator
// family): exact distances with the very values SQL's ORDER BY computes.
static Oid OrderingOperatorFunction(Relation index) {
    Oid opfamily = index->rd_opfamily[0];
    Oid type = index->rd_opcintype[0];
    Oid op = get_opfamily_member(opfamily, type, type, 1);
    if (!OidIsValid(op))
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_OBJECT),
                 errmsg("index \"%s\" has no ordering operator", RelationGetRelationName(index))));
    return get_opcode(op);
}

// The table column the index is on (measurements read the vector from the
// row); an expression index has none.
static AttrNumber IndexedColumn(Relation index) {
    AttrNumber attno = index->rd_index->indkey.values[0];
    if (attno == 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("index \"%s\" is on an expression", RelationGetRelationName(index)),
                        errhint("index_search, measure_recall and tune need an index on a plain "
                                "gvector column.")));
    return attno;
}

// gigavector.index_search(index, query, k): the first k rows an ordered
// scan of this very index returns, with the distance the index's operator
// gives (what ORDER BY v <-> q computes: the access method's own distance
// may be another measure, e.g. squared L2), whatever plan the planner would
// choose; measure_recall and tune time it.
struct SearchCollect {
    ReturnSetInfo *rsinfo;
    int64 left;
    FmgrInfo op;
    AttrNumber attno;
    Datum query;
};

static bool CollectRow(ItemPointer tid, double, TupleTableSlot *slot, void *arg) {
    SearchCollect *c = (SearchCollect *)arg;
    ItemPointer copy = (ItemPointer)palloc(sizeof(ItemPointerData));
    *copy = *tid;
    bool isnull;
    Datum v = slot_getattr(slot, c->attno, &isnull);
    double distance =
        isnull ? NAN : DatumGetFloat8(FunctionCall2Coll(&c->op, InvalidOid, v, c->query));
    Datum values[2] = {PointerGetDatum(copy), Float8GetDatum(distance)};
    bool nulls[2] = {false, std::isnan(distance)};
    tuplestore_putvalues(c->rsinfo->setResult, c->rsinfo->setDesc, values, nulls);
    return --c->left > 0;
}

extern "C" Datum gv_index_search_sql(PG_FUNCTION_ARGS) {
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    const GvAmProvider *provider;
    Relation index = gv_open_any_index_for_inspection(PG_GETARG_OID(0), &provider);
    int64 k = PG_GETARG_INT32(2);
    if (k < 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("k must be at least 1, not %lld", (long long)k),
                        errhint("Ask for the 10 nearest rows with k => 10.")));
    Oid heapoid = index->rd_index->indrelid;
    if (check_enable_rls(heapoid, InvalidOid, false) == RLS_ENABLED)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("table \"%s\" has row-level security", get_rel_name(heapoid)),
                        errhint("index_search bypasses row security; run it as the table's "
                                "owner or a role with BYPASSRLS.")));
    SearchCollect c;
    c.rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    c.left = k;
    c.attno = IndexedColumn(index);
    c.query = PG_GETARG_DATUM(1);
    fmgr_info(OrderingOperatorFunction(index), &c.op);
    Relation heap = table_open(heapoid, AccessShareLock);
    gv_index_search(heap, index, GetActiveSnapshot(), c.query, CollectRow, &c);
    table_close(heap, AccessShareLock);
    relation_close(index, AccessShareLock);
    return (Datum)0;
}

// gigavector.tune_candidates(index, k): (series, gucs, reloptions) rows.
extern "C" Datum gv_tune_candidates(PG_FUNCTION_ARGS) {
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    const GvAmProvider *provider;
    Relation index = gv_open_any_index_for_inspection(PG_GETARG_OID(0), &provider);
    GvInfoRows rows = {(ReturnSetInfo *)fcinfo->resultinfo};
    provider->tune_candidates(index, std::max(1, PG_GETARG_INT32(1)), &rows);
    relation_close(index, AccessShareLock);
    return (Datum)0;
}

Datum gv_check_one_method(FunctionCallInfo fcinfo, const char *am_name) {
    Oid indexoid = PG_GETARG_OID(0);
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    GvProblems problems = {(ReturnSetInfo *)fcinfo->resultinfo, 0, NULL};
    Relation index = gv_open_index_for_inspection(indexoid, am_name);
    const GvAmProvider *provider = gv_am_provider(index->rd_rel->relam);
    provider->check(index, &problems);
    relation_close(index, AccessShareLock);
    return (Datum)0;
}

// gigavector.exact_distances(index, queries gvector[], k, skip_self): the k
// smallest distances from each query to the rows of the index's table (NULL
// padded), as float8[queries][k], from one sequential pass over the table
// under the statement's snapshot, with a bounded max-heap per query. With
// skip_self, one row at distance 0 per query is left out (a query drawn
// from the table finds itself).
extern "C" Datum gv_exact_distances(PG_FUNCTION_ARGS) {
    const GvAmProvider *provider;
    Relation index = gv_open_any_index_for_inspection(PG_GETARG_OID(0), &provider);
    ArrayType *qarr = PG_GETARG_ARRAYTYPE_P(1);
    int k = PG_GETARG_INT32(2);
    bool skip_self = PG_GETARG_BOOL(3);
    if (k < 1 || k > 1000)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("k must be between 1 and 1000, not %d", k),
                        errhint("Recall@10 is the usual measure.")));
    AttrNumber attno = IndexedColumn(index);
    Oid heapoid = index->rd_index->indrelid;
    Datum *qd;
    bool *qnull;
    int nq;
    deconstruct_array(qarr, ARR_ELEMTYPE(qarr), -1, false, TYPALIGN_INT, &qd, &qnull, &nq);
    for (int i = 0; i < nq; i++) {
        if (qnull[i])
            ereport(ERROR,
                    (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                     errmsg("query vector %d is NULL", i + 1), errhint("Pass vectors only.")));
        qd[i] = PointerGetDatum(PG_DETOAST_DATUM(qd[i]));
    }
    FmgrInfo fn;
    fmgr_info(OrderingOperatorFunction(index), &fn);
    const int keep = k + (skip_self ? 1 : 0);
    // per query: a max-heap of the `keep` smallest distances
    double *heaps =
        (double *)palloc_extended(sizeof(double) * (size_t)nq * keep + 1, MCXT_ALLOC_HUGE);
    int *sizes = (int *)palloc0(sizeof(int) * (nq + 1));
    Relation heap = table_open(heapoid, AccessShareLock);
    TupleTableSlot *slot = table_slot_create(heap, NULL);
    TableScanDesc scan = table_beginscan(heap, GetActiveSnapshot(), 0, NULL);
    MemoryContext row_cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv exact distances", ALLOCSET_DEFAULT_SIZES);
    int64 rows = 0;
    while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
        if ((++rows & 1023) == 0) CHECK_FOR_INTERRUPTS();
        bool isnull;
        Datum v = slot_getattr(slot, attno, &isnull);
        if (isnull) continue;
        MemoryContext old = MemoryContextSwitchTo(row_cxt);
        Datum row = PointerGetDatum(PG_DETOAST_DATUM(v));
        for (int q = 0; q < nq; q++) {
            double d = DatumGetFloat8(FunctionCall2Coll(&fn, InvalidOid, row, qd[q]));
            if (std::isnan(d)) d = INFINITY;  // cosine's zero vectors sort last
            double *h = heaps + (size_t)q * keep;
            int &n = sizes[q];
            if (n < keep) {
                h[n++] = d;
                std::push_heap(h, h + n);
            } else if (d < h[0]) {
                std::pop_heap(h, h + n);
                h[n - 1] = d;
                std::push_heap(h, h + n);
            }
        }
        MemoryContextSwitchTo(old);
        MemoryContextReset(row_cxt);
    }
    table_endscan(scan);
    ExecDropSingleTupleTableSlot(slot);
    table_close(heap, AccessShareLock);
    relation_close(index, AccessShareLock);
    // float8[nq][k], ascending, NULL-padded
    Datum *out = (Datum *)palloc(sizeof(Datum) * ((size_t)nq * k + 1));
    bool *out_null = (bool *)palloc(sizeof(bool) * ((size_t)nq * k + 1));
    for (int q = 0; q < nq; q++) {
        double *h = heaps + (size_t)q * keep;
        int n = sizes[q];
        std::sort_heap(h, h + n);
        int from = 0;
        if (skip_self && n > 0 && h[0] == 0.0) from = 1;
        for (int j = 0; j < k; j++) {
            int at = from + j;
            bool present = at < n && std::isfinite(h[at]);
            out[(size_t)q * k + j] = Float8GetDatum(present ? h[at] : 0.0);
            out_null[(size_t)q * k + j] = !present;
        }
    }
    int dims[2] = {nq, k}, lbs[2] = {1, 1};
    if (nq == 0) PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));
    PG_RETURN_ARRAYTYPE_P(construct_md_array(out, out_null, 2, dims, lbs, FLOAT8OID, 8,
                                             FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
