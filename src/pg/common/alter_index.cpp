// The ALTER INDEX event trigger: each altered index's access method checks
// that no option that shapes its pages changed (alter_index.h).
#include "common/alter_index.h"

extern "C" {
#include "access/relation.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "commands/defrem.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(gv_alter_index_trigger);
}

namespace {

struct Registered {
    const char *am_name;
    GvRebuildOptionsCheck check;
};
Registered registry[4];
int registered = 0;

void CheckIndex(Oid indexoid) {
    Relation index = index_open(indexoid, AccessShareLock);
    const char *am = get_am_name(index->rd_rel->relam);
    for (int i = 0; am != NULL && i < registered; i++)
        if (strcmp(registry[i].am_name, am) == 0 && RelationGetNumberOfBlocks(index) > 0)
            registry[i].check(index);  // (an empty index: an invalid one, nothing built)
    index_close(index, AccessShareLock);
}

}  // namespace

void gv_register_rebuild_options_check(const char *am_name, GvRebuildOptionsCheck check) {
    if (registered < (int)(sizeof(registry) / sizeof(registry[0])))
        registry[registered++] = Registered{am_name, check};
}

// Event trigger on ALTER INDEX (ddl_command_end): an ERROR here rolls the
// ALTER back. Written in C, not PL/pgSQL, so it needs no rights on the
// gigavector schema from the role that runs the ALTER.
extern "C" Datum gv_alter_index_trigger(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("gv_alter_index_trigger must be called as an event trigger"),
                        errhint("It is attached to ALTER INDEX by CREATE EXTENSION gigavector.")));
    SPI_connect();
    int rc = SPI_execute(
        "SELECT objid FROM pg_catalog.pg_event_trigger_ddl_commands() "
        "WHERE object_type = 'index'",
        true, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    int count = (int)SPI_processed;
    Oid *oids = (Oid *)palloc(sizeof(Oid) * (count + 1));
    for (int i = 0; i < count; i++) {
        bool isnull;
        oids[i] = DatumGetObjectId(
            SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
    }
    SPI_finish();
    for (int i = 0; i < count; i++) CheckIndex(oids[i]);
    PG_RETURN_VOID();
}
