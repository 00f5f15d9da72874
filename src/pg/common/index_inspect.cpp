// Inspection helpers shared by the access methods (index_inspect.h).
#include "common/index_inspect.h"

#include "common/index_provider.h"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
}

// Whether relam is the access method asked for (am_name NULL: any that has
// registered a provider).
static bool IsWantedAm(Oid relam, const char *am_name) {
    return am_name != NULL ? relam == get_am_oid(am_name, true) : gv_am_provider(relam) != NULL;
}

[[noreturn]] static void NotWantedAm(const char *name, const char *am_name) {
    if (am_name != NULL)
        ereport(
            ERROR,
            (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a %s index", name, am_name),
             errhint("Pass a %s index, e.g. 'items_embedding_idx'::regclass.", am_name)));
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                    errmsg("\"%s\" is not a gv_hnsw or gv_ivfpq index", name),
                    errhint("Pass a GigaVector index, e.g. 'items_embedding_idx'::regclass; "
                            "gigavector.index_stats lists them.")));
}

Relation gv_open_index_for_inspection(Oid indexoid, const char *am_name) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
    if (!HeapTupleIsValid(tuple))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", indexoid),
                        errhint("Pass a %s index, e.g. 'items_embedding_idx'::regclass.",
                                am_name != NULL ? am_name : "gv_hnsw or gv_ivfpq")));
    Form_pg_class form = (Form_pg_class)GETSTRUCT(tuple);
    bool is_am = form->relkind == RELKIND_INDEX && IsWantedAm(form->relam, am_name);
    char *name = pstrdup(NameStr(form->relname));
    ReleaseSysCache(tuple);
    if (!is_am) NotWantedAm(name, am_name);
    Oid heapoid = IndexGetRelation(indexoid, false);
    Oid user = GetUserId();
    if (pg_class_aclcheck(heapoid, user, ACL_SELECT) != ACLCHECK_OK &&
        !pg_class_ownercheck(heapoid, user) && !has_privs_of_role(user, ROLE_PG_READ_ALL_STATS))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied for table \"%s\"", get_rel_name(heapoid)),
                        errhint("Inspecting index \"%s\" needs SELECT on its table, the table's "
                                "ownership, or membership in pg_read_all_stats.",
                                name)));
    Relation index = relation_open(indexoid, AccessShareLock);
    if (!IsWantedAm(index->rd_rel->relam, am_name))
        NotWantedAm(name, am_name);  // replaced meanwhile
    return index;
}

constexpr int kMaxProblems = 1000;  // a wrecked index must not make a million rows

void gv_problem(GvProblems *p, const char *fmt, ...) {
    if (++p->count > kMaxProblems) return;
    char buf[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    if (p->count == kMaxProblems)
        strlcpy(buf, "more problems not listed (the first 999 are above)", sizeof(buf));
    if (p->rsinfo == NULL) return;
    Datum value = CStringGetTextDatum(buf);
    bool isnull = false;
    tuplestore_putvalues(p->rsinfo->setResult, p->rsinfo->setDesc, &value, &isnull);
}

bool gv_try(void (*fn)(void *arg), void *arg, char *error, size_t error_len) {
    MemoryContext cxt = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    volatile bool ok = true;
    BeginInternalSubTransaction(NULL);
    MemoryContextSwitchTo(cxt);
    PG_TRY();
    {
        fn(arg);
        ReleaseCurrentSubTransaction();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(cxt);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(cxt);
        CurrentResourceOwner = owner;
        if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
            edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
            ReThrowError(edata);
        strlcpy(error, edata->message, error_len);
        FreeErrorData(edata);
        ok = false;
    }
    PG_END_TRY();
    MemoryContextSwitchTo(cxt);
    CurrentResourceOwner = owner;
    return ok;
}

struct BlockCopy {
    Relation index;
    BlockNumber block;
    char *dst;
};

static void CopyBlock(void *arg) {
    BlockCopy *c = (BlockCopy *)arg;
    Buffer buf = ReadBuffer(c->index, c->block);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    memcpy(c->dst, BufferGetPage(buf), BLCKSZ);
    UnlockReleaseBuffer(buf);
}

bool gv_copy_block(Relation index, BlockNumber block, BlockNumber nblocks, char *dst,
                   GvProblems *problems) {
    if (block >= nblocks) {
        gv_problem(problems, "block %u is past the end of the index (%u blocks)", block, nblocks);
        return false;
    }
    BlockCopy copy = {index, block, dst};
    char error[256];
    if (gv_try(CopyBlock, &copy, error, sizeof(error))) return true;
    gv_problem(problems, "block %u cannot be read: %s", block, error);
    return false;
}
