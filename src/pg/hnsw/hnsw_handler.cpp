// gv_hnsw: access method handler, reloptions, planner cost estimate and
// opclass validation.
#include "common/am_routine.h"
#include "hnsw/hnsw_page_graph.h"

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

#include "access/htup_details.h"

#include "catalog/index.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "funcapi.h"
#include "utils/acl.h"
#include "utils/syscache.h"
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
                      "Default candidate list size for scans (gigavector.hnsw_ef_search "
                      "overrides); 0, the default: the one CREATE INDEX measured on the data",
                      0, 0, kHnswMaxEfSearch, AccessExclusiveLock);
    static relopt_enum_elt_def storage_values[] = {{"sq8", (int)gigavector::HnswStorage::kSq8},
                                                   {"f32", (int)gigavector::HnswStorage::kF32},
                                                   {NULL, 0}};
    add_enum_reloption(hnsw_relopt_kind, "storage",
                       "Vector data in the graph's slots: sq8 (8-bit codes, exact re-rank from "
                       "vector pages) or f32 (float vectors in the slots, up to ~1900 dimensions)",
                       storage_values, (int)gigavector::HnswStorage::kSq8,
                       "Valid values are \"sq8\" and \"f32\".", AccessExclusiveLock);
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

// The cost of an ordered scan, in the planner's units, where a sequential
// scan is charged cpu_tuple_cost + cpu_operator_cost (0.0125) a row, which
// for 100-dimensional rows is about 230 ns of real work. In the same units:
//   a distance on sq8 codes       cpu_operator_cost * (0.2 + dim / 150)
//   an exact distance             cpu_operator_cost * (0.2 + dim / 90)
//   pinning a cached node page    cpu_operator_cost * 7
//   verifying and returning a row 0.05
// The first batch (startup) visits about ef * m nodes and re-ranks ef; each
// row past it, for a filter or a large LIMIT, costs about m more nodes
// visited, one exact distance and its return, up to every row (the exact
// pass). The planner takes LIMIT k of the run cost, and divides k by the
// filter's selectivity, so it prefers a sequential or bitmap scan for a
// large LIMIT or a very selective filter, as for pgvector. Measured: 40
// units for GloVe-100 at ef 320 (0.7 ms); on MNIST-784, never analyzed, the
// index costs 5 against the sequential scan's 2200 (which does not see the
// TOASTed vectors it would read).
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
    HnswLayout l = hnsw_get_layout(index);
    int ef = hnsw_ef_search(index);
    index_close(index, NoLock);

    double tuples = path->indexinfo->tuples > 1 ? path->indexinfo->tuples : 1;
    double dim = l.dim;
    double code = cpu_operator_cost * (0.2 + dim / (l.F32() ? 90.0 : 150.0));
    if (!l.F32() && !l.Sq8()) code = cpu_operator_cost * (0.2 + dim / 90.0) + 0.01;
    double exact = cpu_operator_cost * (0.2 + dim / 90.0);
    double pin = cpu_operator_cost * 7;
    double visited = (double)ef * l.m;
    if (visited > tuples) visited = tuples;
    double node_pages = tuples / l.nodes_per_page + 1;
    double pages_visited = visited < node_pages ? visited : node_pages;
    Cost first = visited * code + pages_visited * pin + ef * exact + 0.5;
    Cost per_row = l.m * (code + 0.3 * pin) + exact + 0.05;
    *startup = first;
    *total = first + tuples * per_row;
    *selectivity = 1.0;
    *correlation = 0;
    *pages = pages_visited;
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

extern "C" Datum gv_hnsw_handler(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    IndexAmRoutine *am = gv_am_routine();
    am->ambuild = hnsw_build;
    am->ambuildempty = hnsw_buildempty;
    am->aminsert = hnsw_insert;
    am->ambulkdelete = hnsw_bulkdelete;
    am->amvacuumcleanup = hnsw_vacuumcleanup;
    am->amcostestimate = HnswCostEstimate;
    am->amoptions = HnswOptionsParse;
    am->ambuildphasename = HnswPhaseName;
    am->ambeginscan = hnsw_beginscan;
    am->amrescan = hnsw_rescan;
    am->amgettuple = hnsw_gettuple;
    am->amendscan = hnsw_endscan;
    PG_RETURN_POINTER(am);
}

// Refuses, for one index, the options that only a rebuild could apply: m,
// ef_construction and storage shape the pages, and the meta page records the
// values the index was built with. ef_search is read at each scan and may
// change freely.
void hnsw_check_rebuild_options(Relation index) {
    int m, efc, efs;
    hnsw_get_options(index, &m, &efc, &efs);
    bool f32 = hnsw_wants_f32(index);
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    const char *name = RelationGetRelationName(index);
    const char *option = NULL;
    char value[32] = "", built[32] = "";
    if (m != meta.m) {
        option = "m";
        snprintf(value, sizeof(value), "%d", m);
        snprintf(built, sizeof(built), "%d", meta.m);
    } else if (efc != meta.ef_construction) {
        option = "ef_construction";
        snprintf(value, sizeof(value), "%d", efc);
        snprintf(built, sizeof(built), "%d", meta.ef_construction);
    } else if (f32 != (meta.storage == (uint8)gigavector::HnswStorage::kF32)) {
        option = "storage";
        strlcpy(value, f32 ? "f32" : "sq8", sizeof(value));
        strlcpy(built, f32 ? "sq8" : "f32", sizeof(built));
    }
    if (option != NULL)
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("cannot change %s of gv_hnsw index \"%s\" to %s: it was built with %s",
                        option, name, value, built),
                 errdetail("m, ef_construction and storage shape the index's pages and take "
                           "effect only when it is built; ef_search can be changed."),
                 errhint("Build a new index WITH (%s = %s), e.g. with CREATE INDEX CONCURRENTLY, "
                         "and drop this one. REINDEX rebuilds with the options it was built with.",
                         option, value)));
}
