// gv_ivfpq VACUUM.
//
// Bulk delete: entries whose rows are dead are marked gone in place (their
// heap TID made invalid, page by page, each page one WAL record), so that a
// scan never sees an entry move.
//
// Cleanup re-packs lists: the live entries of a list are written, packed
// into fast-scan blocks, to a new chain; the directory then names it (head
// and tail) in one record that also retires the old chain's last page, and
// the old pages are retired, not changed: a scan that is on the old chain
// reads it to its end, and positions it holds stay valid; an insert that
// waits for the old last page finds it retired and reads the directory
// again. A retired page is reused once no snapshot
// older than its retirement remains (ivfpq_page_recyclable): the cleanup
// records such pages in the free space map, and new pages come from there;
// it also retires pages a re-pack wrote that no chain reaches (a crash came
// before the swap).
// A list is re-packed when it has a block's worth of unpacked entries or a
// tenth of its entries are dead. Vector pages (rerank = index) of removed
// entries are not reclaimed; REINDEX does that.
#include "ivfpq/ivfpq_am.h"

extern "C" {
#include "access/genam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
}

namespace {

// Walks every list (and the zero-vector list), calling fn(buf, list) with
// each page pinned and exclusively locked when `exclusive`, else shared.
template <class F>
void ForEachListPage(Relation index, const IvfState *st, bool exclusive, BufferAccessStrategy bas,
                     F fn) {
    BlockNumber nblocks = 0;
    for (int l = 0; l <= st->meta.lists; l++)
        ivfpq_walk_list(index, st, l, exclusive ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE,
                        &nblocks, bas, [&](Buffer buf) {
                            fn(buf, l);
                            vacuum_delay_point();
                        });
}

}  // namespace

extern "C" IndexBulkDeleteResult *ivfpq_bulkdelete(IndexVacuumInfo *info,
                                                   IndexBulkDeleteResult *stats,
                                                   IndexBulkDeleteCallback callback,
                                                   void *callback_state) {
    Relation index = info->index;
    if (stats == NULL) stats = (IndexBulkDeleteResult *)palloc0(sizeof(IndexBulkDeleteResult));
    const IvfState *st = ivfpq_state(index);
    const IvfGeometry &g = st->geo;
    double removed = 0, kept = 0;
    ForEachListPage(index, st, true, info->strategy, [&](Buffer buf, int) {
        Page page = BufferGetPage(buf);
        const IvfListPage *h = IvfListPageOf(page);
        int n = h->packed + h->tail;
        uint16 dead[BLCKSZ / 4];  // (an entry takes at least 7 bytes)
        int ndead = 0;
        for (int slot = 0; slot < n; slot++) {
            ItemPointerData tid;
            memcpy(&tid, IvfEntryRef(page, g, slot), sizeof(tid));
            if (!ItemPointerIsValid(&tid)) continue;
            if (callback(&tid, callback_state))
                dead[ndead++] = slot;
            else
                kept += 1;
        }
        if (ndead == 0) return;
        GvWalRecord rec(index);
        Page p = rec.Register(buf);
        for (int i = 0; i < ndead; i++) {
            char *ref = IvfEntryRef(p, g, dead[i]);
            ItemPointerSetInvalid((ItemPointer)ref);
        }
        rec.Finish();
        removed += ndead;
    });
    if (removed > 0) {
        Buffer mbuf = gv_read_page(index, 0, kIvfPageMeta);
        LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
        GvWalRecord rec(index);
        Page mp = rec.Register(mbuf);
        ivfpq_meta_of(index, mp)->vacuum_removed += (uint64)removed;
        rec.Finish();
        UnlockReleaseBuffer(mbuf);
    }
    stats->tuples_removed += removed;
    stats->num_index_tuples = kept;
    stats->num_pages = RelationGetNumberOfBlocks(index);
    return stats;
}

