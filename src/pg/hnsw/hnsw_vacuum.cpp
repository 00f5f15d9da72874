// gv_hnsw VACUUM: remove the nodes of dead tuples and repair the graph
// around them.
//
// ambulkdelete makes three passes over the node pages:
//
//  1. mark: nodes whose heap tuple is dead get the deleted flag (one generic
//     WAL record per node page that changes). Scans stop returning them at
//     once; until pass 2 they still route searches. Nodes a previous VACUUM
//     left deleted (it was cancelled, or vectors span pages, see 3) join the
//     dead set again.
//  2. repair: each live node with a dead neighbour on some level keeps its
//     live neighbours and gives the places of the dead ones to live nodes
//     reached through them (breadth first through dead nodes, so a whole
//     deleted region is bridged), nearest first, with the insert's
//     heuristic test against the neighbours it keeps (Malkov & Yashunin,
//     arXiv:1603.09320, Algorithm 4). Re-selecting whole lists instead lost
//     recall on GloVe-100 (0.977 against 0.996 for a fresh build at ef 320,
//     30% deleted), because it drops links that back-links had added; this
//     way the repaired graph matches a fresh build (0.997). Lists are
//     computed under share locks, one page at a time, and written per node
//     page in one record under an exclusive lock; a list that changed
//     meanwhile (a concurrent insert added a back-link) is only stripped of
//     its dead ids. A dead entry point is replaced by the live node with the
//     highest level.
//     Then every live node that the entry point no longer reaches on level 0
//     gets an in-link from a reached neighbour of its own (ConnectOrphans).
//  3. free: the dead nodes, no longer linked from live ones, go on the meta
//     page's free list (one record per node page: that page and the meta
//     page), and inserts reuse their slots, so an index under churn keeps
//     its size. Vectors that span several pages cannot be rewritten in one
//     record with their slot, so those slots are not freed (REINDEX
//     reclaims them).
//
// The cost follows the work: passes 1 and 3 read each node page once and
// compute nothing; distances are computed in pass 2 only, for the
// neighbourhoods of dead nodes.
//
// Races: an insert that chose its neighbours before pass 1 may still link to
// a node being freed, leaving a stale id in a list. A stale id costs graph
// quality only: a free slot is never traversed, a reused slot is just
// another node, and every result is checked under a share lock before it is
// returned (hnsw_gettuple), so no row comes back with another row's distance.
//
// Locks: one node page at a time, except pass 3, which takes the meta page
// and then a node page, the order inserts use too.
#include "gigavector/hnsw/hnsw_orphans.h"
#include "hnsw/hnsw_page_graph.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include "commands/vacuum.h"
#include "miscadmin.h"
}

using gigavector::Candidate;
using gigavector::NodeId;

