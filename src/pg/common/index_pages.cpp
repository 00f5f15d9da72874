// Pages of GigaVector's indexes: type checks, the damage ERROR, streams over
// pages (see index_pages.h).
#include "common/index_pages.h"

extern "C" {
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "utils/lsyscache.h"
}

void gv_init_page(Page page, uint16 page_type, uint32 group) {
    PageInit(page, BLCKSZ, sizeof(GvPageOpaque));
    GvPageOpaque *opaque = (GvPageOpaque *)PageGetSpecialPointer(page);
    opaque->page_type = page_type;
    opaque->unused = 0;
    opaque->group = group;
}

const char *gv_page_problem(Page page, uint16 page_type) {
    PageHeader ph = (PageHeader)page;
    if (PageIsNew(page)) return "the page is all zeros";
    if (ph->pd_special != BLCKSZ - MAXALIGN(sizeof(GvPageOpaque)) ||
        ph->pd_lower < SizeOfPageHeaderData || ph->pd_lower > ph->pd_upper ||
        ph->pd_upper > ph->pd_special)
        return "the page header is damaged";
    uint16 found = ((GvPageOpaque *)PageGetSpecialPointer(page))->page_type;
    if (found != page_type) {
        static char buf[96];
        snprintf(buf, sizeof(buf), "the page has type %u where type %u belongs", (unsigned)found,
                 (unsigned)page_type);
        return buf;
    }
    return NULL;
}

void gv_report_corrupted(Relation index, BlockNumber block, const char *fmt, ...) {
    char detail[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(detail, sizeof(detail), fmt, args);
    va_end(args);
    // the access method names its check function: gv_hnsw -> hnsw_check
    const char *am = get_am_name(index->rd_rel->relam);
    if (am == NULL) am = "gv_index";
    const char *check = strncmp(am, "gv_", 3) == 0 ? am + 3 : am;
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("%s index \"%s\" is corrupted at block %u", am,
                           RelationGetRelationName(index), block),
                    errdetail("%s", detail),
                    errhint("REINDEX the index; gigavector.%s_check('%s') lists the damage.", check,
                            RelationGetRelationName(index))));
    pg_unreachable();
}

void gv_verify_page(Relation index, Buffer buf, uint16 page_type) {
    const char *problem = gv_page_problem(BufferGetPage(buf), page_type);
    if (unlikely(problem != NULL))
        gv_report_corrupted(index, BufferGetBlockNumber(buf), "%s", problem);
}

Buffer gv_read_page(Relation index, BlockNumber block, uint16 page_type,
                    BufferAccessStrategy strategy) {
    Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, strategy);
    gv_verify_page(index, buf, page_type);
    return buf;
}

void gv_write_stream(Page *pages, int offset, const void *src, size_t bytes) {
    const char *from = (const char *)src;
    int usable = GvPageUsableBytes();
    for (int p = 0; bytes > 0; p++) {
        int start = p == 0 ? offset : (int)GvPageDataOffset();
        size_t room = (size_t)((int)GvPageDataOffset() + usable - start);
        size_t chunk = bytes < room ? bytes : room;
        memcpy((char *)pages[p] + start, from, chunk);
        PageHeader ph = (PageHeader)pages[p];
        if (ph->pd_lower < start + chunk) ph->pd_lower = (LocationIndex)(start + chunk);
        from += chunk;
        bytes -= chunk;
    }
}

void gv_read_stream(Relation index, BlockNumber first, int offset, void *dst, size_t bytes,
                    uint16 page_type, bool lock) {
    char *to = (char *)dst;
    int usable = GvPageUsableBytes();
    for (BlockNumber p = 0; bytes > 0; p++) {
        int start = p == 0 ? offset : (int)GvPageDataOffset();
        size_t room = (size_t)((int)GvPageDataOffset() + usable - start);
        size_t chunk = bytes < room ? bytes : room;
        Buffer buf = gv_read_page(index, first + p, page_type);
        if (lock) LockBuffer(buf, BUFFER_LOCK_SHARE);
        memcpy(to, (char *)BufferGetPage(buf) + start, chunk);
        if (lock) LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        ReleaseBuffer(buf);
        to += chunk;
        bytes -= chunk;
    }
}