namespace {

// Re-packs list l (see the file comment); returns the unpacked entries it
// moved into blocks.
int64 RepackList(Relation index, const IvfState *st, int l, BufferAccessStrategy bas) {
    const IvfGeometry &g = st->geo;
    IvfListDir d = ivfpq_read_dir(index, st, l);
    if (d.head == InvalidBlockNumber) return 0;
    // the chain to its end; only VACUUM changes its pages but the last
    int npages = 0, cap = 16;
    BlockNumber *pages = (BlockNumber *)palloc(sizeof(BlockNumber) * cap);
    int64 live = 0, live_tail = 0, dead = 0;
    uint16 last_count = 0;
    BlockNumber nblocks = 0;
    ivfpq_walk_list(index, st, l, BUFFER_LOCK_SHARE, &nblocks, bas, [&](Buffer buf) {
        Page page = BufferGetPage(buf);
        const IvfListPage *h = IvfListPageOf(page);
        for (int slot = 0; slot < h->packed + h->tail; slot++) {
            ItemPointerData tid;
            memcpy(&tid, IvfEntryRef(page, g, slot), sizeof(tid));
            if (!ItemPointerIsValid(&tid)) {
                dead++;
            } else {
                live++;
                if (slot >= h->packed) live_tail++;
            }
        }
        if (npages == cap) {
            cap *= 2;
            pages = (BlockNumber *)repalloc(pages, sizeof(BlockNumber) * cap);
        }
        pages[npages++] = BufferGetBlockNumber(buf);
        last_count = (uint16)(h->packed + h->tail);
    });
    bool worth = g.bits == 4 && live_tail >= gigavector::kFastScanBlock;
    if (dead > 0 && dead * 10 >= live + dead) worth = true;
    if (!worth) {
        pfree(pages);
        return 0;
    }
    // the live entries, unpacked, in chain order (so that the first `built`
    // positions stay those of the build, for the drift statistics)
    char *refs = (char *)palloc_extended((size_t)live * g.ref_bytes + 1, MCXT_ALLOC_HUGE);
    uint8 *codes = (uint8 *)palloc_extended((size_t)live * g.m + 1, MCXT_ALLOC_HUGE);
    int64 n = 0, position = 0, built_live = 0;
    for (int p = 0; p < npages; p++) {
        Buffer buf = gv_read_page(index, pages[p], kIvfPageList, bas);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        const IvfListPage *h = IvfListPageOf(page);
        int count = p == npages - 1 ? last_count : h->packed + h->tail;
        for (int slot = 0; slot < count && n < live; slot++, position++) {
            const char *ref = IvfEntryRef(page, g, slot);
            ItemPointerData tid;
            memcpy(&tid, ref, sizeof(tid));
            if (!ItemPointerIsValid(&tid)) continue;
            if (position < d.built) built_live++;
            memcpy(refs + n * g.ref_bytes, ref, g.ref_bytes);
            if (slot < h->packed) {
                const uint8 *blk = (const uint8 *)page + g.BlockOffset(slot / 32);
                for (int j = 0; j < g.m; j++)
                    codes[n * g.m + j] = gigavector::FastScanCode(blk, slot % 32, j);
            } else {
                memcpy(codes + n * g.m, IvfTailCodes(page, g, slot - h->packed), g.m);
            }
            n++;
        }
        UnlockReleaseBuffer(buf);
        vacuum_delay_point();
    }
    // the new chain; unreachable until the directory names it
    BlockNumber first = InvalidBlockNumber, last = InvalidBlockNumber;
    int nnew = 0;
    BlockNumber *fresh = (BlockNumber *)palloc(sizeof(BlockNumber) * (n / 32 + 2));
    {
        Page image = (Page)palloc(BLCKSZ);
        int64 at = 0;
        Buffer prev = InvalidBuffer;
        while (at < n) {
            Buffer buf = ivfpq_new_buffer(index);
            at += ivfpq_fill_list_page(image, g, l, refs + at * g.ref_bytes, codes + at * g.m,
                                       (int)(n - at));
            IvfListPageOf(image)->flags = kIvfPageRepacked;
            GvWalRecord rec(index);
            memcpy(rec.Register(buf, true), image, BLCKSZ);
            if (BufferIsValid(prev))  // the page before links to this one
                IvfListPageOf(rec.Register(prev))->next = BufferGetBlockNumber(buf);
            rec.Finish();
            if (BufferIsValid(prev)) UnlockReleaseBuffer(prev);
            if (first == InvalidBlockNumber) first = BufferGetBlockNumber(buf);
            last = BufferGetBlockNumber(buf);
            fresh[nnew++] = last;
            prev = buf;
        }
        if (BufferIsValid(prev)) UnlockReleaseBuffer(prev);
        pfree(image);
    }
    // the swap, with the old last page (where inserts go) locked: if it
    // gained entries or a successor meanwhile, the new pages are retired
    // instead. Else, in one record, the directory names the new chain and
    // the old last page is retired: an insert waiting for it sees that and
    // reads the directory again; a scan on the old chain ends there.
    TransactionId xid;
    BlockNumber old_last = pages[npages - 1];
    Buffer tbuf = gv_read_page(index, old_last, kIvfPageList, bas);
    LockBuffer(tbuf, BUFFER_LOCK_EXCLUSIVE);
    const IvfListPage *th = IvfListPageOf(BufferGetPage(tbuf));
    bool changed = th->next != InvalidBlockNumber || th->packed + th->tail != last_count;
    int offset;
    BlockNumber dirblk = ivfpq_dir_block(st, l, &offset);
    Buffer dbuf = InvalidBuffer;
    if (!changed) {
        dbuf = gv_read_page(index, dirblk, kIvfPageDirectory);
        LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
        xid = ReadNextTransactionId();
        GvWalRecord rec(index);
        IvfListDir *de = (IvfListDir *)((char *)rec.Register(dbuf) + offset);
        if (de->head != d.head || de->tail != old_last) {
            rec.Abort();
            changed = true;
        } else {
            de->head = first;
            de->tail = last;
            de->built = (uint32)built_live;
            Page tp = rec.Register(tbuf);
            IvfListPageOf(tp)->flags |= kIvfPageRetired;
            ((PageHeader)tp)->pd_prune_xid = xid;
            rec.Finish();
        }
        UnlockReleaseBuffer(dbuf);
    }
    UnlockReleaseBuffer(tbuf);
    // retire what is no longer in a chain: the old pages, or the new ones
    xid = ReadNextTransactionId();
    int nretire = changed ? nnew : npages - 1;
    BlockNumber *retire = changed ? fresh : pages;
    for (int p = 0; p < nretire; p++) {
        Buffer buf = gv_read_page(index, retire[p], kIvfPageList, bas);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        GvWalRecord rec(index);
        Page page = rec.Register(buf);
        IvfListPageOf(page)->flags |= kIvfPageRetired;
        ((PageHeader)page)->pd_prune_xid = xid;
        rec.Finish();
        UnlockReleaseBuffer(buf);
    }
    pfree(refs);
    pfree(codes);
    pfree(pages);
    pfree(fresh);
    return changed ? 0 : live_tail;
}

// Records retired pages no snapshot can still read as free, and retires
// re-packed pages no chain reaches (see kIvfPageRepacked).
void ReclaimPages(Relation index, const IvfState *st, BufferAccessStrategy bas) {
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    bool *reached = (bool *)palloc0(nblocks + 1);
    ForEachListPage(index, st, false, bas,
                    [&](Buffer buf, int) { reached[BufferGetBlockNumber(buf)] = true; });
    bool any = false;
    for (BlockNumber block = 1; block < nblocks; block++) {
        Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, bas);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        bool list = !PageIsNew(page) && gv_page_problem(page, kIvfPageList) == NULL;
        uint16 flags = list ? IvfListPageOf(page)->flags : 0;
        bool free_page = list && (flags & kIvfPageRetired) && ivfpq_page_recyclable(page);
        bool orphan =
            list && !(flags & kIvfPageRetired) && (flags & kIvfPageRepacked) && !reached[block];
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        if (orphan) {
            LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
            GvWalRecord rec(index);
            Page p = rec.Register(buf);
            IvfListPageOf(p)->flags |= kIvfPageRetired;
            ((PageHeader)p)->pd_prune_xid = ReadNextTransactionId();
            rec.Finish();
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        }
        ReleaseBuffer(buf);
        if (free_page) {
            RecordFreeIndexPage(index, block);
            any = true;
        }
        vacuum_delay_point();
    }
    pfree(reached);
    if (any) IndexFreeSpaceMapVacuum(index);
}

}  // namespace