namespace {

// A list to repair: its node and level, the list as read, and the new one.
struct RepairItem {
    NodeId id;
    int level;
    int old_count;
    int new_count;
    NodeId old_ids[2 * kHnswMaxM];
    NodeId new_ids[2 * kHnswMaxM];
};

struct VacuumState {
    Relation index;
    HnswLayout layout;
    BufferAccessStrategy strategy;
    uint32 n;     // node ids 0 .. n-1 existed when the vacuum began
    uint8 *dead;  // per node id: in the dead set
    bool spanning;
    // the live node with the highest level (a replacement entry point)
    NodeId top_live;
    int top_level;
    double live;
    double removed;
    uint64 repaired;
    // pass 2 scratch
    HnswPageReader reader;  // its query is the node being repaired
    float *base;
    PgVec<NodeId> cand_ids;
    CandidateVec sorted, selected, pruned;
    PairVectors vectors;  // of the list's members and candidates, for pair distances
    int cand_limit;
};

// Values of VacuumState.dead.
constexpr uint8 kDeadGraphNode = 1;  // a graph node to unlink, then free
constexpr uint8 kDeadToFlag = 2;     // pass 1: flag it deleted
constexpr uint8 kDeadZero = 3;       // a zero vector to take off its chain, then free

bool IsDead(const VacuumState *v, NodeId id) {
    return id < v->n && v->dead[id] == kDeadGraphNode;
}

Buffer ReadNodePage(VacuumState *v, uint32 first) {
    return gv_read_page(v->index, v->layout.NodeBlock(first), kHnswPageNodes, v->strategy);
}

// Pass 1 on one node page: flags the nodes of dead tuples, fills the dead set.
void MarkPage(VacuumState *v, uint32 first, uint32 last, IndexBulkDeleteCallback callback,
              void *callback_state) {
    const HnswLayout &l = v->layout;
    Buffer buf = ReadNodePage(v, first);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    int newly_dead = 0;
    for (uint32 id = first; id < last; id++) {
        HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(id));
        uint8 flags = h->flags;
        if (flags == kNodeValid || flags == kNodeZero) {
            if (callback(&h->heap_tid, callback_state)) {
                v->dead[id] = kDeadToFlag;
                newly_dead++;
            } else {
                v->live++;
                if (flags == kNodeValid && (int)h->level > v->top_level) {
                    v->top_level = h->level;
                    v->top_live = id;
                }
            }
        } else if (flags == (kNodeValid | kNodeDeleted)) {
            v->dead[id] = kDeadGraphNode;  // deleted by an earlier vacuum, not freed
        } else if (flags == (kNodeZero | kNodeDeleted)) {
            v->dead[id] = kDeadZero;
        }
    }
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    if (newly_dead > 0) {
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        GenericXLogState *state = GenericXLogStart(v->index);
        page = GenericXLogRegisterBuffer(state, buf, 0);
        for (uint32 id = first; id < last; id++) {
            if (v->dead[id] != kDeadToFlag) continue;
            HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(id));
            h->flags |= kNodeDeleted;
            v->removed++;
            // a zero vector is on its chain, not in the graph: nothing to repair
            v->dead[id] = (h->flags & kNodeZero) ? kDeadZero : kDeadGraphNode;
        }
        GenericXLogFinish(state);
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    }
    ReleaseBuffer(buf);
}

// Dead nodes a repair walks through at most.
constexpr int kDeadWalk = 32;

