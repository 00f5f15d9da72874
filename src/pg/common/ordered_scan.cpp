// The ordered scan of every access method (ordered_scan.h).
#include "common/ordered_scan.h"

#include "common/index_counters.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include "commands/defrem.h"
#include "executor/instrument.h"
#include "pgstat.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

using gigavector::Candidate;
using gigavector::NodeId;

namespace {

constexpr int kPhaseSearch = 0;
constexpr int kPhaseExact = 1;
constexpr int kPhaseTail = 2;
constexpr int kPhaseDone = 3;

// Gives the candidates in s->batch from `from` on exact distances, and
// sorts the whole batch, ascending.
void Rerank(GvOrderedScan *s, int from) {
    int n = (int)s->batch.size() - from;
    s->ids.resize(n);
    s->distances.resize(n);
    for (int i = 0; i < n; i++) s->ids[i] = s->batch[from + i].id;
    if (n > 0) s->source.exact(s->source.am, s->ids.begin(), n, s->distances.begin());
    s->reranked += n;
    for (int i = 0; i < n; i++) s->batch[from + i].distance = s->distances[i];
    std::sort(s->batch.begin(), s->batch.end(), gigavector::Closer);
}

// Moves the rows of the batch not returned yet to its front.
void KeepUnreturned(GvOrderedScan *s) {
    int kept = 0;
    for (int i = s->batch_pos; i < (int)s->batch.size(); i++) s->batch[kept++] = s->batch[i];
    s->batch.resize(kept);
    s->batch_pos = 0;
}

// The next batch of the search phase; false when the phase is over. The
// rows of the last batch not returned yet (the farthest quarter of a batch
// after the first) stay and are merged with the new candidates: the search
// hands candidates out by approximate distance, so a new one can be closer
// than the last rows of the batch before, and holding those back keeps it
// in order.
bool NextSearchBatch(GvOrderedScan *s, bool first) {
    const bool first_batch = first;
    KeepUnreturned(s);
    int kept = (int)s->batch.size();
    for (;;) {
        if (!first) {
            int64 visited = s->source.visited(s->source.am);
            if (visited > kVisitedFloor && visited > kVisitedPerRow * (s->returned + 1))
                return false;  // widening no longer pays: the exact pass is cheaper
            int ef = s->ef_current * 2;
            if (!s->source.widen(s->source.am, ef)) return false;
            s->ef_current = ef;
        }
        first = false;
        s->source.next_batch(s->source.am, &s->batch);
        if ((int)s->batch.size() > kept) break;
    }
    Rerank(s, kept);
    // the first batch is returned whole: a LIMIT it covers (the usual kNN
    // query) then needs no widening, and its rows come in exact order
    int n = (int)s->batch.size();
    s->batch_end = first_batch ? n : n - n / 4;
    return true;
}

}  // namespace

int gv_max_scan_tuples = 0;
int gv_scan_order = kGvScanOrderRelaxed;

static const struct config_enum_entry kScanOrders[] = {{"relaxed", kGvScanOrderRelaxed, false},
                                                       {"strict", kGvScanOrderStrict, false},
                                                       {NULL, 0, false}};

