// Run-time counters of every GigaVector index, kept in shared memory so all
// sessions add to and read the same numbers (in the manner of
// pg_stat_statements): scans, rows returned, inserts, a latency histogram,
// the scans of the last minute (recent QPS), and, when
// gigavector.query_sampling_rate is above 0, a bounded ring of the query
// vectors scans ran (for measure_recall's source => 'sampled').
//
// The memory exists only when the library is in shared_preload_libraries
// (it is sized and allocated in the shmem request and startup hooks). Without
// it every call here is a cheap no-op and gv_counters_available() is false;
// the views then show what the index itself can tell and say that timings
// need preloading.
//
// Counters live until a restart or gigavector.stats_reset(); nothing is
// written to disk (the durable facts, recall and check results, go to the
// extension's tables).
#pragma once

#include "common/cpp_boundary.h"

// Called from _PG_init: installs the shared-memory hooks when the library is
// being preloaded, and defines the GUCs either way.
void gv_counters_init(void);
bool gv_counters_available(void);
// gigavector.target_recall and gigavector.health_max_index_size (read by
// the views through current_setting).
extern double gv_target_recall;
extern int gv_health_max_index_size_kb;

// True while this backend runs measurement scans (index_search,
// index_check's self-searches): they are neither counted nor sampled, so
// measuring an index does not look like traffic.
extern bool gv_counters_measuring;

// One finished index scan: the time it spent in the access method (inside
// amgettuple), and its rows.
void gv_counters_count_scan(Relation index, double elapsed_ms, int64 rows);
// One entry added by aminsert.
void gv_counters_count_insert(Relation index);
// Offers a scan's query vector (a gvector datum) to the sample ring; takes it
// with probability gigavector.query_sampling_rate.
void gv_counters_offer_query(Relation index, Datum query);