// Chooses a new list for item->id on item->level (no lock held on entry).
//
// The live neighbours stay, in their order: re-selecting the whole list
// with the heuristic would drop the links other nodes' back-links had added,
// and measured on GloVe-100 that loses more recall than the dead links cost.
// The places of the dead ones go to the live nodes reached through them
// (breadth first through dead nodes, so a whole deleted region is bridged),
// nearest first, each one only if no kept neighbour is closer to it than the
// node is (the heuristic's test), then the nearest of the rest until the
// list is as long as it was.
void ComputeRepair(VacuumState *v, RepairItem *item) {
    const HnswLayout &l = v->layout;
    HnswPageReader &r = v->reader;

    item->new_count = 0;
    NodeId dead_queue[kDeadWalk];
    int queued = 0;
    for (int i = 0; i < item->old_count; i++) {
        NodeId nb = item->old_ids[i];
        if (!IsDead(v, nb))
            item->new_ids[item->new_count++] = nb;
        else if (queued < kDeadWalk)
            dead_queue[queued++] = nb;
    }
    int kept = item->new_count;
    v->cand_ids.clear();
    int first_hop = queued;
    for (int at = 0; at < queued; at++) {
        // past the dead neighbours themselves, walk on only while candidates
        // are few: a wide deleted region is still crossed (a chain of
        // vectors cut in the middle is joined again), and GloVe-100 with 30%
        // deleted repairs in 0.7x of the build time instead of 1.2x
        if (at >= first_hop && (int)v->cand_ids.size() >= 4 * v->cand_limit) break;
        int k = r.CopyNeighbors(dead_queue[at], item->level);
        for (int j = 0; j < k; j++) {
            NodeId nb = r.ids[j];
            if (nb == item->id) continue;
            if (!IsDead(v, nb)) {
                if (std::find(item->new_ids, item->new_ids + kept, nb) == item->new_ids + kept)
                    v->cand_ids.push_back(nb);
            } else if (queued < kDeadWalk &&
                       std::find(dead_queue, dead_queue + queued, nb) == dead_queue + queued) {
                dead_queue[queued++] = nb;
            }
        }
    }
    std::sort(v->cand_ids.begin(), v->cand_ids.end());
    int count = (int)(std::unique(v->cand_ids.begin(), v->cand_ids.end()) - v->cand_ids.begin());
    if (count == 0) return;

    r.ReadVector(item->id, v->base);
    r.PrepareQuery();
    v->sorted.clear();
    float distances[2 * kHnswMaxM];
    for (int at = 0; at < count; at += 2 * kHnswMaxM) {
        int chunk = count - at < 2 * kHnswMaxM ? count - at : 2 * kHnswMaxM;
        r.Distances(&v->cand_ids[at], chunk, distances);
        for (int i = 0; i < chunk; i++)
            if (std::isfinite(distances[i]))
                v->sorted.push_back({distances[i], v->cand_ids[at + i]});
    }
    std::sort(v->sorted.begin(), v->sorted.end(), gigavector::CloserFromBase{item->id});
    if ((int)v->sorted.size() > v->cand_limit) v->sorted.count = v->cand_limit;

    // the core's selection (hnsw_policy.h), with the live neighbours kept:
    // each candidate joins if no neighbour kept so far is closer to it than
    // the node is, then the nearest of the rest until the list is as long as
    // it was; exact duplicates take at most half the places
    v->selected.clear();
    float kept_distances[2 * kHnswMaxM];
    r.Distances(item->new_ids, kept, kept_distances);
    for (int i = 0; i < kept; i++) v->selected.push_back({kept_distances[i], item->new_ids[i]});
    v->vectors.Clear();
    gigavector::SelectNeighbors(
        v->sorted, item->old_count, item->old_count, gigavector::DuplicateDistance(l.metric),
        [&](NodeId a, NodeId b) { return v->vectors.Distance(r, a, b); }, v->selected, v->pruned);
    item->new_count = 0;
    for (const Candidate &c : v->selected) item->new_ids[item->new_count++] = c.id;
}

// Pass 2 on one node page.
void RepairPage(VacuumState *v, uint32 first, uint32 last, PgVec<RepairItem> &items) {
    const HnswLayout &l = v->layout;
    Buffer buf = ReadNodePage(v, first);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    items.clear();
    for (uint32 id = first; id < last; id++) {
        HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(id));
        if (h->flags != kNodeValid) continue;
        if (!HnswNodeListsInPage(h, l)) {
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            gv_report_corrupted(v->index, BufferGetBlockNumber(buf),
                                "node %u has its upper lists outside the page's list area", id);
        }
        for (int lev = 0; lev <= h->level; lev++) {
            int count = HnswListCount(page, h, l, lev);
            const uint32 *list = HnswListIds(page, h, l, lev);
            bool touched = false;
            for (int i = 0; i < count && !touched; i++) touched = IsDead(v, list[i]);
            if (!touched) continue;
            RepairItem item;
            item.id = id;
            item.level = lev;
            item.old_count = count;
            memcpy(item.old_ids, list, sizeof(NodeId) * count);
            items.push_back(item);
        }
    }
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    if (items.empty()) {
        ReleaseBuffer(buf);
        return;
    }
    for (RepairItem &item : items) {
        ComputeRepair(v, &item);
        CHECK_FOR_INTERRUPTS();
    }

    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    GenericXLogState *state = GenericXLogStart(v->index);
    page = GenericXLogRegisterBuffer(state, buf, 0);
    for (RepairItem &item : items) {
        HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(item.id));
        if (h->flags != kNodeValid || h->level < item.level || !HnswNodeListsInPage(h, l)) continue;
        int count = HnswListCount(page, h, l, item.level);
        const uint32 *list = HnswListIds(page, h, l, item.level);
        bool unchanged =
            count == item.old_count && memcmp(list, item.old_ids, sizeof(NodeId) * count) == 0;
        if (!unchanged) {
            // changed since it was read: keep it, without the dead
            item.new_count = 0;
            for (int i = 0; i < count; i++)
                if (!IsDead(v, list[i])) item.new_ids[item.new_count++] = list[i];
        }
        HnswSetList(page, h, l, item.level, item.new_ids, item.new_count);
        v->repaired++;
    }
    GenericXLogFinish(state);
    UnlockReleaseBuffer(buf);
}

