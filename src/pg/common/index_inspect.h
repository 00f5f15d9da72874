// What the inspection functions of every access method share (the stats
// and the structural checks): opening an index with the rights Postgres's
// own statistics require, problem rows, and copying a block out of the
// buffer manager so that even a block it refuses becomes a problem row.
#pragma once

#include "common/cpp_boundary.h"
#include "common/pg_vec.h"

// Opens an index of access method `am_name` for inspection, with
// AccessShareLock. What inspection shows (row counts, insert and delete
// activity, damage) is about the table's contents, so it needs what
// Postgres's statistics need: SELECT on the table, its ownership, or
// membership in pg_read_all_stats. The check is made before any lock is
// taken, and an OID reaches no more than a name. am_name NULL accepts any
// access method that registered a provider (index_provider.h).
Relation gv_open_index_for_inspection(Oid indexoid, const char *am_name);

// Problem rows of a check (a materialized SETOF text), at most 1000;
// with rsinfo NULL they are only counted.
struct GvProblems {
    ReturnSetInfo *rsinfo;
    int count;
    // when not NULL: the heap TIDs of the live entries the check read
    // (gigavector.index_check checks them against the heap)
    PgVec<ItemPointerData> *entries;
};
// Adds a live entry's heap TID to p->entries (when collected).
inline void gv_problem_entry(GvProblems *p, const ItemPointerData *tid) {
    if (p->entries != NULL) p->entries->push_back(*tid);
}
void gv_problem(GvProblems *p, const char *fmt, ...) pg_attribute_printf(2, 3);

// Runs fn(arg) inside a subtransaction: an ERROR it raises is caught, its
// message copied to error, and false returned (a cancel or shutdown is
// raised again, never swallowed).
bool gv_try(void (*fn)(void *arg), void *arg, char *error, size_t error_len);

// Copies block into dst under a share lock, inside a subtransaction: when
// the buffer manager refuses the block (invalid page header, checksum,
// short file) the error becomes a problem row and false is returned. A
// cancel is not swallowed.
bool gv_copy_block(Relation index, BlockNumber block, BlockNumber nblocks, char *dst,
                   GvProblems *problems);
