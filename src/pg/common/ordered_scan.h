// The ordered scan every GigaVector access method runs:
//   SELECT ... ORDER BY v <op> $1 [LIMIT k]   (with or without a WHERE)
//
// The access method supplies a candidate source (GvScanSource): a first
// approximate search, widening, the exact distances of candidates, a last
// check of a row before it is returned, an exhaustive pass, and rows that sit
// outside the search (under cosine, zero vectors). This layer turns that
// into heap TIDs for the executor, in exact distance order:
//
//   1. the source's candidates come in batches; each batch is re-ranked with
//      exact distances and returned in order; after the first, a batch's
//      farthest quarter is held back and merged with the next batch (a
//      candidate the search hands out later, by approximate distance, can be
//      closer);
//   2. when the executor asks for more (a filter removed rows, or LIMIT is
//      above what one batch held), the search widens (ef doubled) from where
//      it stopped, and the next batch follows;
//   3. a candidate of a later batch whose exact distance is below a row
//      already returned (one the narrower search missed) is returned with
//      its batch (gigavector.scan_order = relaxed, the default: a filtered
//      query gets the nearest rows it can find, as with pgvector's
//      relaxed_order) or left out (strict);
//   4. when widening stops paying (more than kVisitedPerRow nodes visited per
//      row returned, past a floor) or the search has nothing left to find,
//      the scan switches to one exact pass over every entry not yet
//      returned, so a query always gets every row that exists: a filter
//      that keeps 1 row in 10000 still fills its LIMIT, and an unfiltered
//      scan never stops short;
//   5. then the rows outside the search.
// Rows come back in exact order within a batch and within the exact pass;
// relaxed, only rows the search met late come back after farther ones, and
// every row comes back. Strict leaves out every row closer than the last
// one returned, in the search and in the exact pass, so rows come back in
// exact order and a row the search met late is lost, as with pgvector's
// strict_order.
// The executor never rechecks the order (xs_recheckorderby is false).
//
// gigavector.max_scan_tuples, when set above 0, ends a scan after that many
// rows with a NOTICE (by default there is no cap).
#pragma once

#include "common/pg_vec.h"
#include "gigavector/ann/candidate.h"

extern "C" {
#include "access/relscan.h"
#include "portability/instr_time.h"
}

// What a search did, for EXPLAIN and the statistics: each access method
// fills the counts that apply to it and leaves the others at -1.
struct GvScanWork {
    int64 nodes_visited;  // graph nodes whose distance was computed
    int64 lists_probed;   // inverted lists scanned
    int64 codes_scanned;  // quantized codes compared
};

// What an access method provides to an ordered scan. `am` is its scan state.
struct GvScanSource {
    void *am;
    // Starts the search for the scan's (prepared) query; false when the
    // index has nothing to search (the scan then goes to the exact pass:
    // an untrained index's entries are found there).
    bool (*start)(void *am);
    // Appends to `out` the best candidates discovered and not yet handed
    // out (approximate distances), marking them handed out.
    void (*next_batch)(void *am, PgVec<gigavector::Candidate> *out);
    // Widens the search to `ef`; false when there is nothing left to find.
    bool (*widen)(void *am, int ef);
    // Exact index distances of n candidates.
    void (*exact)(void *am, const gigavector::NodeId *ids, int n, float *out);
    // Before a row is returned: its heap TID and exact distance, read so
    // they belong together and verified (ERROR on damage). False: the entry
    // is gone (deleted, slot reused): skip it.
    bool (*verify)(void *am, gigavector::NodeId id, ItemPointer tid, float *distance);
    // Appends every live entry not yet handed out with its exact distance
    // (the exact pass), marking them handed out.
    void (*exhaustive)(void *am, PgVec<gigavector::Candidate> *out);
    // The next row outside the search (zero vectors), or false.
    bool (*next_tail)(void *am, ItemPointer tid);
    // Nodes (or entries) the search has visited so far.
    int64 (*visited)(void *am);
    // What the search did so far.
    void (*work)(void *am, GvScanWork *out);
};

struct GvOrderedScan {
    GvScanSource source;
    MemoryContext cxt;
    int ef;          // the search's first ef (ef_search, probes: the source interprets it)
    int ef_current;  // after widening
    PgVec<gigavector::Candidate> batch;  // exact distances, ascending, from batch_pos on
    int batch_pos;
    int batch_end;                  // the search phase returns rows before it, holds back the rest
    PgVec<gigavector::NodeId> ids;  // scratch
    PgVec<float> distances;         // scratch
    int phase;                      // kPhaseSearch, kPhaseExact, kPhaseTail, kPhaseDone
    double last_returned;
    int64 returned;
    // for the statistics and EXPLAIN
    Relation index;
    instr_time elapsed;  // inside amgettuple since the rescan: the scan's latency
    int64 reranked;      // candidates given exact distances
    int64 pages;         // buffers the access method read inside amgettuple
};
GV_ASSERT_LONGJMP_SAFE(GvOrderedScan);

// Visited nodes per returned row above which widening gives way to the exact
// pass, and the floor below which it never does.
constexpr int64 kVisitedPerRow = 200;
constexpr int64 kVisitedFloor = 20000;

// gigavector.max_scan_tuples (0: no cap).
extern int gv_max_scan_tuples;
// gigavector.scan_order.
constexpr int kGvScanOrderRelaxed = 0;
constexpr int kGvScanOrderStrict = 1;
extern int gv_scan_order;
void gv_define_scan_gucs(void);

void gv_ordered_scan_init(GvOrderedScan *scan, const GvScanSource &source, MemoryContext cxt,
                          Relation index);
// For each rescan: counts the scan before it (if it ran), then forgets
// everything; ef is the first search's ef.
void gv_ordered_scan_reset(GvOrderedScan *scan, int ef);
// At amendscan: counts the last scan (if it ran).
void gv_ordered_scan_end(GvOrderedScan *scan);
// The exact distance of the row amgettuple returned last in this backend
// (NaN for a row outside the search): gv_index_search reads it right after
// each call.
extern double gv_last_returned_distance;

// What this backend's ordered scans did since gv_scan_totals_reset (the
// EXPLAIN hook prints it).
struct GvScanTotals {
    int64 scans;
    int64 rows;
    int64 reranked;
    int64 pages;
    GvScanWork work;  // sums; -1 where no scan had the count
};
extern GvScanTotals gv_scan_totals;
void gv_scan_totals_reset(void);
// The executor's amgettuple: the next heap TID in order, or false.
bool gv_ordered_scan_next(GvOrderedScan *scan, IndexScanDesc desc);
// An access method's amgettuple over its ordered scan: refuses backward
// scans and scans without ORDER BY (naming the access method), counts the
// scan in the statistics, and runs gv_ordered_scan_next in scan->cxt.
bool gv_ordered_scan_gettuple(GvOrderedScan *scan, IndexScanDesc desc, ScanDirection dir);