void gv_define_scan_gucs(void) {
    DefineCustomEnumVariable(
        "gigavector.scan_order",
        "Whether an index scan returns a row its search met after farther rows (relaxed) or "
        "leaves it out (strict).",
        "relaxed: every row comes back, and a row the approximate search met late (after a "
        "widening) comes back as soon as it is met, after farther rows. strict: rows come back "
        "in exact distance order, and such a row is left out.",
        &gv_scan_order, kGvScanOrderRelaxed, kScanOrders, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable(
        "gigavector.max_scan_tuples", "At most this many rows from one index scan (0: no limit).",
        "By default a scan returns every row the query asks for: a filtered query keeps going "
        "until LIMIT is met or the index is exhausted. A scan this setting ends raises a NOTICE.",
        &gv_max_scan_tuples, 0, 0, INT_MAX, PGC_USERSET, 0, NULL, NULL, NULL);
}

double gv_last_returned_distance = NAN;
GvScanTotals gv_scan_totals;

void gv_scan_totals_reset(void) {
    memset(&gv_scan_totals, 0, sizeof(gv_scan_totals));
    gv_scan_totals.work = {-1, -1, -1};
}

static void AddWork(int64 *total, int64 n) {
    if (n < 0) return;
    *total = *total < 0 ? n : *total + n;
}

// Counts a scan that ran (amgettuple was called since the rescan) in the
// shared counters and this backend's totals.
static void FinishScan(GvOrderedScan *s) {
    if (s->phase == -1) return;
    gv_counters_count_scan(s->index, INSTR_TIME_GET_MILLISEC(s->elapsed), s->returned);
    GvScanWork w = {-1, -1, -1};
    if (s->source.work != NULL) s->source.work(s->source.am, &w);
    GvScanTotals &t = gv_scan_totals;
    t.scans++;
    t.rows += s->returned;
    t.reranked += s->reranked;
    t.pages += s->pages;
    AddWork(&t.work.nodes_visited, w.nodes_visited);
    AddWork(&t.work.lists_probed, w.lists_probed);
    AddWork(&t.work.codes_scanned, w.codes_scanned);
    s->phase = -1;
}

void gv_ordered_scan_init(GvOrderedScan *s, const GvScanSource &source, MemoryContext cxt,
                          Relation index) {
    s->source = source;
    s->cxt = cxt;
    s->index = index;
    s->batch.Init(cxt, 256);
    s->ids.Init(cxt, 256);
    s->distances.Init(cxt, 256);
    s->phase = -1;
    gv_ordered_scan_reset(s, 0);
}

void gv_ordered_scan_end(GvOrderedScan *s) {
    FinishScan(s);
}

void gv_ordered_scan_reset(GvOrderedScan *s, int ef) {
    FinishScan(s);
    INSTR_TIME_SET_ZERO(s->elapsed);
    s->reranked = s->pages = 0;
    s->ef = s->ef_current = ef;
    s->batch.clear();
    s->batch_pos = s->batch_end = 0;
    s->phase = -1;  // not started
    s->last_returned = -INFINITY;
    s->returned = 0;
}

static bool ReturnTid(GvOrderedScan *s, IndexScanDesc desc, ItemPointer tid, double distance) {
    s->returned++;
    gv_last_returned_distance = distance;
    desc->xs_heaptid = *tid;
    desc->xs_recheck = false;
    desc->xs_recheckorderby = false;
    return true;
}

bool gv_ordered_scan_next(GvOrderedScan *s, IndexScanDesc desc) {
    if (gv_max_scan_tuples > 0 && s->returned >= gv_max_scan_tuples && s->phase != kPhaseDone) {
        ereport(NOTICE, (errmsg("index scan stopped after %lld rows (gigavector.max_scan_tuples)",
                                (long long)s->returned),
                         errhint("Raise gigavector.max_scan_tuples, or set it to 0, for every "
                                 "row the query asks for.")));
        s->phase = kPhaseDone;
    }
    if (s->phase == -1) {
        s->phase =
            s->source.start(s->source.am) && NextSearchBatch(s, true) ? kPhaseSearch : kPhaseExact;
        if (s->phase == kPhaseExact) {  // nothing to search: the exact pass at once
            s->batch.clear();
            s->batch_pos = 0;
            s->source.exhaustive(s->source.am, &s->batch);
            std::sort(s->batch.begin(), s->batch.end(), gigavector::Closer);
        }
    }
    for (;;) {
        if (s->phase == kPhaseSearch || s->phase == kPhaseExact) {
            int end = s->phase == kPhaseSearch ? s->batch_end : (int)s->batch.size();
            while (s->batch_pos < end) {
                Candidate c = s->batch[s->batch_pos++];
                // closer than a row already returned (the search met it
                // late): strict leaves it out, relaxed returns it now
                if ((double)c.distance < s->last_returned && gv_scan_order == kGvScanOrderStrict)
                    continue;
                ItemPointerData tid;
                float now;
                if (!s->source.verify(s->source.am, c.id, &tid, &now)) continue;
                if (now != c.distance) continue;  // the slot holds another entry by now
                if ((double)c.distance > s->last_returned) s->last_returned = c.distance;
                return ReturnTid(s, desc, &tid, c.distance);
            }
            if (s->phase == kPhaseSearch) {
                if (NextSearchBatch(s, false)) continue;
                // the exact pass: every entry not handed out, and the rows
                // of the last batch held back
                s->phase = kPhaseExact;
                KeepUnreturned(s);
                size_t kept = s->batch.size();
                s->source.exhaustive(s->source.am, &s->batch);
                s->reranked += (int64)(s->batch.size() - kept);
                std::sort(s->batch.begin(), s->batch.end(), gigavector::Closer);
                continue;
            }
            s->phase = kPhaseTail;
        }
        if (s->phase == kPhaseTail) {
            ItemPointerData tid;
            if (s->source.next_tail(s->source.am, &tid)) return ReturnTid(s, desc, &tid, NAN);
            s->phase = kPhaseDone;
        }
        return false;
    }
}

bool gv_ordered_scan_gettuple(GvOrderedScan *s, IndexScanDesc desc, ScanDirection dir) {
    if (!ScanDirectionIsForward(dir) || desc->numberOfOrderBys == 0) {
        const char *am = get_am_name(desc->indexRelation->rd_rel->relam);
        if (am == NULL) am = "gigavector";
        if (!ScanDirectionIsForward(dir))
            ereport(ERROR,
                    (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("%s scans only go forward", am),
                     errhint("Do not use a scrollable cursor over a %s index scan.", am)));
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s index scans need ORDER BY a distance operator", am),
                        errhint("Query with ORDER BY v <-> $1 LIMIT k.")));
    }
    if (s->phase == -1) {
        pgstat_count_index_scan(desc->indexRelation);
        if (!(desc->orderByData[0].sk_flags & SK_ISNULL))
            gv_counters_offer_query(desc->indexRelation, desc->orderByData[0].sk_argument);
    }
    int64 before = pgBufferUsage.shared_blks_hit + pgBufferUsage.shared_blks_read +
                   pgBufferUsage.local_blks_hit + pgBufferUsage.local_blks_read;
    instr_time start, end;
    INSTR_TIME_SET_CURRENT(start);
    MemoryContext old = MemoryContextSwitchTo(s->cxt);
    bool found = gv_ordered_scan_next(s, desc);
    MemoryContextSwitchTo(old);
    INSTR_TIME_SET_CURRENT(end);
    INSTR_TIME_ACCUM_DIFF(s->elapsed, end, start);
    s->pages += pgBufferUsage.shared_blks_hit + pgBufferUsage.shared_blks_read +
                pgBufferUsage.local_blks_hit + pgBufferUsage.local_blks_read - before;
    return found;
}
