// One provider per access method: what the access-method-independent SQL
// functions and views (gigavector.index_facts, index_info, index_check; the
// views index_stats and health) ask of an index, dispatched on the index's
// access method. Each access method registers its provider from _PG_init;
// the SQL layer never names an access method.
#pragma once

#include "common/index_inspect.h"

extern "C" {
#include "lib/stringinfo.h"
}

// What the views show about an index, read from the index itself.
struct GvIndexFacts {
    int dimensions;
    int64 live_entries;
    int64 dead_entries;      // entries the index still holds for rows known dead
    StringInfoData options;  // "name=value, ..." in effect; "(derived)" after derived ones
    // the access method's own finding about its health (drift of what the
    // build trained), or status NULL
    const char *status;  // "degraded" or "unhealthy"
    const char *reason;
    const char *action;
};

// Rows of gigavector.index_info: (property, value).
struct GvInfoRows {
    ReturnSetInfo *rsinfo;
};
void gv_info(GvInfoRows *rows, const char *property, const char *fmt, ...)
    pg_attribute_printf(3, 4);

// Rows of gigavector.tune_candidates: search settings to try, in series of
// rising cost (tune stops a series at the first that reaches its target).
// gucs: "name=value,..." to set for a scan; reloptions: "name=value, ..."
// for ALTER INDEX ... SET to keep them.
void gv_tune_candidate(GvInfoRows *rows, int series, const char *gucs, const char *reloptions);

struct GvAmProvider {
    const char *am_name;
    // Fills facts (options is initialised by the caller).
    void (*facts)(Relation index, GvIndexFacts *facts);
    // Structural facts, in the spirit of pgstatindex.
    void (*info)(Relation index, GvInfoRows *rows);
    // The structural check: one problem row per fault, never an ERROR for
    // damage; adds the heap TID of every live entry it read to
    // problems->entries when that is not NULL.
    void (*check)(Relation index, GvProblems *problems);
    // The search settings tune tries for k rows (gv_tune_candidate rows).
    void (*tune_candidates)(Relation index, int k, GvInfoRows *rows);
};

void gv_register_am_provider(const GvAmProvider *provider);
// The provider of an access method, or NULL when it is not GigaVector's.
const GvAmProvider *gv_am_provider(Oid amoid);

// Opens a GigaVector index of any access method for inspection (the rights
// of gv_open_index_for_inspection) and returns its provider.
Relation gv_open_any_index_for_inspection(Oid indexoid, const GvAmProvider **provider);

// Runs an ordered index scan of `index` for query (a datum of the indexed
// type) and calls fn(tid, distance, slot, arg) for each visible row, in
// order, until fn returns false or the scan ends: tid is the TID the index
// returned (a HOT chain's root), distance the access method's own (squared
// for L2; NaN for a row outside the search), slot the row. The scan runs
// under the snapshot given.
typedef bool (*GvSearchFn)(ItemPointer tid, double distance, TupleTableSlot *slot, void *arg);
void gv_index_search(Relation heap, Relation index, Snapshot snapshot, Datum query, GvSearchFn fn,
                     void *arg);

// The SQL function of one access method's structural check alone
// (gigavector.hnsw_check, gigavector.ivfpq_check): one row per problem.
Datum gv_check_one_method(FunctionCallInfo fcinfo, const char *am_name);