extern "C" IndexBulkDeleteResult *ivfpq_vacuumcleanup(IndexVacuumInfo *info,
                                                      IndexBulkDeleteResult *stats) {
    if (info->analyze_only) return stats;
    Relation index = info->index;
    const IvfState *st = ivfpq_state(index);
    ReclaimPages(index, st, info->strategy);
    int64 repacked = 0;
    for (int l = 0; l < st->meta.lists; l++) {
        repacked += RepackList(index, st, l, info->strategy);
        CHECK_FOR_INTERRUPTS();
    }
    if (repacked > 0) {
        Buffer mbuf = gv_read_page(index, 0, kIvfPageMeta);
        LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
        GvWalRecord rec(index);
        ivfpq_meta_of(index, rec.Register(mbuf))->repacked += (uint64)repacked;
        rec.Finish();
        UnlockReleaseBuffer(mbuf);
    }
    if (stats == NULL) {
        // no bulk delete ran: count the live entries for the statistics
        stats = (IndexBulkDeleteResult *)palloc0(sizeof(IndexBulkDeleteResult));
        double live = 0;
        ForEachListPage(index, st, false, info->strategy, [&](Buffer buf, int) {
            Page page = BufferGetPage(buf);
            const IvfListPage *h = IvfListPageOf(page);
            for (int slot = 0; slot < h->packed + h->tail; slot++) {
                ItemPointerData tid;
                memcpy(&tid, IvfEntryRef(page, st->geo, slot), sizeof(tid));
                if (ItemPointerIsValid(&tid)) live += 1;
            }
        });
        stats->num_index_tuples = live;
    }
    stats->num_pages = RelationGetNumberOfBlocks(index);
    return stats;
}
