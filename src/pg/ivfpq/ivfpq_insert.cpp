// gv_ivfpq inserts: a row goes to the tail of its nearest list (unpacked
// codes; VACUUM re-packs tails into fast-scan blocks), its vector to the
// vector pages when the index keeps a copy (rerank = index).
#include "common/index_counters.h"
#include "ivfpq/ivfpq_am.h"

extern "C" {
#include "storage/lmgr.h"
#include "utils/memutils.h"
}

namespace {

// Sets pd_lower past `end` so that WAL and full-page images keep the data.
void CoverTo(Page page, int end) {
    PageHeader ph = (PageHeader)page;
    if (ph->pd_lower < end) ph->pd_lower = (LocationIndex)end;
}

// Appends one unpacked entry to a list page image that has room.
void PutTailEntry(Page page, const IvfGeometry &g, const char *ref, const uint8 *codes) {
    IvfListPage *h = IvfListPageOf(page);
    char *at = (char *)page + g.TailOffset(h->blocks, h->tail);
    memcpy(at, ref, g.ref_bytes);
    memcpy(at + g.ref_bytes, codes, g.m);
    h->tail++;
    CoverTo(page, g.TailOffset(h->blocks, h->tail));
}

void InitListPage(Page page, int list) {
    gv_init_page(page, kIvfPageList, (uint32)list);
    IvfListPage *h = IvfListPageOf(page);
    h->next = InvalidBlockNumber;
    h->blocks = h->packed = h->tail = h->flags = 0;
    CoverTo(page, (int)GvPageDataOffset() + (int)sizeof(IvfListPage));
}

}  // namespace

void ivfpq_append_entry(Relation index, const IvfState *st, int list, const char *ref,
                        const uint8 *codes) {
    const IvfGeometry &g = st->geo;
    int offset;
    BlockNumber dirblk = ivfpq_dir_block(st, list, &offset);
    BlockNumber nblocks = 0;  // (ivfpq_block_in_index)
    for (int attempt = 0;; attempt++) {
        if (attempt > 1000)
            gv_report_corrupted(index, dirblk, "list %d's tail page never ends its chain", list);
        IvfListDir d = ivfpq_read_dir(index, st, list);
        if (d.tail == InvalidBlockNumber) {
            // an empty list: its first page, with the directory updated in
            // the same record (the directory page is locked first; the new
            // page is seen by nobody else)
            Buffer dbuf = gv_read_page(index, dirblk, kIvfPageDirectory);
            LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
            IvfListDir now;
            memcpy(&now, (char *)BufferGetPage(dbuf) + offset, sizeof(now));
            if (now.tail != InvalidBlockNumber) {
                UnlockReleaseBuffer(dbuf);
                continue;
            }
            Buffer nbuf = ivfpq_new_buffer(index);
            GvWalRecord rec(index);
            Page np = rec.Register(nbuf, true);
            Page dp = rec.Register(dbuf);
            InitListPage(np, list);
            PutTailEntry(np, g, ref, codes);
            now.head = now.tail = BufferGetBlockNumber(nbuf);
            memcpy((char *)dp + offset, &now, sizeof(now));
            rec.Finish();
            UnlockReleaseBuffer(nbuf);
            UnlockReleaseBuffer(dbuf);
            return;
        }
        Buffer buf = ivfpq_read_list_page(index, d.tail, list, &nblocks);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        ivfpq_check_list_page(index, buf, g, list);
        IvfListPage *h = IvfListPageOf(BufferGetPage(buf));
        // another insert grew the chain, or VACUUM re-packed the list: read
        // the directory again
        if (h->next != InvalidBlockNumber || (h->flags & kIvfPageRetired)) {
            UnlockReleaseBuffer(buf);
            continue;
        }
        if (h->tail < g.TailCapacity(h->blocks)) {
            GvWalRecord rec(index);
            PutTailEntry(rec.Register(buf), g, ref, codes);
            rec.Finish();
            UnlockReleaseBuffer(buf);
            return;
        }
        // the tail page is full: a new tail, linked from the old one and
        // from the directory in one record (tail page, new page, directory
        // page: locked in that order)
        Buffer nbuf = ivfpq_new_buffer(index);
        Buffer dbuf = gv_read_page(index, dirblk, kIvfPageDirectory);
        LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
        GvWalRecord rec(index);
        Page op = rec.Register(buf);
        Page np = rec.Register(nbuf, true);
        Page dp = rec.Register(dbuf);
        InitListPage(np, list);
        PutTailEntry(np, g, ref, codes);
        IvfListPageOf(op)->next = BufferGetBlockNumber(nbuf);
        IvfListDir *de = (IvfListDir *)((char *)dp + offset);
        de->tail = BufferGetBlockNumber(nbuf);
        rec.Finish();
        UnlockReleaseBuffer(nbuf);
        UnlockReleaseBuffer(dbuf);
        UnlockReleaseBuffer(buf);
        return;
    }
}

