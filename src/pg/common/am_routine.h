// What every GigaVector index access method declares to Postgres alike: an
// ordering-by-operator index of one gvector column, two support functions
// (common/index_opclass.h), no equality or range searches, no bitmaps, a
// bulk delete that one parallel VACUUM worker may run.
#pragma once

#include "common/cpp_boundary.h"

extern "C" {
#include "access/amapi.h"
}

// A new IndexAmRoutine with the shared properties set; the caller sets its
// callbacks (build, insert, vacuum, scan, cost, options, phase names).
IndexAmRoutine *gv_am_routine(void);
