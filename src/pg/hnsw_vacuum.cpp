// gv_hnsw VACUUM.
//
// ambulkdelete marks the nodes of dead heap tuples deleted (one generic WAL
// record per node page that changes). Deleted nodes stay in the graph as
// routing points, so searches pass through them as before and never return
// them; their slots are not reused yet (a REINDEX compacts the index).
// Locks: a share lock to find dead slots, then an exclusive lock on that page
// alone to flag them; never two pages at once.
#include "hnsw_search.h"

extern "C" {
#include "commands/vacuum.h"
}

using gigavector::NodeId;

extern "C" IndexBulkDeleteResult *hnsw_bulkdelete(IndexVacuumInfo *info,
                                                  IndexBulkDeleteResult *stats,
                                                  IndexBulkDeleteCallback callback,
                                                  void *callback_state) {
    Relation index = info->index;
    if (stats == NULL) stats = (IndexBulkDeleteResult *)palloc0(sizeof(IndexBulkDeleteResult));
    HnswLayout layout_copy = hnsw_get_layout(index);
    const HnswLayout *l = &layout_copy;
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    uint32 n = meta.node_count;
    int npg = l->nodes_per_group;
    bool *dead = (bool *)palloc(sizeof(bool) * npg);
    double live = 0, removed = 0;
    for (uint32 first = 0; first < n; first += (uint32)npg) {
        vacuum_delay_point();
        uint32 last = first + (uint32)npg < n ? first + (uint32)npg : n;
        BlockNumber block = l->NodeBlock(first);
        Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, info->strategy);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        int ndead = 0;
        for (uint32 id = first; id < last; id++) {
            HnswNodeHeader *h = HnswNodeAt(page, *l, l->Slot(id));
            dead[id - first] = false;
            if (!(h->flags & kNodeValid) || (h->flags & kNodeDeleted)) continue;
            if (callback(&h->heap_tid, callback_state)) {
                dead[id - first] = true;
                ndead++;
            } else {
                live++;
            }
        }
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        if (ndead > 0) {
            LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
            GenericXLogState *state = GenericXLogStart(index);
            page = GenericXLogRegisterBuffer(state, buf, 0);
            for (uint32 id = first; id < last; id++) {
                if (!dead[id - first]) continue;
                HnswNodeHeader *h = HnswNodeAt(page, *l, l->Slot(id));
                h->flags |= kNodeDeleted;
                removed++;
            }
            GenericXLogFinish(state);
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        }
        ReleaseBuffer(buf);
    }
    if (removed > 0) {
        Buffer metabuf = ReadBuffer(index, 0);
        LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
        GenericXLogState *state = GenericXLogStart(index);
        HnswMeta *m = hnsw_meta_of(GenericXLogRegisterBuffer(state, metabuf, 0));
        m->deleted += (uint64)removed;
        GenericXLogFinish(state);
        UnlockReleaseBuffer(metabuf);
    }
    stats->tuples_removed += removed;
    stats->num_index_tuples = live;
    stats->num_pages = RelationGetNumberOfBlocks(index);
    pfree(dead);
    return stats;
}

// Without a preceding bulkdelete, count the live nodes for the statistics.
extern "C" IndexBulkDeleteResult *hnsw_vacuumcleanup(IndexVacuumInfo *info,
                                                     IndexBulkDeleteResult *stats) {
    if (info->analyze_only) return stats;
    if (stats != NULL) return stats;
    Relation index = info->index;
    stats = (IndexBulkDeleteResult *)palloc0(sizeof(IndexBulkDeleteResult));
    HnswLayout layout_copy = hnsw_get_layout(index);
    const HnswLayout *l = &layout_copy;
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    double live = 0;
    for (uint32 first = 0; first < meta.node_count; first += (uint32)l->nodes_per_group) {
        uint32 last = first + (uint32)l->nodes_per_group;
        if (last > meta.node_count) last = meta.node_count;
        Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, l->NodeBlock(first), RBM_NORMAL,
                                        info->strategy);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        for (uint32 id = first; id < last; id++) {
            HnswNodeHeader *h = HnswNodeAt(BufferGetPage(buf), *l, l->Slot(id));
            if ((h->flags & kNodeValid) && !(h->flags & kNodeDeleted)) live++;
        }
        UnlockReleaseBuffer(buf);
    }
    stats->num_index_tuples = live;
    stats->num_pages = RelationGetNumberOfBlocks(index);
    return stats;
}