ItemPointerData ivfpq_store_vector(Relation index, const IvfState *st, const float *v) {
    const size_t bytes = sizeof(float) * (size_t)st->meta.dim;
    const int usable = GvPageUsableBytes();
    const int end = (int)GvPageDataOffset() + usable;
    Buffer mbuf = gv_read_page(index, 0, kIvfPageMeta);
    LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
    IvfMeta *meta = ivfpq_meta_of(index, BufferGetPage(mbuf));
    ItemPointerData loc;
    BlockNumber tail = meta->vector_tail;
    if (tail != InvalidBlockNumber && bytes <= (size_t)usable) {
        if (tail >= RelationGetNumberOfBlocks(index))
            gv_report_corrupted(index, 0, "the vector tail points past the end of the index");
        Buffer buf = gv_read_page(index, tail, kIvfPageVectors);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        int at = ((PageHeader)BufferGetPage(buf))->pd_lower;
        if (at + (int)bytes <= end) {
            GvWalRecord rec(index);
            Page p = rec.Register(buf);
            memcpy((char *)p + at, v, bytes);
            CoverTo(p, at + (int)bytes);
            rec.Finish();
            UnlockReleaseBuffer(buf);
            UnlockReleaseBuffer(mbuf);
            ItemPointerSet(&loc, tail, (OffsetNumber)at);
            return loc;
        }
        UnlockReleaseBuffer(buf);
    }
    // new pages, contiguous (the stream continues on the next block): the
    // extension lock is held while they are added
    int npages = (int)((bytes + usable - 1) / usable);
    Buffer bufs[(kIvfMaxDimensions * 4) / 4000 + 2];
    LockRelationForExtension(index, ExclusiveLock);
    for (int i = 0; i < npages; i++) {
        bufs[i] = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
        LockBuffer(bufs[i], BUFFER_LOCK_EXCLUSIVE);
    }
    UnlockRelationForExtension(index, ExclusiveLock);
    for (int i = 1; i < npages; i++)
        if (BufferGetBlockNumber(bufs[i]) != BufferGetBlockNumber(bufs[0]) + (BlockNumber)i)
            elog(ERROR, "gv_ivfpq: new vector pages are not contiguous");
    // the pages are reachable only once the entry (or the meta page) names
    // them: each group of 3 is its own record, the last with the meta page
    const char *from = (const char *)v;
    size_t left = bytes;
    for (int first = 0; first < npages; first += 3) {
        int count = npages - first < 3 ? npages - first : 3;
        bool last = first + count == npages;
        GvWalRecord rec(index);
        Page pages[3];
        for (int i = 0; i < count; i++) {
            pages[i] = rec.Register(bufs[first + i], true);
            gv_init_page(pages[i], kIvfPageVectors, 0);
        }
        size_t chunk = left < (size_t)usable * count ? left : (size_t)usable * count;
        gv_write_stream(pages, (int)GvPageDataOffset(), from, chunk);
        from += chunk;
        left -= chunk;
        if (last) {
            Page mp = rec.Register(mbuf);
            ivfpq_meta_of(index, mp)->vector_tail = BufferGetBlockNumber(bufs[npages - 1]);
        }
        rec.Finish();
    }
    for (int i = 0; i < npages; i++) UnlockReleaseBuffer(bufs[i]);
    UnlockReleaseBuffer(mbuf);
    ItemPointerSet(&loc, BufferGetBlockNumber(bufs[0]), (OffsetNumber)GvPageDataOffset());
    return loc;
}

void ivfpq_read_vector(Relation index, const IvfState *st, ItemPointer locator, float *out,
                       BlockNumber *nblocks) {
    BlockNumber block = ItemPointerGetBlockNumberNoCheck(locator);
    int offset = ItemPointerGetOffsetNumberNoCheck(locator);
    const size_t bytes = sizeof(float) * (size_t)st->meta.dim;
    const int usable = GvPageUsableBytes();
    size_t first_room = (size_t)((int)GvPageDataOffset() + usable - offset);
    size_t pages = bytes <= first_room ? 1 : 1 + (bytes - first_room + usable - 1) / usable;
    if (offset < (int)GvPageDataOffset() || offset >= (int)GvPageDataOffset() + usable ||
        block == InvalidBlockNumber || (uint64)block + pages > MaxBlockNumber ||
        !ivfpq_block_in_index(index, block + (BlockNumber)pages - 1, nblocks))
        gv_report_corrupted(index, block, "a vector locator (%u, %d) points outside the index",
                            block, offset);
    gv_read_stream(index, block, offset, out, bytes, kIvfPageVectors, false);
    for (int d = 0; d < st->meta.dim; d++)
        if (!std::isfinite(out[d]))
            gv_report_corrupted(index, block, "a stored vector is not finite");
}

extern "C" bool ivfpq_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
                             Relation heap, IndexUniqueCheck check_unique, bool index_unchanged,
                             IndexInfo *info) {
    (void)heap;
    (void)check_unique;
    (void)index_unchanged;
    (void)info;
    if (isnull[0]) return false;
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv_ivfpq insert", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    const IvfState *st = ivfpq_state(index);
    const int dim = st->meta.dim;
    float *v = (float *)palloc(sizeof(float) * dim);
    float *residual = (float *)palloc(sizeof(float) * dim);
    uint8 *codes = (uint8 *)palloc0(st->geo.m);
    char ref[2 * sizeof(ItemPointerData)];
    memcpy(ref, heap_tid, sizeof(ItemPointerData));
    int list = st->meta.lists;  // cosine's zero vectors: a list of their own
    if (ivfpq_prepare_vector(index, st, values[0], v)) {
        list = (int)gigavector::EncodeIvfPq(st->model, v, residual, codes);
        if (st->geo.vectors) {
            ItemPointerData loc = ivfpq_store_vector(index, st, v);
            memcpy(ref + sizeof(ItemPointerData), &loc, sizeof(loc));
        }
    } else if (st->geo.vectors) {
        ItemPointerData none;
        ItemPointerSetInvalid(&none);
        memcpy(ref + sizeof(ItemPointerData), &none, sizeof(none));
    }
    ivfpq_append_entry(index, st, list, ref, codes);
    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
    gv_counters_count_insert(index);
    return false;
}
