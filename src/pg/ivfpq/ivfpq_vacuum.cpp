// gv_ivfpq VACUUM: entries whose rows are dead are marked gone in place
// (their heap TID made invalid, page by page, each page one WAL record), so
// that a scan never sees an entry move; the meta page counts them.
#include "ivfpq/ivfpq_am.h"

extern "C" {
#include "access/genam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
}

namespace {

// Walks every list (and the zero-vector list), calling fn(buf, list) with
// each page pinned and exclusively locked when `exclusive`, else shared.
template <class F>
void ForEachListPage(Relation index, const IvfState *st, bool exclusive, BufferAccessStrategy bas,
                     F fn) {
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    for (int l = 0; l <= st->meta.lists; l++) {
        BlockNumber block = ivfpq_read_dir(index, st, l).head;
        for (BlockNumber steps = 0; block != InvalidBlockNumber; steps++) {
            if (steps > nblocks) gv_report_corrupted(index, block, "list %d's chain loops", l);
            if (block >= nblocks)
                gv_report_corrupted(index, block, "list %d's chain points past the index", l);
            Buffer buf = gv_read_page(index, block, kIvfPageList, bas);
            LockBuffer(buf, exclusive ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE);
            ivfpq_check_list_page(index, buf, st->geo, l);
            fn(buf, l);
            block = IvfListPageOf(BufferGetPage(buf))->next;
            UnlockReleaseBuffer(buf);
            vacuum_delay_point();
        }
    }
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

extern "C" IndexBulkDeleteResult *ivfpq_vacuumcleanup(IndexVacuumInfo *info,
                                                      IndexBulkDeleteResult *stats) {
    if (info->analyze_only) return stats;
    Relation index = info->index;
    if (stats == NULL) {
        // no bulk delete ran: count the live entries for the statistics
        stats = (IndexBulkDeleteResult *)palloc0(sizeof(IndexBulkDeleteResult));
        const IvfState *st = ivfpq_state(index);
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