// Between passes 2 and 3: a dead entry point gives way to the highest live node.
void ReplaceEntryPoint(VacuumState *v) {
    Buffer metabuf = gv_read_page(v->index, 0, kHnswPageMeta);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    HnswMeta *meta = hnsw_meta_of(v->index, BufferGetPage(metabuf));
    bool replace = meta->entry_node != gigavector::kNoNode && IsDead(v, meta->entry_node);
    if (replace) {
        GenericXLogState *state = GenericXLogStart(v->index);
        meta = hnsw_meta_of(v->index, GenericXLogRegisterBuffer(state, metabuf, 0));
        meta->entry_node = v->top_live;
        meta->entry_level = v->top_live == gigavector::kNoNode ? -1 : v->top_level;
        GenericXLogFinish(state);
    }
    UnlockReleaseBuffer(metabuf);
}

// The level-0 lists of the index as ConnectUnreached (hnsw_orphans.h) sees
// them: pages read one at a time under share locks, a list written only if
// it still reads as it did (a concurrent insert may have changed it).
struct VacuumLists {
    VacuumState *v;
    NodeId entry;
    uint8 *live;  // per node: a live graph node

    NodeId NodeCount() const { return v->n; }
    NodeId Entry() const { return entry; }
    bool Live(NodeId id) const { return id < v->n && live[id]; }
    int Read(NodeId id, NodeId *out) {
        const HnswLayout &l = v->layout;
        Buffer buf = gv_read_page(v->index, l.NodeBlock(id), kHnswPageNodes, v->strategy);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(id));
        int count = h->flags == kNodeValid ? HnswListCount(page, h, l, 0) : 0;
        memcpy(out, HnswListIds(page, h, l, 0), sizeof(NodeId) * count);
        UnlockReleaseBuffer(buf);
        return count;
    }
    bool Write(NodeId via, const NodeId *before, int before_count, const NodeId *ids, int count) {
        const HnswLayout &l = v->layout;
        Buffer buf = gv_read_page(v->index, l.NodeBlock(via), kHnswPageNodes, v->strategy);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        Page page = BufferGetPage(buf);
        HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(via));
        bool same = h->flags == kNodeValid && HnswListCount(page, h, l, 0) == before_count &&
                    memcmp(HnswListIds(page, h, l, 0), before, sizeof(NodeId) * before_count) == 0;
        if (same) hnsw_write_list(v->index, buf, l, via, 0, ids, count);
        UnlockReleaseBuffer(buf);
        return same;
    }
};
GV_ASSERT_LONGJMP_SAFE(VacuumLists);

