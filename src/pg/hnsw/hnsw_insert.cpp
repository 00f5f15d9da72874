// gv_hnsw inserts through pages (Algorithm 1 of Malkov & Yashunin on the
// buffer manager), used by aminsert and by CREATE INDEX once the in-memory
// graph is full.
//
// Steps, each one or more generic WAL records that leave a valid index:
//   1. under the meta page lock: claim the next id, create the group's pages
//      if this is its first node, write the node slot (empty lists) and its
//      vector, bump node_count (meta + node page + vector page: 3 pages);
//   2. with no lock held: search for neighbours as a scan does;
//   3. write the node's own lists (1 page);
//   4. add a back-link on each neighbour's page (1 page each). A full list is
//      re-selected with the heuristic from a copy taken under a share lock,
//      then written only if the list did not change meanwhile (else retry),
//      so no two page locks are ever held at once;
//   5. if the node's level is above the entry point's, make it the entry.
#include "common/index_counters.h"
#include "hnsw/hnsw_page_graph.h"

#include <algorithm>

extern "C" {
#include "common/pg_prng.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
}

using gigavector::Candidate;
using gigavector::NodeId;

namespace {

// Random level of a new node.
int NewLevel(int m) {
    return gigavector::RandomLevel(1.0 - pg_prng_double(&pg_global_prng_state), m);
}

// Makes sure the blocks of id's group exist and are initialised pages of it
// (node pages first, then vector pages), WAL-logging each new page.
void EnsureGroupPages(Relation index, const HnswLayout *l, NodeId id) {
    BlockNumber first = l->GroupStart(id);
    BlockNumber end = first + (BlockNumber)l->group_pages;
    if (RelationGetNumberOfBlocks(index) >= end) return;
    LockRelationForExtension(index, ExclusiveLock);
    while (RelationGetNumberOfBlocks(index) < end) {
        Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        BlockNumber blk = BufferGetBlockNumber(buf);
        GenericXLogState *state = GenericXLogStart(index);
        Page page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
        // (an index reset from its init fork has only the meta page: the
        // quantizer pages come back here too, empty until an insert trains)
        if (blk < l->FirstGroupBlock())
            gv_init_page(page, kHnswPageQuantizer, 0);
        else
            gv_init_page(page, l->IsNodeBlock(blk) ? kHnswPageNodes : kHnswPageVectors,
                         l->GroupOfBlock(blk));
        GenericXLogFinish(state);
        UnlockReleaseBuffer(buf);
    }
    UnlockRelationForExtension(index, ExclusiveLock);
}

// A page of id's group that is still all zeros gets its header before a node
// or vector is written into it. EnsureGroupPages initialises every page it
// adds, but after a crash the file can keep a block whose extension reached
// the disk while the WAL record that initialised it did not: the block exists,
// and it is zeros. Writing into it as is would leave pd_lower above pd_upper,
// which generic WAL cannot log or replay.
// Any other page must be a sound one of its type.
void InitIfNew(Relation index, Buffer buf, Page page, uint16 page_type, const HnswLayout *l,
               NodeId id) {
    if (PageIsNew(page)) {
        gv_init_page(page, page_type, id / l->GroupNodes());
        return;
    }
    const char *problem = gv_page_problem(page, page_type);
    if (problem != NULL) gv_report_corrupted(index, BufferGetBlockNumber(buf), "%s", problem);
}

struct InsertContext {
    Relation index;
    const HnswLayout *l;
    HnswPageReader reader;
    PairVectors decoded;
    CandidateVec results, candidates, entries;
    CandidateVec heuristic_in, heuristic_out, heuristic_pruned;
};

float PairDistance(InsertContext &c, NodeId a, NodeId b) {
    return c.decoded.Distance(c.reader, a, b);
}

// Writes the new node's lists on every level in one WAL record (they are
// all on its own page), before any other node links to it: a node is never
// reachable with an empty list, and no back-link can be overwritten.
void WriteOwnLists(InsertContext &c, NodeId id, int top, NodeId chosen[][2 * kHnswMaxM],
                   const int *counts) {
    Buffer buf = gv_read_page(c.index, c.l->NodeBlock(id), kHnswPageNodes);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    GenericXLogState *state = GenericXLogStart(c.index);
    Page page = GenericXLogRegisterBuffer(state, buf, 0);
    HnswNodeHeader *h = HnswNodeAt(page, *c.l, c.l->Slot(id));
    for (int level = 0; level <= top; level++)
        HnswSetList(page, h, *c.l, level, chosen[level], counts[level]);
    GenericXLogFinish(state);
    UnlockReleaseBuffer(buf);
}

// How many kept members closer than the target a member that left a list
// is offered to (AppendIfRoom each: a page lock, and a WAL record when one
// takes it). On 3000 clustered 32-d rows under inner product, 30% deleted,
// VACUUMed and re-inserted (test/t/003_recall.pl): 1 try left 0-2 nodes
// unreachable per run; 4 left none in 8 runs, with re-inserts 18% slower
// than handing over only the first member that left.
constexpr int kHandOverTries = 4;

// Room for the members one insert's back-links push out on one level: each
// of up to 2m back-links can push out up to 2m - OwnListFill + 1 (9 at m
// 16), so 2 * kHnswMaxM (what it was) could overflow and lose some silently.
constexpr int kMaxDropped = 8 * kHnswMaxM;

// Writes list[0..n) + id as target's list on level (buf exclusively locked;
// n below the list's capacity).
void AppendToList(InsertContext &c, Buffer buf, NodeId target, int level, const uint32 *list, int n,
                  NodeId id) {
    NodeId new_ids[2 * kHnswMaxM];
    memcpy(new_ids, list, sizeof(NodeId) * n);
    new_ids[n] = id;
    hnsw_write_list(c.index, buf, *c.l, target, level, new_ids, n + 1);
}

// Appends `id` to target's list on level if the list has a free place (no
// shrink, so nothing else leaves); false when it has none or cannot take it.
// `id` was read from a list a while ago: VACUUM may have freed its slot
// since and an insert reused it for a node of a lower level, so it is read
// again (unlocked, as the search reads flags) just before it is linked.
bool AppendIfRoom(InsertContext &c, NodeId target, NodeId id, int level) {
    Buffer buf = c.reader.NodePage(target);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    Page page = BufferGetPage(buf);
    HnswNodeHeader *h = HnswNodeAt(page, *c.l, c.l->Slot(target));
    bool done = false;
    if (h->flags == kNodeValid && level <= h->level && HnswNodeListsInPage(h, *c.l)) {
        uint32 *list = HnswListIds(page, h, *c.l, level);
        int n = HnswListCount(page, h, *c.l, level);
        done = std::find(list, list + n, id) != list + n;
        if (!done && n < c.l->MaxNeighbors(level) && c.reader.LiveAtLevelUnlocked(id, level)) {
            AppendToList(c, buf, target, level, list, n, id);
            done = true;
        }
    }
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    return done;
}

// Adds `from` to target's list on level (Algorithm 1's back-links), all
// under an exclusive lock on the target's page, by the core's back-link rule
// (ShrinkList: a full list is chosen again with the heuristic and refilled to
// OwnListFill, as CREATE INDEX does). The vectors it compares are read
// without locks (PairVectors::Load), so no second page lock is taken and no
// concurrent back-link is lost. Returns whether `from` is in the list
// afterwards; with `force` it takes the place of the last neighbour kept.
// The first member that leaves is linked from its witness when `hand_over`
// (a back-link of its own, one step deep); each other one is appended to a
// kept member closer to it than the target that has a free place
// (AppendIfRoom); those left, and the first when its witness does not take
// it, are added to *dropped (capacity kMaxDropped, count in *ndropped)
// for LinkDropped.
bool AddBacklink(InsertContext &c, NodeId target, NodeId from, int level, bool force,
                 bool hand_over, NodeId *dropped, int *ndropped) {
    int max = c.l->MaxNeighbors(level);
    if (target == from) return true;  // a node is never its own neighbour
    Buffer buf = c.reader.NodePage(target);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    Page page = BufferGetPage(buf);
    HnswNodeHeader *h = HnswNodeAt(page, *c.l, c.l->Slot(target));
    if (!(h->flags & kNodeValid) || (h->flags & kNodeDeleted) || level > h->level) {
        // a dead, unlinked or reused slot takes no new links
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        return false;
    }
    if (!HnswNodeListsInPage(h, *c.l)) {
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        gv_report_corrupted(c.index, BufferGetBlockNumber(buf),
                            "node %u has its upper lists outside the page's list area", target);
    }
    uint32 *list = HnswListIds(page, h, *c.l, level);
    int n = HnswListCount(page, h, *c.l, level);
    for (int i = 0; i < n; i++) {
        if (list[i] == from) {
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            return true;
        }
    }
    if (n < max) {
        AppendToList(c, buf, target, level, list, n, from);
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        return true;
    }
    c.heuristic_in.clear();
    c.decoded.Clear();
    c.heuristic_in.push_back({PairDistance(c, target, from), from});
    for (int i = 0; i < n; i++)
        c.heuristic_in.push_back({PairDistance(c, target, list[i]), list[i]});
    std::sort(c.heuristic_in.begin(), c.heuristic_in.end(), gigavector::CloserFromBase{target});
    gigavector::ShrinkResult r = gigavector::ShrinkList(
        c.heuristic_in, from, max, gigavector::OwnListFill(c.l->m, level),
        gigavector::DuplicateDistance(c.l->metric), force,
        [&](NodeId a, NodeId b) { return PairDistance(c, a, b); }, c.heuristic_out,
        c.heuristic_pruned);
    int count = (int)c.heuristic_out.size();
    NodeId new_ids[2 * kHnswMaxM];
    for (int i = 0; i < count; i++) new_ids[i] = c.heuristic_out[i].id;
    if (!r.kept) {  // nothing changes: the newcomer was the one left out
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        return false;
    }
    bool handed = hand_over && r.dropped != gigavector::kNoNode && r.witness != gigavector::kNoNode;
    NodeId left[2 * kHnswMaxM];
    int nleft = 0;
    for (int i = 0; i < n; i++) {
        if (std::find(new_ids, new_ids + count, list[i]) != new_ids + count) continue;
        if (handed && list[i] == r.dropped) continue;
        left[nleft++] = list[i];
    }
    hnsw_write_list(c.index, buf, *c.l, target, level, new_ids, count);
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    // the others that left: each to a kept member closer to it than the
    // target (one that pruned it) with a free place, else to the new node
    for (int i = 0; i < nleft; i++) {
        NodeId d = left[i];
        float from_target = PairDistance(c, target, d);
        bool placed = false;
        for (int j = 0, tries = 0; j < count && !placed && tries < kHandOverTries; j++) {
            NodeId k = new_ids[j];
            if (k != d && k != from && PairDistance(c, d, k) < from_target) {
                tries++;
                placed = AppendIfRoom(c, k, d, level);
            }
        }
        if (!placed && *ndropped < kMaxDropped) dropped[(*ndropped)++] = d;
    }
    // a witness that does not keep it (its own list chose better) hands it
    // on to the new node like the others
    if (handed && !AddBacklink(c, r.witness, r.dropped, level, false, false, dropped, ndropped) &&
        *ndropped < kMaxDropped)
        dropped[(*ndropped)++] = r.dropped;
    return true;
}

// The members that back-links pushed out of full lists each lost an in-link,
// possibly their last one (no search could reach them then). The new node,
// which sits next to the lists they left, links to them from the free places
// of its own list (filled to 3/4 when it was written, so a quarter is free),
// then from the places of its own members that were not pushed out (the
// core's LinkDropped).
void LinkDropped(InsertContext &c, NodeId id, int level, const NodeId *dropped, int ndropped) {
    Buffer buf = c.reader.NodePage(id);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    Page page = BufferGetPage(buf);
    HnswNodeHeader *h = HnswNodeAt(page, *c.l, c.l->Slot(id));
    if (h->flags != kNodeValid || level > h->level || !HnswNodeListsInPage(h, *c.l)) {
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);  // freed meanwhile (or damaged: scans report it)
        return;
    }
    int n = HnswListCount(page, h, *c.l, level);
    NodeId ids[2 * kHnswMaxM];
    memcpy(ids, HnswListIds(page, h, *c.l, level), sizeof(NodeId) * n);
    int count = n;
    int linked = gigavector::LinkDropped(
        id, dropped, ndropped, c.l->MaxNeighbors(level), c.l->MaxNeighbors(level), ids, &count,
        [&](NodeId d) { return c.reader.LiveAtLevelUnlocked(d, level); });
    if (linked > 0) hnsw_write_list(c.index, buf, *c.l, id, level, ids, count);
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
}

