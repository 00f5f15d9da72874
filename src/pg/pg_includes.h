// Postgres headers for the C++ glue. They are C headers: include them inside
// extern "C" here, and nowhere else, so every src/pg file sees the same set.
//
// Nothing in src/core includes this file.
#pragma once

extern "C" {
#include "postgres.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "access/relscan.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "port.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
}

#include <exception>
#include <new>

// Run a block of C++ that may throw, turning any exception into an ERROR.
// Use it around calls into src/core from an extern "C" entry point. The block
// must not call Postgres functions that can ereport (they would longjmp over
// the try frame). The exception is caught, its message copied, the catch
// block left (so the C++ runtime finishes the exception), and only then is
// the ERROR raised.
#define GV_CPP_BEGIN             \
    {                            \
        char gv_cpp_msg_[256];   \
        int gv_cpp_failure_ = 0; \
        try {
#define GV_CPP_END                                                                        \
    }                                                                                     \
    catch (const std::bad_alloc &) {                                                      \
        gv_cpp_failure_ = 1;                                                              \
    }                                                                                     \
    catch (const std::exception &gv_exc_) {                                               \
        gv_cpp_failure_ = 2;                                                              \
        strlcpy(gv_cpp_msg_, gv_exc_.what(), sizeof(gv_cpp_msg_));                        \
    }                                                                                     \
    catch (...) {                                                                         \
        gv_cpp_failure_ = 2;                                                              \
        strlcpy(gv_cpp_msg_, "unknown C++ exception", sizeof(gv_cpp_msg_));               \
    }                                                                                     \
    if (gv_cpp_failure_ != 0) gv_report_cpp_exception(gv_cpp_failure_ == 1, gv_cpp_msg_); \
    }

// Raises the ERROR for a caught C++ exception; never returns. Defined in init.cpp.
[[noreturn]] void gv_report_cpp_exception(bool out_of_memory, const char *message);