// After the repair: every live node must be reachable on level 0 from the
// entry point, or no search finds it. Repairs only ever add live neighbours,
// but a node's in-links may all have come from nodes that died, or a small
// group may only link among itself: the core's ConnectUnreached links each
// such node from a reached neighbour of its own (as CREATE INDEX does after
// linking). Returns how many nodes it connected.
uint32 ConnectOrphans(VacuumState *v) {
    const HnswLayout &l = v->layout;
    const uint32 n = v->n;
    const int maxl = l.MaxNeighbors(0);
    uint8 *live = (uint8 *)palloc_extended(n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    for (uint32 first = 0; first < n; first += (uint32)l.nodes_per_page) {
        uint32 last = std::min(first + (uint32)l.nodes_per_page, n);
        Buffer buf = ReadNodePage(v, first);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        for (uint32 id = first; id < last; id++)
            live[id] = HnswNodeAt(page, l, l.Slot(id))->flags == kNodeValid && !IsDead(v, id);
        UnlockReleaseBuffer(buf);
        vacuum_delay_point();
    }
    HnswMeta meta;
    hnsw_read_meta(v->index, &meta);
    VacuumLists lists{
        v, meta.entry_node < n && live[meta.entry_node] ? meta.entry_node : gigavector::kNoNode,
        live};
    gigavector::OrphanScratch scratch;
    scratch.in_degree =
        (uint16 *)palloc_extended(sizeof(uint16) * (n + 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    scratch.reached = (uint8 *)palloc_extended(n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    scratch.queue = (NodeId *)palloc_extended(sizeof(NodeId) * (n + 1), MCXT_ALLOC_HUGE);
    scratch.list = (NodeId *)palloc(sizeof(NodeId) * maxl);
    scratch.own = (NodeId *)palloc(sizeof(NodeId) * (maxl + 1));
    scratch.rewritten = (NodeId *)palloc(sizeof(NodeId) * maxl);
    uint32 connected = (uint32)gigavector::ConnectUnreached(lists, maxl, scratch);
    pfree(scratch.in_degree);
    pfree(scratch.reached);
    pfree(scratch.queue);
    pfree(live);
    return connected;
}

// Adds to the meta page's deleted and repaired counters, in one record.
void AddVacuumCounters(Relation index, uint64 deleted, uint64 repaired) {
    Buffer metabuf = gv_read_page(index, 0, kHnswPageMeta);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    GenericXLogState *state = GenericXLogStart(index);
    HnswMeta *m = hnsw_meta_of(index, GenericXLogRegisterBuffer(state, metabuf, 0));
    m->deleted += deleted;
    m->repaired += repaired;
    GenericXLogFinish(state);
    UnlockReleaseBuffer(metabuf);
}

// Pass 3 on one node page: its dead nodes go on the free list.
void FreePage(VacuumState *v, uint32 first, uint32 last) {
    const HnswLayout &l = v->layout;
    bool any = false;
    for (uint32 id = first; id < last && !any; id++) any = v->dead[id] == kDeadGraphNode;
    if (!any) return;
    Buffer metabuf = gv_read_page(v->index, 0, kHnswPageMeta);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    Buffer buf = ReadNodePage(v, first);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    GenericXLogState *state = GenericXLogStart(v->index);
    HnswMeta *meta = hnsw_meta_of(v->index, GenericXLogRegisterBuffer(state, metabuf, 0));
    Page page = GenericXLogRegisterBuffer(state, buf, 0);
    for (uint32 id = first; id < last; id++) {
        if (v->dead[id] != kDeadGraphNode) continue;
        HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(id));
        if (h->flags != (kNodeValid | kNodeDeleted) || meta->entry_node == id) continue;
        // level and upper_offset stay: the room for upper lists goes with the slot
        if (l.Sq8() && meta->coded_from != gigavector::kNoNode && id >= meta->coded_from &&
            !h->coded && meta->uncoded_nodes > 0)
            meta->uncoded_nodes--;
        h->flags = kNodeFree;
        ItemPointerSetInvalid(&h->heap_tid);
        h->count0 = 0;
        h->coded = 0;
        HnswChainNext(h) = meta->free_head;
        meta->free_head = id;
        meta->free_count++;
    }
    GenericXLogFinish(state);
    UnlockReleaseBuffer(buf);
    UnlockReleaseBuffer(metabuf);
}

// Takes the dead zero vectors off the zero chain and puts their slots on the
// free list (zero vectors have no vector data, so their slots are reused
// even when vectors span pages). The walk holds the meta page's exclusive
// lock, so no insert pushes onto the chain meanwhile; each unlink is one
// record over the meta page, the predecessor's page and the node's page.
// A scan standing on a node as it is freed sees a slot that is no longer a
// zero vector, and walks the chain again from its head (hnsw_scan.cpp).
void UnlinkDeadZeros(VacuumState *v) {
    const HnswLayout &l = v->layout;
    Buffer metabuf = gv_read_page(v->index, 0, kHnswPageMeta);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    HnswMeta *meta = hnsw_meta_of(v->index, BufferGetPage(metabuf));
    NodeId prev = gigavector::kNoNode;  // the meta page
    NodeId cur = meta->zero_head;
    uint32 steps = meta->node_count + 1;  // a damaged chain must not loop us
    while (cur != gigavector::kNoNode && cur < meta->node_count && steps-- > 0) {
        Buffer curbuf = gv_read_page(v->index, l.NodeBlock(cur), kHnswPageNodes);
        LockBuffer(curbuf, BUFFER_LOCK_EXCLUSIVE);
        HnswNodeHeader *h = HnswNodeAt(BufferGetPage(curbuf), l, l.Slot(cur));
        NodeId next = HnswChainNext(h);
        bool dead =
            cur < v->n && v->dead[cur] == kDeadZero && h->flags == (kNodeZero | kNodeDeleted);
        if (!(h->flags & kNodeZero)) {
            UnlockReleaseBuffer(curbuf);
            break;  // not a zero vector: the chain is damaged; hnsw_check reports it
        }
        if (!dead) {
            UnlockReleaseBuffer(curbuf);
            prev = cur;
            cur = next;
            continue;
        }
        Buffer prevbuf = InvalidBuffer;
        bool same_page = prev != gigavector::kNoNode && l.NodeBlock(prev) == l.NodeBlock(cur);
        if (prev != gigavector::kNoNode && !same_page) {
            prevbuf = gv_read_page(v->index, l.NodeBlock(prev), kHnswPageNodes);
            LockBuffer(prevbuf, BUFFER_LOCK_EXCLUSIVE);
        }
        GenericXLogState *state = GenericXLogStart(v->index);
        HnswMeta *m = hnsw_meta_of(v->index, GenericXLogRegisterBuffer(state, metabuf, 0));
        Page curpage = GenericXLogRegisterBuffer(state, curbuf, 0);
        Page prevpage = BufferIsValid(prevbuf) ? GenericXLogRegisterBuffer(state, prevbuf, 0)
                        : same_page            ? curpage
                                               : NULL;
        if (prevpage == NULL)
            m->zero_head = next;
        else
            HnswChainNext(HnswNodeAt(prevpage, l, l.Slot(prev))) = next;
        HnswNodeHeader *ch = HnswNodeAt(curpage, l, l.Slot(cur));
        ch->flags = kNodeFree;
        ItemPointerSetInvalid(&ch->heap_tid);
        ch->count0 = 0;
        HnswChainNext(ch) = m->free_head;
        m->free_head = cur;
        m->free_count++;
        m->zero_count--;
        GenericXLogFinish(state);
        if (BufferIsValid(prevbuf)) UnlockReleaseBuffer(prevbuf);
        UnlockReleaseBuffer(curbuf);
        meta = hnsw_meta_of(v->index, BufferGetPage(metabuf));
        cur = next;
    }
    UnlockReleaseBuffer(metabuf);
}

}  // namespace

extern "C" IndexBulkDeleteResult *hnsw_bulkdelete(IndexVacuumInfo *info,
                                                  IndexBulkDeleteResult *stats,
                                                  IndexBulkDeleteCallback callback,
                                                  void *callback_state) {
    Relation index = info->index;
    if (stats == NULL) stats = (IndexBulkDeleteResult *)palloc0(sizeof(IndexBulkDeleteResult));
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw vacuum", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    VacuumState *v = (VacuumState *)palloc0(sizeof(VacuumState));
    v->index = index;
    v->layout = hnsw_get_layout(index);
    v->strategy = info->strategy;
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    hnsw_check_node_count(index, v->layout, meta.node_count);
    v->n = meta.node_count;
    v->dead = (uint8 *)palloc_extended(v->n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    v->spanning = v->layout.Spanning();
    v->top_live = gigavector::kNoNode;
    v->top_level = -1;
    const uint32 npg = (uint32)v->layout.nodes_per_page;

    // 1. mark
    for (uint32 first = 0; first < v->n; first += npg) {
        vacuum_delay_point();
        MarkPage(v, first, std::min(first + npg, v->n), callback, callback_state);
    }
    bool any_dead = false, any_dead_zero = false;
    for (uint32 id = 0; id < v->n; id++) {
        any_dead |= v->dead[id] == kDeadGraphNode;
        any_dead_zero |= v->dead[id] == kDeadZero;
    }
    if (any_dead_zero) UnlinkDeadZeros(v);

    if (any_dead) {
        // 2. repair
        v->base = (float *)palloc(sizeof(float) * v->layout.dim);
        v->reader.Init(index, &v->layout, v->base, cxt);
        v->reader.SyncCoding(meta);
        v->reader.node_limit = v->n;
        v->cand_ids.Init(cxt, 256);
        v->sorted.Init(cxt, 256);
        v->pruned.Init(cxt, 256);
        v->selected.Init(cxt, 2 * kHnswMaxM);
        v->cand_limit = std::max(v->layout.ef_construction, 2 * v->layout.m);
        v->vectors.Init(&v->layout, v->cand_limit + 2 * kHnswMaxM + 2);
        PgVec<RepairItem> items;
        items.Init(cxt, 16);
        for (uint32 first = 0; first < v->n; first += npg) {
            vacuum_delay_point();
            RepairPage(v, first, std::min(first + npg, v->n), items);
            // pins are kept per page group; do not let them pile up over the whole index
            v->reader.ReleasePins();
        }
        ReplaceEntryPoint(v);
        ConnectOrphans(v);

        // 3. free
        if (!v->spanning) {
            for (uint32 first = 0; first < v->n; first += npg) {
                vacuum_delay_point();
                FreePage(v, first, std::min(first + npg, v->n));
            }
        }
    } else if (v->n > 0 && meta.entry_node != gigavector::kNoNode) {
        // The table's dead rows were none of this index's (deleted before
        // it was built, say): no list changes, but nodes that inserts left
        // unreachable are reconnected, as a cleanup without a bulk delete
        // does (hnsw_vacuumcleanup).
        v->repaired += ConnectOrphans(v);
    }

    if (v->removed > 0 || v->repaired > 0)
        AddVacuumCounters(index, (uint64)v->removed, v->repaired);
    stats->tuples_removed += v->removed;
    stats->num_index_tuples = v->live;
    stats->num_pages = RelationGetNumberOfBlocks(index);
    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
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
    for (uint32 first = 0; first < meta.node_count; first += (uint32)l->nodes_per_page) {
        uint32 last = first + (uint32)l->nodes_per_page;
        if (last > meta.node_count) last = meta.node_count;
        Buffer buf = gv_read_page(index, l->NodeBlock(first), kHnswPageNodes, info->strategy);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        for (uint32 id = first; id < last; id++) {
            uint8 flags = HnswNodeAt(BufferGetPage(buf), *l, l->Slot(id))->flags;
            if (flags == kNodeValid || flags == kNodeZero) live++;
        }
        UnlockReleaseBuffer(buf);
    }
    stats->num_index_tuples = live;
    stats->num_pages = RelationGetNumberOfBlocks(index);
    // No row was deleted, so no list was repaired; but inserts can leave a
    // rare node whose last in-link a later back-link pushed out (under inner
    // product, where the heuristic keeps dropping small-norm vectors): a
    // VACUUM after inserts (autovacuum runs one after enough of them)
    // reconnects such nodes as one after deletes does.
    if (meta.node_count > 0 && meta.entry_node != gigavector::kNoNode) {
        MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw vacuum cleanup",
                                                  ALLOCSET_DEFAULT_SIZES);
        MemoryContext old = MemoryContextSwitchTo(cxt);
        VacuumState *v = (VacuumState *)palloc0(sizeof(VacuumState));
        v->index = index;
        v->layout = layout_copy;
        v->strategy = info->strategy;
        v->n = meta.node_count;
        v->dead = (uint8 *)palloc_extended(v->n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
        uint32 connected = ConnectOrphans(v);
        MemoryContextSwitchTo(old);
        MemoryContextDelete(cxt);
        if (connected > 0) AddVacuumCounters(index, 0, connected);
    }
    return stats;
}