// Step 1: claims a slot under the meta page lock - the head of the free list
// when VACUUM has freed slots (not for vectors that span pages: their pages
// could not be rewritten atomically with the slot), else the next new id -
// and writes the node and its vector in one WAL record with the meta page.
// A zero vector (zero = true) goes on the zero chain instead of the graph.
// `coding` (null for a zero vector) is brought in line with the meta page,
// and the index trained when it is untrained and has enough nodes, so the new
// node's codes use the ranges every reader will use for it.
// *level may come back lower: upper lists need room on the node page (a
// reused slot keeps the room its previous node had). Returns the id, and the
// entry point as it was before.
NodeId WriteNewNode(Relation index, const HnswLayout *l, const float *v, ItemPointer heap_tid,
                    bool zero, HnswCoding *coding, int *level, NodeId *entry, int *entry_level) {
    bool spanning = l->Spanning();
    Buffer metabuf = gv_read_page(index, 0, kHnswPageMeta);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    HnswMeta *meta = hnsw_meta_of(index, BufferGetPage(metabuf));
    static HnswCoding uncoded = {gigavector::kNoNode, nullptr, nullptr, 0};
    if (coding == nullptr) {
        coding = &uncoded;
    } else if (l->Sq8()) {
        uint32 graph_nodes = meta->node_count - meta->zero_count - meta->free_count;
        if (meta->coded_from == gigavector::kNoNode && graph_nodes >= kHnswSq8TrainRows) {
            hnsw_train_on_nodes(index, *l, metabuf, coding);
            meta = hnsw_meta_of(index, BufferGetPage(metabuf));
        } else {
            hnsw_sync_coding(index, *l, meta->coded_from, meta->quantizer_checksum, coding);
        }
    }
    NodeId id = gigavector::kNoNode;
    Buffer nodebuf = InvalidBuffer;
    // (a spanning vector's pages could not be rewritten in one record with a
    // reused slot; a zero vector has no vector data, so it may reuse any)
    if (meta->free_head != gigavector::kNoNode && meta->free_head < meta->node_count &&
        (!spanning || zero)) {
        nodebuf = gv_read_page(index, l->NodeBlock(meta->free_head), kHnswPageNodes);
        LockBuffer(nodebuf, BUFFER_LOCK_EXCLUSIVE);
        HnswNodeHeader *h = HnswNodeAt(BufferGetPage(nodebuf), *l, l->Slot(meta->free_head));
        if (h->flags == kNodeFree && HnswNodeListsInPage(h, *l)) {
            id = meta->free_head;
        } else {
            // not a free slot: never follow a list we cannot trust; new ids instead
            UnlockReleaseBuffer(nodebuf);
            nodebuf = InvalidBuffer;
        }
    }
    bool reuse = id != gigavector::kNoNode;
    if (!reuse) {
        id = meta->node_count;
        if (id == gigavector::kNoNode - 1)
            ereport(ERROR,
                    (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("gv_hnsw index is full"),
                     errhint("VACUUM the table to free the slots of deleted rows, or REINDEX.")));
        EnsureGroupPages(index, l, id);
    }

    // the vector: a byte stream over the group's vector pages, on one or two
    // pages (written in this record), or spanning more (written first)
    int voffset = 0, vpages = 0;
    BlockNumber vblock =
        l->F32() || zero ? InvalidBlockNumber : l->VectorBlock(id, &voffset, &vpages);
    if (spanning && !zero) {
        // its pages first, each in its own record (a new id, so nothing can
        // read them until the slot below is written)
        const char *src = (const char *)v;
        size_t left = l->VectorBytes();
        for (int p = 0; p < vpages && left > 0; p++) {
            int start = p == 0 ? voffset : (int)GvPageDataOffset();
            size_t room = (size_t)((int)GvPageDataOffset() + GvPageUsableBytes() - start);
            size_t chunk = left < room ? left : room;
            Buffer vb = ReadBuffer(index, vblock + p);
            LockBuffer(vb, BUFFER_LOCK_EXCLUSIVE);
            GvWalRecord rec(index);
            Page page = rec.Register(vb);
            InitIfNew(index, vb, page, kHnswPageVectors, l, id);
            Page one[1] = {page};
            gv_write_stream(one, start, src, chunk);
            rec.Finish();
            UnlockReleaseBuffer(vb);
            src += chunk;
            left -= chunk;
        }
    }

    if (!reuse) {
        nodebuf = ReadBuffer(index, l->NodeBlock(id));
        LockBuffer(nodebuf, BUFFER_LOCK_EXCLUSIVE);
    }
    Buffer vecbufs[2] = {InvalidBuffer, InvalidBuffer};
    if (BlockNumberIsValid(vblock) && !spanning) {
        for (int p = 0; p < vpages; p++) {
            vecbufs[p] = ReadBuffer(index, vblock + p);
            LockBuffer(vecbufs[p], BUFFER_LOCK_EXCLUSIVE);
        }
    }
    GenericXLogState *state = GenericXLogStart(index);
    Page metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
    Page nodepage = GenericXLogRegisterBuffer(state, nodebuf, 0);
    InitIfNew(index, nodebuf, nodepage, kHnswPageNodes, l, id);
    meta = hnsw_meta_of(index, metapage);
    int slot = l->Slot(id);
    HnswNodeHeader *h = HnswNodeAt(nodepage, *l, slot);
    PageHeader nh = (PageHeader)nodepage;
    uint16 upper_offset = 0;
    int lev = zero ? 0 : *level;
    if (reuse) {
        meta->free_head = HnswChainNext(h);
        meta->free_count--;
        meta->reused++;
        if (h->level > 0 && h->upper_offset != 0) {
            // the room of the previous node's upper lists
            if (lev > h->level) lev = h->level;
            if (lev > 0) upper_offset = h->upper_offset;
        }
    }
    if (lev > 0 && upper_offset == 0) {
        while (lev > 0) {
            int bytes = lev * (int)l->UpperListBytes();
            if ((int)nh->pd_upper - bytes >= (int)HnswNodeOffset(*l, l->nodes_per_page)) {
                nh->pd_upper = (LocationIndex)(nh->pd_upper - bytes);
                upper_offset = nh->pd_upper;
                break;
            }
            lev--;  // no room left on this page for upper lists: a lower level
        }
    }
    if (!hnsw_fill_node(nodepage, *l, *coding, id, heap_tid, lev, upper_offset, zero ? nullptr : v))
        meta->uncoded_nodes++;
    if (zero) {
        h->flags = kNodeZero;
        HnswChainNext(h) = meta->zero_head;
        meta->zero_head = id;
        meta->zero_count++;
    }
    size_t slot_end = HnswNodeOffset(*l, slot + 1);
    if (nh->pd_lower < slot_end) nh->pd_lower = (LocationIndex)slot_end;
    if (BufferIsValid(vecbufs[0])) {
        // (meta, node page and at most two vector pages: generic WAL's limit is four)
        Page vecpages[2];
        for (int p = 0; p < vpages; p++) {
            vecpages[p] = GenericXLogRegisterBuffer(state, vecbufs[p], 0);
            InitIfNew(index, vecbufs[p], vecpages[p], kHnswPageVectors, l, id);
        }
        gv_write_stream(vecpages, voffset, v, l->VectorBytes());
    }
    *entry = meta->entry_node;
    *entry_level = meta->entry_level;
    if (!reuse) meta->node_count = id + 1;
    meta->inserted++;
    if (!zero && *entry == gigavector::kNoNode) {
        meta->entry_node = id;
        meta->entry_level = lev;
    }
    GenericXLogFinish(state);
    for (Buffer vb : vecbufs)
        if (BufferIsValid(vb)) UnlockReleaseBuffer(vb);
    UnlockReleaseBuffer(nodebuf);
    UnlockReleaseBuffer(metabuf);
    *level = lev;
    return id;
}

}  // namespace

