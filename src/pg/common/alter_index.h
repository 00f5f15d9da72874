// ALTER INDEX ... SET of an option that only a rebuild could apply would be
// accepted by Postgres and change nothing: the event trigger in
// alter_index.cpp asks the access method of each altered index to refuse it.
#pragma once

#include "common/cpp_boundary.h"

// ERRORs when the index's options differ from what it was built with in an
// option that shapes its pages.
typedef void (*GvRebuildOptionsCheck)(Relation index);

// Registers an access method's check (from _PG_init).
void gv_register_rebuild_options_check(const char *am_name, GvRebuildOptionsCheck check);
