// Pages of GigaVector's index access methods: one page format convention
// (a special space naming the page's type and group), checks that a page is
// what it should be, the ERROR for damage, byte streams that span pages
// (vectors larger than a page, quantizer tables), and the one wrapper over
// generic WAL that every page change goes through.
//
// Every change to an index page is WAL-logged through GvWalRecord (generic
// WAL: at most 4 pages per record, each diffed or logged whole), or, for a
// bulk build, written without WAL and logged with log_newpage_range.
#pragma once

#include "common/cpp_boundary.h"

extern "C" {
#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
}

// The special space of every page of every GigaVector index.
struct GvPageOpaque {
    uint16 page_type;  // the access method's page types, 1..
    uint16 unused;     // 0
    uint32 group;      // the access method's grouping of pages (0 if none)
};
static_assert(sizeof(GvPageOpaque) == 8, "on-disk page special space");

// Where page data starts, and how many bytes a page holds between its
// header and the special space.
inline size_t GvPageDataOffset() {
    return MAXALIGN(SizeOfPageHeaderData);
}
inline int GvPageUsableBytes() {
    return BLCKSZ - (int)MAXALIGN(SizeOfPageHeaderData) - (int)MAXALIGN(sizeof(GvPageOpaque));
}

// Initialises an empty page of a type.
void gv_init_page(Page page, uint16 page_type, uint32 group);

// What is wrong with a page that should be of page_type (header, special
// space, type), or NULL when nothing is.
const char *gv_page_problem(Page page, uint16 page_type);

// ERRORs with XX001 (data corrupted), naming the index and the block, with a
// REINDEX hint and the access method's check function.
[[noreturn]] void gv_report_corrupted(Relation index, BlockNumber block, const char *fmt, ...)
    pg_attribute_printf(3, 4);

// ERRORs (gv_report_corrupted) unless the buffer's page is a sound page of
// page_type. (A page's header and type never change once it is initialised,
// so this may be called with only a pin.)
void gv_verify_page(Relation index, Buffer buf, uint16 page_type);

// ReadBuffer of a block that must be a page of page_type, verified.
Buffer gv_read_page(Relation index, BlockNumber block, uint16 page_type,
                    BufferAccessStrategy strategy = NULL);

// Copies `bytes` bytes into page images: pages[0] from offset on, the rest
// into pages[1..] after their headers. Sets each page's pd_lower past what it
// wrote (so full-page images keep it).
void gv_write_stream(Page *pages, int offset, const void *src, size_t bytes);

// Reads `bytes` bytes written that way from blocks first, first+1, ...,
// each verified to be of page_type, under share locks unless `lock` is false
// (for data that never changes once readers can reach it).
void gv_read_stream(Relation index, BlockNumber first, int offset, void *dst, size_t bytes,
                    uint16 page_type, bool lock);

// One generic WAL record over up to 4 buffers the caller holds exclusively
// locked: Register returns the page image to change, Finish logs and applies
// every change at once (or Abort drops them). Trivially destructible; an
// ERROR before Finish leaves the pages unchanged.
struct GvWalRecord {
    GenericXLogState *state;

    explicit GvWalRecord(Relation index) : state(GenericXLogStart(index)) {}
    Page Register(Buffer buf, bool full_image = false) {
        return GenericXLogRegisterBuffer(state, buf, full_image ? GENERIC_XLOG_FULL_IMAGE : 0);
    }
    void Finish() { GenericXLogFinish(state); }
    void Abort() { GenericXLogAbort(state); }
};
GV_ASSERT_LONGJMP_SAFE(GvWalRecord);