void hnsw_insert_zero(Relation index, ItemPointer heap_tid) {
    HnswLayout layout_copy = hnsw_get_layout(index);
    int level = 0, entry_level;
    NodeId entry;
    WriteNewNode(index, &layout_copy, nullptr, heap_tid, true, nullptr, &level, &entry,
                 &entry_level);
}

void hnsw_insert_on_disk(Relation index, const float *v, ItemPointer heap_tid) {
    HnswLayout layout_copy = hnsw_get_layout(index);
    const HnswLayout *l = &layout_copy;
    int level = NewLevel(l->m);
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw insert", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    InsertContext *c = (InsertContext *)palloc0(sizeof(InsertContext));
    c->index = index;
    c->l = l;
    c->reader.Init(index, l, v, cxt);

    // 1. claim a slot, write the node and its vector
    NodeId entry;
    int entry_level;
    NodeId id =
        WriteNewNode(index, l, v, heap_tid, false, &c->reader.coding, &level, &entry, &entry_level);
    if (entry == gigavector::kNoNode) {
        MemoryContextSwitchTo(old);
        MemoryContextDelete(cxt);
        return;
    }
    c->reader.PrepareQuery();
    c->reader.node_limit = id + 1;  // raised from the meta page if a list shows a newer node

    // 2. search for neighbours
    c->decoded.Init(l, l->ef_construction + 2 * l->m + 8);
    c->results.Init(cxt, 128);
    c->candidates.Init(cxt, 128);
    c->entries.Init(cxt, 128);
    c->heuristic_in.Init(cxt, 128);
    c->heuristic_out.Init(cxt, 128);
    c->heuristic_pruned.Init(cxt, 128);
    PageVisited visited;
    InitPageVisited(&visited, cxt, (uint32)(l->ef_construction * l->MaxNeighbors(0)));

    c->reader.CheckEntryPoint(entry, entry_level);
    Candidate cur{c->reader.Distance(entry), entry};
    gigavector::NoVisited none;
    for (int lc = entry_level; lc > level; lc--)
        gigavector::GreedyClosest(c->reader, none, lc, cur);
    c->entries.push_back(cur);
    // 2. neighbours on every level, top-down, before writing anything
    int top = level < entry_level ? level : entry_level;
    NodeId(*chosen)[2 * kHnswMaxM] =
        (NodeId(*)[2 * kHnswMaxM]) palloc(sizeof(NodeId) * 2 * kHnswMaxM * (top + 1));
    int counts[gigavector::kHnswMaxLevel + 1];
    for (int lc = top; lc >= 0; lc--) {
        visited.Reset((size_t)l->ef_construction * l->MaxNeighbors(0));
        visited.Insert(id);
        for (const Candidate &e : c->entries) visited.Insert(e.id);
        gigavector::SearchLayer(c->reader, visited, c->entries, l->ef_construction, lc, c->results,
                                c->candidates);
        // dead nodes still route the search but take no new links: VACUUM
        // is about to unlink them
        // (nor does the node itself: a list that still named its slot's
        // previous node, freed by a concurrent VACUUM, can lead the search
        // to it; seen once in TAP 004 as a node linking to itself)
        c->heuristic_in.clear();
        for (const Candidate &r : c->results)
            if (r.id != id && !(c->reader.FlagsUnlocked(r.id) & kNodeDeleted))
                c->heuristic_in.push_back(r);
        std::sort(c->heuristic_in.begin(), c->heuristic_in.end(), gigavector::CloserFromBase{id});
        c->decoded.Clear();
        c->heuristic_out.clear();
        gigavector::SelectNeighbors(
            c->heuristic_in, l->MaxNeighbors(lc), gigavector::OwnListFill(l->m, lc),
            gigavector::DuplicateDistance(l->metric),
            [&](NodeId a, NodeId b) { return PairDistance(*c, a, b); }, c->heuristic_out,
            c->heuristic_pruned);
        counts[lc] = (int)c->heuristic_out.size();
        for (int i = 0; i < counts[lc]; i++) chosen[lc][i] = c->heuristic_out[i].id;
        // the candidates found on this level seed the next
        c->entries.clear();
        for (const Candidate &r : c->results) c->entries.push_back(r);
        CHECK_FOR_INTERRUPTS();
    }
    // 3. the node's own lists, all at once; 4. back-links, level 0 first
    WriteOwnLists(*c, id, top, chosen, counts);
    for (int lc = 0; lc <= top; lc++) {
        // if every neighbour's heuristic dropped the node, force a link from
        // the nearest, or the node would be unreachable on this level
        bool linked = false;
        NodeId dropped[kMaxDropped];
        int ndropped = 0;
        for (int i = 0; i < counts[lc]; i++)
            linked |= AddBacklink(*c, chosen[lc][i], id, lc, false, true, dropped, &ndropped);
        // (the nearest that takes links: one VACUUM flagged meanwhile does not)
        for (int i = 0; i < counts[lc] && !linked; i++)
            linked = AddBacklink(*c, chosen[lc][i], id, lc, true, true, dropped, &ndropped);
        if (ndropped > 0) LinkDropped(*c, id, lc, dropped, ndropped);
    }
    c->reader.ReleasePins();

    // 5. a new top level makes the node the entry point
    if (level > entry_level) {
        Buffer metabuf = gv_read_page(index, 0, kHnswPageMeta);
        LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
        GenericXLogState *state = GenericXLogStart(index);
        HnswMeta *meta = hnsw_meta_of(index, GenericXLogRegisterBuffer(state, metabuf, 0));
        if (level > meta->entry_level) {
            meta->entry_node = id;
            meta->entry_level = level;
            GenericXLogFinish(state);
        } else {
            GenericXLogAbort(state);
        }
        UnlockReleaseBuffer(metabuf);
    }
    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
}

extern "C" bool hnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
                            Relation heap, IndexUniqueCheck check_unique, bool index_unchanged,
                            IndexInfo *info) {
    (void)heap;
    (void)check_unique;
    (void)index_unchanged;
    (void)info;
    if (isnull[0]) return false;
    HnswLayout layout_copy = hnsw_get_layout(index);
    const HnswLayout *l = &layout_copy;
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv_hnsw aminsert", ALLOCSET_SMALL_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    float *v = (float *)palloc(sizeof(float) * l->dim);
    if (hnsw_prepare_vector(index, values[0], *l, v))
        hnsw_insert_on_disk(index, v, heap_tid);
    else
        hnsw_insert_zero(index, heap_tid);
    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
    gv_counters_count_insert(index);
    return false;
}
