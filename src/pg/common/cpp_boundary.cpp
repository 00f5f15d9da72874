// The one place a C++ exception becomes a Postgres ERROR (see cpp_boundary.h).
#include "common/cpp_boundary.h"

void gv_report_cpp_exception(bool out_of_memory, const char *message) {
    if (out_of_memory)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in gigavector"),
                        errhint("Raise maintenance_work_mem or work_mem, or free memory.")));
    ereport(ERROR,
            (errcode(ERRCODE_INTERNAL_ERROR), errmsg("gigavector internal error: %s", message),
             errhint("This is a bug in gigavector; please report it.")));
    pg_unreachable();
}
