// gv_ivfpq: access method handler, planner cost estimate, build phases and
// the refusal of options that only a rebuild could apply.
#include "common/am_routine.h"
#include "ivfpq/ivfpq_am.h"

extern "C" {
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"

PG_FUNCTION_INFO_V1(gv_ivfpq_handler);
}

// The cost of an ordered scan in the planner's units (see hnsw_handler.cpp:
// cpu_operator_cost is about 18 ns of real work here). Startup: ranking the
// centroids (an exact distance each), scanning probes lists of codes
// (4-bit fast scan: about a twentieth of an exact distance per entry at
// GloVe's 50 subvectors), re-ranking rerank_candidates exactly (from the
// heap: a row fetch too). Each further row (filters, the exact pass) costs
// about one re-rank.
static void IvfCostEstimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup,
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
    const IvfState *st = ivfpq_state(index);
    double dim = st->meta.dim, lists = st->meta.lists, m = st->geo.m;
    double probes = std::min<double>(ivfpq_probes(index, st), lists);
    double rerank = ivfpq_rerank_candidates(index, st);
    bool exact_mode = st->meta.exact;
    bool heap_rerank = !st->geo.vectors;
    index_close(index, NoLock);

    double tuples = path->indexinfo->tuples > 1 ? path->indexinfo->tuples : 1;
    double exact = cpu_operator_cost * (0.2 + dim / 90.0);
    double code = cpu_operator_cost * (st->meta.bits == 4 ? 0.02 + m / 800.0 : 0.05 + m / 60.0);
    double fetch = heap_rerank ? cpu_operator_cost * 40 : cpu_operator_cost * 10;
    double per_row = exact + fetch + 0.05;
    Cost first;
    if (exact_mode) {
        first = tuples * per_row;
    } else {
        double scanned = std::min(tuples, probes * tuples / lists);
        first = lists * exact + scanned * code + std::min(rerank, tuples) * per_row + 0.5;
    }
    *startup = first;
    *total = first + tuples * per_row;
    *selectivity = 1.0;
    *correlation = 0;
    *pages = exact_mode
                 ? path->indexinfo->pages
                 : std::min<double>(path->indexinfo->pages, probes * tuples / lists / 200 + 1);
}

static char *IvfPhaseName(int64 phase) {
    switch (phase) {
        case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
            return (char *)"initializing";
        case kIvfPhaseSample:
            return (char *)"sampling";
        case kIvfPhaseKMeans:
            return (char *)"k-means";
        case kIvfPhaseCodebook:
            return (char *)"codebooks";
        case kIvfPhaseAssign:
            return (char *)"assigning";
        case kIvfPhaseCalibrate:
            return (char *)"calibrating";
        case kIvfPhaseWrite:
            return (char *)"writing";
        default:
            return NULL;
    }
}

extern "C" Datum gv_ivfpq_handler(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    IndexAmRoutine *am = gv_am_routine();
    am->ambuild = ivfpq_build;
    am->ambuildempty = ivfpq_buildempty;
    am->aminsert = ivfpq_insert;
    am->ambulkdelete = ivfpq_bulkdelete;
    am->amvacuumcleanup = ivfpq_vacuumcleanup;
    am->amcostestimate = IvfCostEstimate;
    am->amoptions = ivfpq_options_parse;
    am->ambuildphasename = IvfPhaseName;
    am->ambeginscan = ivfpq_beginscan;
    am->amrescan = ivfpq_rescan;
    am->amgettuple = ivfpq_gettuple;
    am->amendscan = ivfpq_endscan;
    PG_RETURN_POINTER(am);
}

// Refuses, for one index, the options that shape its pages (lists,
// subvectors, bits, rerank) when they differ from what it was built with;
// probes and rerank_candidates are read at each scan and may change.
void ivfpq_check_rebuild_options(Relation index) {
    IvfOptions *o = ivfpq_options(index);
    IvfMeta meta;
    ivfpq_read_meta(index, &meta);
    const char *option = NULL;
    char value[32] = "", built[32] = "";
    auto differs = [&](const char *name, int given, int was) {
        if (option != NULL || given == 0 || given == was) return;
        option = name;
        snprintf(value, sizeof(value), "%d", given);
        snprintf(built, sizeof(built), "%d", was);
    };
    differs("lists", o->lists, meta.lists);
    differs("subvectors", o->subvectors, meta.subvectors);
    differs("bits", o->bits, meta.bits);
    if (option == NULL && o->rerank != meta.rerank) {
        option = "rerank";
        strlcpy(value, o->rerank == kIvfRerankIndex ? "index" : "heap", sizeof(value));
        strlcpy(built, meta.rerank == kIvfRerankIndex ? "index" : "heap", sizeof(built));
    }
    if (option != NULL)
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("cannot change %s of gv_ivfpq index \"%s\" to %s: it was built with %s",
                        option, RelationGetRelationName(index), value, built),
                 errdetail("lists, subvectors, bits and rerank shape the index's pages and take "
                           "effect only when it is built; probes and rerank_candidates can be "
                           "changed."),
                 errhint("Build a new index WITH (%s = %s), e.g. with CREATE INDEX CONCURRENTLY, "
                         "and drop this one.",
                         option, value)));
}
