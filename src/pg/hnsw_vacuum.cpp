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
#include "hnsw_search.h"

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
    CandidateVec sorted, pruned;
    float *cand_vectors;  // vectors of the nearest candidates, for pair distances
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
    return hnsw_read_page(v->index, v->layout.NodeBlock(first), kHnswPageNodes, v->strategy);
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

// Loads a node's vector for pair distances (decoded codes in coded mode, as
// inserts use; no lock is held by the caller).
void LoadVector(VacuumState *v, NodeId id, float *dst) {
    if (v->layout.use_codes)
        v->reader.ReadVectorUnlocked(id, dst);
    else
        v->reader.ReadVector(id, dst);
}

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
    size_t dim = (size_t)l.dim;

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

    // vectors of the list so far (kept neighbours, then each one added)
    const gigavector::DistanceKernels &kernels = gigavector::ActiveKernels();
    for (int i = 0; i < kept; i++) LoadVector(v, item->new_ids[i], v->cand_vectors + i * dim);
    float *candidate = v->cand_vectors + (size_t)(2 * kHnswMaxM) * dim;
    int target = item->old_count;
    float duplicate = gigavector::DuplicateDistance(l.metric);
    v->pruned.clear();
    for (const Candidate &c : v->sorted) {
        if (item->new_count >= target) break;
        LoadVector(v, c.id, candidate);
        bool good = true;
        if (c.distance > duplicate) {
            for (int i = 0; i < item->new_count && good; i++)
                good =
                    gigavector::IndexDistance(l.metric, kernels, candidate,
                                              v->cand_vectors + (size_t)i * dim, dim) >= c.distance;
        }
        if (!good) {
            v->pruned.push_back(c);
            continue;
        }
        memcpy(v->cand_vectors + (size_t)item->new_count * dim, candidate, sizeof(float) * dim);
        item->new_ids[item->new_count++] = c.id;
    }
    for (int i = 0; i < (int)v->pruned.size() && item->new_count < target; i++)
        item->new_ids[item->new_count++] = v->pruned[i].id;
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
            hnsw_report_corrupted(v->index, BufferGetBlockNumber(buf),
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
    Buffer metabuf = hnsw_read_page(v->index, 0, kHnswPageMeta);
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

// After the repair: every live node must be reachable on level 0 from the
// entry point, or no search finds it. Repairs only ever add live neighbours,
// but a node's in-links may all have come from nodes that died, or a small
// group may only link among itself. This pass reads every node page once,
// keeps the level-0 lists (within maintenance_work_mem; else it only looks
// for nodes without in-links), walks them from the entry point, and links
// each node not reached from a reached neighbour of it (its nearest, else
// the entry point): in a free place of that list, else instead of a member
// that keeps another in-link. Returns how many nodes it connected.
uint32 ConnectOrphans(VacuumState *v) {
    const HnswLayout &l = v->layout;
    const uint32 npp = (uint32)l.nodes_per_page;
    const int maxl = l.MaxNeighbors(0);
    const uint32 n = v->n;
    uint16 *in_degree =
        (uint16 *)palloc_extended(sizeof(uint16) * (n + 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    uint8 *live = (uint8 *)palloc_extended(n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    uint8 *reached = (uint8 *)palloc_extended(n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    uint8 *counts = (uint8 *)palloc_extended(n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    size_t adj_bytes = sizeof(uint32) * (size_t)maxl * (n + 1);
    uint32 *adj = adj_bytes <= (size_t)maintenance_work_mem * 1024
                      ? (uint32 *)palloc_extended(adj_bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM)
                      : NULL;
    for (uint32 first = 0; first < n; first += npp) {
        uint32 last = std::min(first + npp, n);
        Buffer buf = ReadNodePage(v, first);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        for (uint32 id = first; id < last; id++) {
            HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(id));
            if (h->flags != kNodeValid || IsDead(v, id)) continue;
            live[id] = 1;
            int count = HnswListCount(page, h, l, 0);
            const uint32 *list = HnswListIds(page, h, l, 0);
            counts[id] = (uint8)count;
            if (adj) memcpy(adj + (size_t)id * maxl, list, sizeof(uint32) * count);
            for (int i = 0; i < count; i++)
                if (list[i] < n && in_degree[list[i]] < UINT16_MAX) in_degree[list[i]]++;
        }
        UnlockReleaseBuffer(buf);
        vacuum_delay_point();
    }
    HnswMeta meta;
    hnsw_read_meta(v->index, &meta);
    NodeId entry =
        meta.entry_node < n && live[meta.entry_node] ? meta.entry_node : gigavector::kNoNode;
    uint32 *queue =
        adj ? (uint32 *)palloc_extended(sizeof(uint32) * (n + 1), MCXT_ALLOC_HUGE) : NULL;
    // marks what is reachable from start (breadth first over the kept lists)
    auto walk = [&](NodeId start) {
        if (!adj) return;
        uint32 head = 0, tail = 0;
        reached[start] = 1;
        queue[tail++] = start;
        while (head < tail) {
            NodeId cur = queue[head++];
            const uint32 *list = adj + (size_t)cur * maxl;
            for (int i = 0; i < counts[cur]; i++) {
                NodeId nb = list[i];
                if (nb < n && live[nb] && !reached[nb]) {
                    reached[nb] = 1;
                    queue[tail++] = nb;
                }
            }
        }
    };
    if (adj && entry != gigavector::kNoNode) walk(entry);
    auto is_reached = [&](NodeId id) {
        return adj ? reached[id] != 0 : (in_degree[id] > 0 || id == entry);
    };
    uint32 connected = 0;
    NodeId own[2 * kHnswMaxM];
    for (uint32 id = 0; id < n; id++) {
        if (!live[id] || is_reached(id)) continue;
        if (adj && entry == gigavector::kNoNode) break;  // nothing to reach from
        int count = v->reader.CopyNeighbors(id, 0);
        memcpy(own, v->reader.ids, sizeof(NodeId) * count);
        // from a reached neighbour of its own, nearest first, else the entry point
        if (entry != gigavector::kNoNode && count < 2 * kHnswMaxM) own[count++] = entry;
        bool linked = false;
        for (int i = 0; i < count && !linked; i++) {
            NodeId via = own[i];
            if (via >= n || via == id || !live[via] || (adj && !reached[via])) continue;
            Buffer buf = v->reader.NodePage(via);
            LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
            Page page = BufferGetPage(buf);
            HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(via));
            int k = HnswListCount(page, h, l, 0);
            uint32 *list = HnswListIds(page, h, l, 0);
            int place = -1;
            if (h->flags == kNodeValid && k < maxl) {
                place = k;
            } else if (h->flags == kNodeValid) {
                for (int j = k - 1; j >= 0 && place < 0; j--)
                    if (list[j] < n && in_degree[list[j]] >= 2) place = j;
            }
            if (place >= 0) {
                if (place < k && list[place] < n) in_degree[list[place]]--;
                NodeId ids[2 * kHnswMaxM];
                memcpy(ids, list, sizeof(NodeId) * k);
                ids[place] = id;
                int new_count = place < k ? k : k + 1;
                hnsw_write_list(v->index, buf, l, via, 0, ids, new_count);
                if (adj) {
                    memcpy(adj + (size_t)via * maxl, ids, sizeof(uint32) * new_count);
                    counts[via] = (uint8)new_count;
                }
                in_degree[id]++;
                connected++;
                linked = true;
            }
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        }
        if (linked) walk(id);
        CHECK_FOR_INTERRUPTS();
    }
    v->reader.ReleasePins();
    if (adj) pfree(adj);
    if (queue) pfree(queue);
    pfree(in_degree);
    pfree(live);
    pfree(reached);
    pfree(counts);
    return connected;
}

// Pass 3 on one node page: its dead nodes go on the free list.
void FreePage(VacuumState *v, uint32 first, uint32 last) {
    const HnswLayout &l = v->layout;
    bool any = false;
    for (uint32 id = first; id < last && !any; id++) any = v->dead[id] == kDeadGraphNode;
    if (!any) return;
    Buffer metabuf = hnsw_read_page(v->index, 0, kHnswPageMeta);
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
        h->flags = kNodeFree;
        ItemPointerSetInvalid(&h->heap_tid);
        h->count0 = 0;
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
    Buffer metabuf = hnsw_read_page(v->index, 0, kHnswPageMeta);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    HnswMeta *meta = hnsw_meta_of(v->index, BufferGetPage(metabuf));
    NodeId prev = gigavector::kNoNode;  // the meta page
    NodeId cur = meta->zero_head;
    uint32 steps = meta->node_count + 1;  // a damaged chain must not loop us
    while (cur != gigavector::kNoNode && cur < meta->node_count && steps-- > 0) {
        Buffer curbuf = hnsw_read_page(v->index, l.NodeBlock(cur), kHnswPageNodes);
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
            prevbuf = hnsw_read_page(v->index, l.NodeBlock(prev), kHnswPageNodes);
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
    v->spanning = !v->layout.inline_vectors && v->layout.vectors_per_page == 0;
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
        v->cand_limit = std::max(v->layout.ef_construction, 2 * v->layout.m);
        v->cand_vectors = (float *)palloc_extended(
            sizeof(float) * (size_t)v->layout.dim * (2 * kHnswMaxM + 1), MCXT_ALLOC_HUGE);
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
    }

    if (v->removed > 0 || v->repaired > 0) {
        Buffer metabuf = hnsw_read_page(index, 0, kHnswPageMeta);
        LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
        GenericXLogState *state = GenericXLogStart(index);
        HnswMeta *m = hnsw_meta_of(v->index, GenericXLogRegisterBuffer(state, metabuf, 0));
        m->deleted += (uint64)v->removed;
        m->repaired += v->repaired;
        GenericXLogFinish(state);
        UnlockReleaseBuffer(metabuf);
    }
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
        Buffer buf = hnsw_read_page(index, l->NodeBlock(first), kHnswPageNodes, info->strategy);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        for (uint32 id = first; id < last; id++) {
            uint8 flags = HnswNodeAt(BufferGetPage(buf), *l, l->Slot(id))->flags;
            if (flags == kNodeValid || flags == kNodeZero) live++;
        }
        UnlockReleaseBuffer(buf);
    }
    stats->num_index_tuples = live;
    stats->num_pages = RelationGetNumberOfBlocks(index);
    return stats;
}
