// The boundary between C++ and Postgres, as rules the code states and checks.
//
//  1. No C++ exception reaches Postgres. The core (src/core) is noexcept
//     except its named entry points that allocate (HnswGraph's constructor
//     and LinkRange, CpuFeatureString): every call to one from an extern "C"
//     function sits inside GV_CPP_BEGIN / GV_CPP_END, which turns any
//     exception into an ERROR in one place (gv_report_cpp_exception).
//  2. ereport(ERROR) longjmps and skips C++ destructors, so nothing with a
//     non-trivial destructor lives in a frame an ERROR can jump out of:
//     Postgres-side state is palloc'd and trivially destructible (PgVec, the
//     page graph, the scan states), asserted with GV_ASSERT_LONGJMP_SAFE.
//     The core's header-only algorithms (ann/, hnsw/hnsw_policy.h) hold no
//     state of their own for the same reason.
//  3. Callbacks handed to compiled core code (LinkRange's progress
//     callback) never ereport: they only set flags and progress counters.
//  4. Query-lifetime memory comes from Postgres memory contexts.
#pragma once

#include <exception>
#include <new>
#include <type_traits>

#include "common/pg_includes.h"

// Rule 2, checked: T may live where an ERROR longjmps.
#define GV_ASSERT_LONGJMP_SAFE(T)                           \
    static_assert(std::is_trivially_destructible<T>::value, \
                  #T " lives where an ERROR may longjmp: it must be trivially destructible")

// Runs a block of C++ that may throw, turning any exception into an ERROR.
// The block must not call Postgres functions that can ereport (they would
// longjmp over the try frame). The exception is caught, its message copied,
// the catch block left (so the C++ runtime finishes the exception), and only
// then is the ERROR raised.
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

// Raises the ERROR for a caught C++ exception; never returns.
[[noreturn]] void gv_report_cpp_exception(bool out_of_memory, const char *message);
