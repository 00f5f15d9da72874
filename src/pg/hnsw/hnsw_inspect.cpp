// gv_hnsw inspection: gigavector.hnsw_stats() and the structural check
// gigavector.hnsw_check().
//
// The check is written for a damaged index: it never trusts a byte it reads.
// Each block is copied out of its buffer inside a subtransaction, so a page
// the buffer manager refuses (a broken header, a checksum failure, a block
// past the end of the file) becomes a problem row, not an ERROR; every
// count, offset, level and id is range-checked before it is used; chains
// are walked with step bounds. It reports one row per problem, each naming
// the block, and returns; no row means the index is sound.
//
// What it checks:
//   meta page      type, magic, version, every field in range, the layout it
//                  describes is one this build produces, the blocks exist;
//   quantizer      page types; trained ranges finite, steps >= 0;
//   node pages     type and group; per slot: flags, level, list counts,
//                  upper lists inside the page, heap TIDs;
//   vectors        every node's vector and heap TID against the slot's
//                  checksum, and sq8 codes against the vector re-encoded;
//   lists          ids in range, no self links, no links to unwritten slots
//                  or zero vectors, neighbours that have the level;
//   chains         free list and zero-vector chain: right kind of slot,
//                  lengths as the meta page says, no loops;
//   entry point    a graph node of the level the meta page says;
//   reachability   every live node reachable from the entry point over
//                  level-0 links (on a sound index without concurrent
//                  writers: see CheckReachable).
//
// It takes AccessShareLock, like a scan; pages are read one at a time, so
// with concurrent inserts a link to a node added meanwhile is checked
// against the node count read again at the end, and a checksum mismatch is
// read again before it is reported.
#include "common/index_provider.h"
#include "gigavector/hnsw/hnsw_orphans.h"
#include "hnsw/hnsw_page_graph.h"

#include <cmath>

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(gv_hnsw_check);
PG_FUNCTION_INFO_V1(gv_hnsw_stats);
}

using gigavector::NodeId;

namespace {

struct Check {
    GvProblems problems;
    Relation index;
    BlockNumber nblocks;
    HnswLayout l;
    HnswMeta meta;
    uint32 n;    // nodes whose blocks exist
    char *page;  // the block last copied
    BlockNumber page_block;
    char *vpage;  // the vector page last copied (ReadVectorCopy)
    BlockNumber vpage_block;
    bool vpage_ok;
    BlockNumber last_bad_vector_block;
    // the shape, for index_info
    uint32 level_nodes[gigavector::kHnswMaxLevel + 1];  // live graph nodes by top level
    uint32 degree0[2 * kHnswMaxM + 1];                  // live graph nodes by level-0 count
    uint32 live, deleted, free_slots, zeros;
    int64 unreached;  // -1: reachability not checked
};

#define Problem(c, ...) gv_problem(&(c)->problems, __VA_ARGS__)

bool CopyBlock(Check *c, BlockNumber block, char *dst) {
    return gv_copy_block(c->index, block, c->nblocks, dst, &c->problems);
}

// Copies a block into c->page and checks its header and type; reports and
// returns false when it is not a sound page of page_type.
bool ReadPage(Check *c, BlockNumber block, uint16 page_type, const char *what) {
    c->page_block = InvalidBlockNumber;
    if (!CopyBlock(c, block, c->page)) return false;
    const char *problem = gv_page_problem((Page)c->page, page_type);
    if (problem != NULL) {
        Problem(c, "block %u (%s): %s", block, what, problem);
        return false;
    }
    c->page_block = block;
    return true;
}

// The meta page: returns false when it cannot be used to read the rest.
bool CheckMeta(Check *c) {
    if (!ReadPage(c, 0, kHnswPageMeta, "meta page")) return false;
    HnswMeta *meta = (HnswMeta *)(c->page + GvPageDataOffset());
    const char *problem = hnsw_meta_problem(meta);
    if (problem != NULL) {
        Problem(c, "block 0 (meta page): %s", problem);
        return false;
    }
    if (meta->version != kHnswVersion) {
        Problem(c, "block 0 (meta page): on-disk version %u, this build reads %u; REINDEX",
                meta->version, kHnswVersion);
        return false;
    }
    c->meta = *meta;
    if (!hnsw_layout_from_meta(*meta, &c->l)) {
        Problem(c,
                "block 0 (meta page): the page layout it describes is not the one %d "
                "dimensions and m = %d give",
                meta->dim, meta->m);
        return false;
    }
    const HnswLayout &l = c->l;
    if ((int)meta->metric != (int)gv_index_metric(c->index))
        Problem(c, "block 0 (meta page): metric %u, the operator class says %d", meta->metric,
                (int)gv_index_metric(c->index));
    c->n = meta->node_count;
    if (c->n > 0) {
        BlockNumber needed = l.GroupStart(c->n - 1) + (BlockNumber)l.group_pages;
        if (c->nblocks < needed) {
            Problem(c, "block 0 (meta page): %u nodes need %u blocks, the index has %u", c->n,
                    needed, c->nblocks);
            // check the nodes whose groups exist
            uint32 groups = c->nblocks > l.FirstGroupBlock()
                                ? (c->nblocks - l.FirstGroupBlock()) / (uint32)l.group_pages
                                : 0;
            c->n = groups * l.GroupNodes() < c->n ? groups * l.GroupNodes() : c->n;
        }
    }
    return true;
}

// Quantizer pages; fills the ranges and coded dimensions of `coding` when
// the index is trained.
bool CheckQuantizer(Check *c, HnswCoding *coding) {
    float *ranges = coding->ranges;
    const HnswLayout &l = c->l;
    bool ok = true;
    size_t want = 2 * l.VectorBytes(), got = 0;
    int usable = GvPageUsableBytes();
    for (int p = 0; p < l.quantizer_pages; p++) {
        if (!ReadPage(c, 1 + p, kHnswPageQuantizer, "quantizer page")) {
            ok = false;
            continue;
        }
        size_t chunk = want - got < (size_t)usable ? want - got : (size_t)usable;
        memcpy((char *)ranges + got, c->page + GvPageDataOffset(), chunk);
        got += chunk;
    }
    if (!ok || c->meta.coded_from == gigavector::kNoNode) return false;
    if (hnsw_ranges_checksum(ranges, l.dim) != c->meta.quantizer_checksum) {
        Problem(c, "blocks 1 .. %d (quantizer pages): the sq8 ranges do not match their checksum",
                l.quantizer_pages);
        return false;
    }
    for (int i = 0; i < l.dim; i++) {
        float lo = ranges[i], step = ranges[l.dim + i];
        if (!std::isfinite(lo) || !std::isfinite(step) || step < 0.0f) {
            Problem(c, "block %d (quantizer page): dimension %d has range lo %g, step %g", 1, i + 1,
                    (double)lo, (double)step);
            return false;
        }
    }
    bool fits = hnsw_set_coded_dims(l, coding);
    if (!fits || coding->coded != c->meta.coded_dims) {
        Problem(c,
                "blocks 1 .. %d (quantizer pages): the sq8 ranges code %u dimensions; the meta "
                "page says %u, and a slot holds %d",
                l.quantizer_pages, coding->coded, (unsigned)c->meta.coded_dims, l.code_bytes);
        return false;
    }
    return true;
}

// Copies id's full vector from its vector page(s), reusing the last page
// copied; false (reported once per block) when a page is unsound.
bool ReadVectorCopy(Check *c, NodeId id, float *out) {
    const HnswLayout &l = c->l;
    int offset, pages;
    BlockNumber block = l.VectorBlock(id, &offset, &pages);
    char *to = (char *)out;
    size_t bytes = l.VectorBytes();
    int usable = GvPageUsableBytes();
    for (BlockNumber p = 0; bytes > 0; p++) {
        BlockNumber b = block + p;
        if (b != c->vpage_block) {
            c->vpage_block = b;
            c->vpage_ok = CopyBlock(c, b, c->vpage);
            if (c->vpage_ok) {
                const char *problem = gv_page_problem((Page)c->vpage, kHnswPageVectors);
                if (problem != NULL) {
                    Problem(c, "block %u (vector page): %s", b, problem);
                    c->vpage_ok = false;
                }
            }
            if (!c->vpage_ok) c->last_bad_vector_block = b;
        }
        if (!c->vpage_ok) return false;
        int start = p == 0 ? offset : (int)GvPageDataOffset();
        size_t room = (size_t)(GvPageDataOffset() + usable - start);
        size_t chunk = bytes < room ? bytes : room;
        memcpy(to, c->vpage + start, chunk);
        to += chunk;
        bytes -= chunk;
    }
    return true;
}

// Per node, what pass 1 learned.
struct NodeFacts {
    uint8 *flags;  // 0xff: its page could not be read
    uint8 *levels;
    uint32 *chain_next;  // free list / zero chain successor
    bool *lists_ok;      // lists may be read (level and upper lists sound)
};
constexpr uint8 kUnreadable = 0xff;

bool KnownFlags(uint8 f) {
    return f == 0 || f == kNodeValid || f == (kNodeValid | kNodeDeleted) || f == kNodeFree ||
           f == kNodeZero || f == (kNodeZero | kNodeDeleted);
}

// Verifies one node's vector and TID against its checksum, and its codes
// against the vector re-encoded. `node` is a copy of its slot.
void CheckNodeData(Check *c, NodeId id, BlockNumber block, const HnswNodeHeader *node,
                   const HnswCoding &coding, bool coded, float *v, uint8 *codes) {
    const HnswLayout &l = c->l;
    uint8 flags = node->flags;
    if (flags & kNodeZero) {
        if (node->checksum != hnsw_node_checksum(&node->heap_tid, nullptr, l.dim))
            Problem(c, "block %u: zero-vector node %u: heap TID does not match its checksum", block,
                    id);
        return;
    }
    if (!(flags & kNodeValid)) return;
    // where the vector is: in the slot, or on its vector page(s)
    char where[64];
    if (l.F32()) {
        memcpy(v, HnswInlineVector((HnswNodeHeader *)node, l), l.VectorBytes());
        snprintf(where, sizeof(where), "block %u", block);
    } else {
        int offset, pages;
        BlockNumber vblock = l.VectorBlock(id, &offset, &pages);
        if (!ReadVectorCopy(c, id, v)) return;  // its vector page is reported
        snprintf(where, sizeof(where), "block %u (slot on block %u)", vblock, block);
    }
    for (int i = 0; i < l.dim; i++) {
        if (!std::isfinite(v[i])) {
            Problem(c, "%s: node %u: vector element %d is not finite", where, id, i + 1);
            return;
        }
    }
    if (node->checksum != hnsw_node_checksum(&node->heap_tid, v, l.dim)) {
        Problem(c, "%s: node %u: vector or heap TID does not match its checksum", where, id);
        return;
    }
    if (!(coded && l.Sq8() && id >= c->meta.coded_from)) {
        if (node->coded != 0)
            Problem(c, "block %u: node %u is marked coded, but the index has no codes for it",
                    block, id);
        return;
    }
    bool represented = gigavector::Sq8Encode(v, coding.Ranges(l), codes);
    if (node->coded > 1) {
        Problem(c, "block %u: node %u has coded flag %u", block, id, (unsigned)node->coded);
    } else if (node->coded == 0) {
        // a node the ranges represent is always written with codes
        if (represented)
            Problem(c, "block %u: node %u has no codes, but the ranges represent its vector", block,
                    id);
    } else if (!represented) {
        Problem(c, "block %u: node %u is marked coded, but the ranges miss its vector", block, id);
    } else if (memcmp(codes, HnswCodes((HnswNodeHeader *)node, l), coding.coded) != 0) {
        Problem(c, "block %u: node %u: sq8 codes do not match its vector", block, id);
    }
}

// Pass 1: node pages, slot by slot.
void CheckNodes(Check *c, NodeFacts *f, const HnswCoding &coding, bool coded) {
    const HnswLayout &l = c->l;
    float *v = (float *)palloc(l.VectorBytes());
    uint8 *codes = (uint8 *)palloc(l.dim);
    char *slot = (char *)palloc(l.node_size);
    size_t list_area = HnswNodeOffset(l, l.nodes_per_page);
    for (uint32 first = 0; first < c->n; first += (uint32)l.nodes_per_page) {
        uint32 last = first + (uint32)l.nodes_per_page < c->n ? first + l.nodes_per_page : c->n;
        BlockNumber block = l.NodeBlock(first);
        CHECK_FOR_INTERRUPTS();
        if (!ReadPage(c, block, kHnswPageNodes, "node page")) {
            for (uint32 id = first; id < last; id++) f->flags[id] = kUnreadable;
            continue;
        }
        Page page = (Page)c->page;
        uint32 group = ((GvPageOpaque *)PageGetSpecialPointer(page))->group;
        if (group != first / l.GroupNodes())
            Problem(c, "block %u (node page): group %u, its place says %u", block, group,
                    first / l.GroupNodes());
        if (((PageHeader)page)->pd_lower < list_area && ((PageHeader)page)->pd_upper < list_area)
            Problem(c, "block %u (node page): upper lists overlap the slots", block);
        for (uint32 id = first; id < last; id++) {
            HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(id));
            f->flags[id] = h->flags;
            f->levels[id] = h->level;
            f->chain_next[id] = HnswChainNext(h);
            f->lists_ok[id] = false;
            if (!KnownFlags(h->flags)) {
                Problem(c, "block %u: node %u has flags 0x%02x", block, id, h->flags);
                f->flags[id] = kUnreadable;
                continue;
            }
            if ((h->flags & (kNodeValid | kNodeZero)) && !ItemPointerIsValid(&h->heap_tid))
                Problem(c, "block %u: node %u has an invalid heap TID", block, id);
            else if (h->flags == kNodeValid || h->flags == kNodeZero)
                gv_problem_entry(&c->problems, &h->heap_tid);
            if (h->flags == kNodeZero) c->zeros++;
            if (h->flags & kNodeDeleted) c->deleted++;
            if (h->flags == kNodeFree) c->free_slots++;
            if (h->flags == kNodeValid && h->level <= gigavector::kHnswMaxLevel) {
                c->live++;
                c->level_nodes[h->level]++;
                if (h->count0 <= 2 * kHnswMaxM) c->degree0[h->count0]++;
            }
            if (!(h->flags & kNodeValid)) {
                memcpy(slot, h, l.node_size);
                CheckNodeData(c, id, block, (HnswNodeHeader *)slot, coding, coded, v, codes);
                continue;
            }
            if (h->level > gigavector::kHnswMaxLevel) {
                Problem(c, "block %u: node %u has level %d, above the highest, %d", block, id,
                        h->level, gigavector::kHnswMaxLevel);
                continue;
            }
            if (!HnswNodeListsInPage(h, l)) {
                Problem(c,
                        "block %u: node %u has level %d with upper lists at offset %u, "
                        "outside the page's list area",
                        block, id, h->level, h->upper_offset);
                continue;
            }
            bool counts_ok = true;
            if (h->count0 > l.MaxNeighbors(0)) {
                Problem(c, "block %u: node %u has %u level-0 neighbours, at most %d", block, id,
                        (unsigned)h->count0, l.MaxNeighbors(0));
                counts_ok = false;
            }
            for (int lev = 1; lev <= h->level; lev++) {
                uint32 count = HnswUpperList(page, h, l, lev)[0];
                if (count > (uint32)l.MaxNeighbors(lev)) {
                    Problem(c, "block %u: node %u has %u neighbours on level %d, at most %d", block,
                            id, count, lev, l.MaxNeighbors(lev));
                    counts_ok = false;
                }
            }
            f->lists_ok[id] = counts_ok;
            memcpy(slot, h, l.node_size);
            // (the vector pages may be copied meanwhile: c->page is reread below)
            CheckNodeData(c, id, block, (HnswNodeHeader *)slot, coding, coded, v, codes);
        }
    }
    pfree(v);
    pfree(codes);
    pfree(slot);
}

// Pass 2: the neighbour lists. `final_n` is the node count read again at
// the end, for links to nodes added while the check ran.
void CheckLists(Check *c, const NodeFacts *f, uint32 final_n) {
    const HnswLayout &l = c->l;
    NodeId list[2 * kHnswMaxM];
    for (uint32 first = 0; first < c->n; first += (uint32)l.nodes_per_page) {
        uint32 last = first + (uint32)l.nodes_per_page < c->n ? first + l.nodes_per_page : c->n;
        bool any = false;
        for (uint32 id = first; id < last && !any; id++) any = f->lists_ok[id];
        if (!any) continue;
        BlockNumber block = l.NodeBlock(first);
        CHECK_FOR_INTERRUPTS();
        if (!ReadPage(c, block, kHnswPageNodes, "node page")) continue;
        Page page = (Page)c->page;
        for (uint32 id = first; id < last; id++) {
            if (!f->lists_ok[id]) continue;
            HnswNodeHeader *h = HnswNodeAt(page, l, l.Slot(id));
            // changed since pass 1 (a concurrent insert or vacuum): skip it
            if (h->flags != f->flags[id] || h->level != f->levels[id] || !HnswNodeListsInPage(h, l))
                continue;
            for (int lev = 0; lev <= h->level; lev++) {
                int count = HnswListCount(page, h, l, lev);
                memcpy(list, HnswListIds(page, h, l, lev), sizeof(NodeId) * count);
                for (int i = 0; i < count; i++) {
                    NodeId nb = list[i];
                    if (nb >= c->n) {
                        if (nb >= final_n)
                            Problem(c,
                                    "block %u: node %u links to node %u on level %d, beyond the "
                                    "%u nodes",
                                    block, id, nb, lev, final_n);
                    } else if (nb == id) {
                        Problem(c, "block %u: node %u links to itself on level %d", block, id, lev);
                    } else if (f->flags[nb] == kUnreadable) {
                        // its page or slot is reported
                    } else if (f->flags[nb] == 0) {
                        Problem(c, "block %u: node %u links to unwritten node %u on level %d",
                                block, id, nb, lev);
                    } else if (f->flags[nb] & kNodeZero) {
                        Problem(c, "block %u: node %u links to zero-vector node %u on level %d",
                                block, id, nb, lev);
                    } else if ((f->flags[nb] & kNodeValid) && f->levels[nb] < lev) {
                        Problem(c,
                                "block %u: node %u links to node %u on level %d, which only has "
                                "level %d",
                                block, id, nb, lev, f->levels[nb]);
                    }
                    // a link to a free slot is not a problem: an insert racing
                    // with VACUUM can leave one, and scans skip free slots
                }
            }
        }
    }
}

// The free list and the zero chain: right kinds of slot, right lengths, no loops.
void CheckChains(Check *c, const NodeFacts *f) {
    struct Chain {
        const char *name;
        uint32 head, expected;
        uint8 kind_mask, kind;
    } chains[2] = {
        {"free list", c->meta.free_head, c->meta.free_count, 0xff, kNodeFree},
        {"zero-vector chain", c->meta.zero_head, c->meta.zero_count, kNodeZero, kNodeZero}};
    for (const Chain &ch : chains) {
        uint32 length = 0;
        bool broken = false;
        for (uint32 id = ch.head; id != gigavector::kNoNode; length++) {
            if (id < c->n && f->flags[id] == kUnreadable) {
                broken = true;  // its page or slot is reported
                break;
            }
            if (id >= c->n || (f->flags[id] & ch.kind_mask) != ch.kind || length > c->n) {
                Problem(c, "%s reaches node %u, which is not on it (flags 0x%02x)", ch.name, id,
                        id < c->n ? f->flags[id] : 0);
                broken = true;
                break;
            }
            id = f->chain_next[id];
        }
        if (!broken && length != ch.expected)
            Problem(c, "%s has %u nodes, the meta page says %u", ch.name, length, ch.expected);
    }
}

void CheckEntry(Check *c, const NodeFacts *f) {
    const HnswMeta &meta = c->meta;
    bool any_graph_node = false, any_live = false;
    for (uint32 id = 0; id < c->n; id++) {
        any_graph_node |= f->flags[id] != kUnreadable && (f->flags[id] & kNodeValid);
        any_live |= f->flags[id] == kNodeValid;
    }
    if (meta.entry_node == gigavector::kNoNode) {
        if (any_graph_node && meta.entry_level != -1)
            Problem(c, "block 0 (meta page): no entry point, but entry level %d", meta.entry_level);
        // every graph node deleted and the entry cleared by VACUUM is fine;
        // a live node without an entry point is not
        if (any_live) Problem(c, "block 0 (meta page): live nodes but no entry point");
    } else if (meta.entry_node < c->n && f->flags[meta.entry_node] == kUnreadable) {
        // its page or slot is reported
    } else if (meta.entry_node >= c->n || !(f->flags[meta.entry_node] & kNodeValid)) {
        Problem(c, "block 0 (meta page): entry point %u is not a graph node", meta.entry_node);
    } else if (f->levels[meta.entry_node] != meta.entry_level) {
        Problem(c, "block 0 (meta page): entry point %u has level %d, the meta page says %d",
                meta.entry_node, f->levels[meta.entry_node], meta.entry_level);
    }
}

// Level-0 lists held in memory for the reachability pass, as MarkReached
// reads a graph.
struct HeldLists {
    uint32 n;
    int max;
    const uint8 *flags;
    const uint8 *counts;
    const NodeId *ids;  // n * max
    NodeId NodeCount() const { return n; }
    // walked through: graph nodes, deleted ones too (scans pass through them)
    bool Live(NodeId id) const { return (flags[id] & kNodeValid) && flags[id] != kUnreadable; }
    int Read(NodeId id, NodeId *out) const {
        memcpy(out, ids + (size_t)id * max, sizeof(NodeId) * counts[id]);
        return counts[id];
    }
};

constexpr int kMaxUnreachableRows = 10;

// Pass 5: every live node is reachable from the entry point over level-0
// links (a search with an unbounded candidate list would find it). Runs only
// on an index the passes before found sound, and only when no one writes
// to it: a ShareLock on its table (every index write comes from a table
// write, which holds RowExclusiveLock, or from VACUUM, which holds
// ShareUpdateExclusiveLock), taken without waiting, makes the lists one
// consistent graph; a write that starts meanwhile waits for one read of the
// node pages. With concurrent writers the pass is skipped with a NOTICE, as
// it is on a standby and when the lists do not fit in memory.
void CheckReachable(Check *c) {
    if (c->problems.count > 0) return;
    if (RecoveryInProgress()) {
        // replay changes pages without the locks that would make them one graph
        ereport(NOTICE, (errmsg("hnsw_check: reachability not checked on a standby"),
                         errhint("Run it on the primary.")));
        return;
    }
    Oid heap = c->index->rd_index->indrelid;
    if (!ConditionalLockRelationOid(heap, ShareLock)) {
        ereport(NOTICE, (errmsg("hnsw_check: reachability not checked, \"%s\" has concurrent "
                                "writers",
                                RelationGetRelationName(c->index)),
                         errhint("Run it again when no insert or VACUUM is running.")));
        return;
    }
    const HnswLayout &l = c->l;
    HeldLists g;
    g.max = l.MaxNeighbors(0);
    if (!ReadPage(c, 0, kHnswPageMeta, "meta page")) {
        UnlockRelationOid(heap, ShareLock);
        return;
    }
    HnswMeta meta = *(const HnswMeta *)(c->page + GvPageDataOffset());
    if (hnsw_meta_problem(&meta) != NULL || meta.node_count > c->n) {
        // grown since the first pass (before the lock): its new blocks are unchecked
        UnlockRelationOid(heap, ShareLock);
        ereport(NOTICE, (errmsg("hnsw_check: reachability not checked, \"%s\" grew during "
                                "the check",
                                RelationGetRelationName(c->index)),
                         errhint("Run it again when no insert or VACUUM is running.")));
        return;
    }
    g.n = meta.node_count;
    size_t n1 = (size_t)g.n + 1;
    int flags = MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM;
    uint8 *node_flags = (uint8 *)palloc_extended(n1, flags | MCXT_ALLOC_ZERO);
    uint8 *counts = (uint8 *)palloc_extended(n1, flags | MCXT_ALLOC_ZERO);
    NodeId *ids = (NodeId *)palloc_extended(sizeof(NodeId) * n1 * g.max, flags);
    uint8 *reached = (uint8 *)palloc_extended(n1, flags | MCXT_ALLOC_ZERO);
    NodeId *queue = (NodeId *)palloc_extended(sizeof(NodeId) * n1, flags);
    NodeId list[2 * kHnswMaxM];
    if (!node_flags || !counts || !ids || !reached || !queue) {
        UnlockRelationOid(heap, ShareLock);
        ereport(NOTICE, (errmsg("hnsw_check: reachability not checked, the level-0 lists of %u "
                                "nodes do not fit in memory",
                                g.n)));
        return;
    }
    bool sound = meta.entry_node != gigavector::kNoNode && meta.entry_node < g.n;
    for (uint32 first = 0; first < g.n && sound; first += (uint32)l.nodes_per_page) {
        uint32 last = first + (uint32)l.nodes_per_page < g.n ? first + l.nodes_per_page : g.n;
        CHECK_FOR_INTERRUPTS();
        if (!ReadPage(c, l.NodeBlock(first), kHnswPageNodes, "node page")) {
            sound = false;
            break;
        }
        for (uint32 id = first; id < last; id++) {
            const HnswNodeHeader *h = HnswNodeAt((Page)c->page, l, l.Slot(id));
            node_flags[id] = KnownFlags(h->flags) ? h->flags : kUnreadable;
            if (!(h->flags & kNodeValid) || h->count0 > g.max) continue;
            counts[id] = h->count0;
            memcpy(ids + (size_t)id * g.max, HnswListIds((Page)c->page, (HnswNodeHeader *)h, l, 0),
                   sizeof(NodeId) * h->count0);
        }
    }
    UnlockRelationOid(heap, ShareLock);
    if (!sound || !(node_flags[meta.entry_node] & kNodeValid)) return;  // reported before
    g.flags = node_flags;
    g.counts = counts;
    g.ids = ids;
    NodeId marked = gigavector::MarkReached(g, meta.entry_node, reached, queue, list);
    uint32 unreached = 0, live = 0;
    c->unreached = 0;
    for (uint32 id = 0; id < g.n; id++) {
        if (node_flags[id] != kNodeValid) continue;
        live++;
        if (reached[id]) continue;
        c->unreached++;
        if (++unreached <= kMaxUnreachableRows)
            Problem(c,
                    "block %u: node %u is not reachable from the entry point %u over level-0 "
                    "links: no search finds its row; REINDEX rebuilds the graph",
                    l.NodeBlock(id), id, meta.entry_node);
    }
    if (unreached > kMaxUnreachableRows)
        Problem(c, "%u more nodes are not reachable (%u of %u live nodes; %u reached)",
                unreached - kMaxUnreachableRows, unreached, live, (uint32)marked);
    pfree(node_flags);
    pfree(counts);
    pfree(ids);
    pfree(reached);
    pfree(queue);
}

}  // namespace

// gigavector.hnsw_stats(index): the meta page's counters and the layout, one
// row, without reading more than the meta page.
extern "C" Datum gv_hnsw_stats(PG_FUNCTION_ARGS) {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "hnsw_stats must return a composite type");
    Relation index = gv_open_index_for_inspection(PG_GETARG_OID(0), "gv_hnsw");
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    BlockNumber pages = RelationGetNumberOfBlocks(index);
    relation_close(index, AccessShareLock);
    const char *storage = meta.storage == (uint8)gigavector::HnswStorage::kF32   ? "f32"
                          : meta.storage == (uint8)gigavector::HnswStorage::kSq8 ? "sq8"
                                                                                 : "vector pages";
    Datum values[19];
    bool nulls[19] = {false};
    values[0] = Int32GetDatum(meta.dim);
    values[1] = CStringGetTextDatum(storage);
    values[2] = Int32GetDatum(meta.m);
    values[3] = Int32GetDatum(meta.ef_construction);
    values[4] = Int64GetDatum((int64)meta.node_count);
    values[5] = Int64GetDatum((int64)meta.free_count);
    values[6] = Int64GetDatum((int64)meta.zero_count);
    values[7] = Int32GetDatum(meta.entry_level);
    values[8] = Int64GetDatum((int64)meta.inserted);
    values[9] = Int64GetDatum((int64)meta.deleted);
    values[10] = Int64GetDatum((int64)meta.reused);
    values[11] = Int64GetDatum((int64)meta.repaired);
    values[12] = Int64GetDatum((int64)pages);
    bool coded = meta.storage == (uint8)gigavector::HnswStorage::kSq8 &&
                 meta.coded_from != gigavector::kNoNode;
    values[13] = Int64GetDatum((int64)meta.trained_rows);
    values[14] = Int64GetDatum((int64)meta.coded_from);
    values[15] = Int64GetDatum((int64)meta.uncoded_nodes);
    nulls[13] = nulls[14] = nulls[15] = !coded;
    values[16] = Int32GetDatum(meta.calibrated_ef);
    values[17] = Float8GetDatum(meta.calibration_recall / 10000.0);
    nulls[16] = nulls[17] = meta.calibrated_ef == 0;
    values[18] = Int32GetDatum(meta.coded_dims);
    nulls[18] = !coded;
    desc = BlessTupleDesc(desc);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

namespace {

// The structural check of an open index (see the top of this file); the
// shape it met is left in c.
void HnswCheckIndex(Check *c) {
    c->nblocks = RelationGetNumberOfBlocks(c->index);
    c->page = (char *)palloc(BLCKSZ);
    c->vpage = (char *)palloc(BLCKSZ);
    c->vpage_block = c->last_bad_vector_block = InvalidBlockNumber;
    c->unreached = -1;
    if (!c->index->rd_index->indisvalid)
        Problem(c,
                "the index is not valid: a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY "
                "failed or was cancelled; drop it or REINDEX INDEX it");
    if (c->nblocks == 0) {
        if (c->index->rd_index->indisvalid) Problem(c, "the index has no blocks");
    } else if (CheckMeta(c)) {
        const HnswLayout &l = c->l;
        HnswCoding coding;
        hnsw_alloc_coding(CurrentMemoryContext, l, &coding);
        memset(coding.ranges, 0, 2 * l.VectorBytes());
        bool coded = CheckQuantizer(c, &coding);
        NodeFacts f;
        size_t n1 = (size_t)c->n + 1;
        f.flags = (uint8 *)palloc_extended(n1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
        f.levels = (uint8 *)palloc_extended(n1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
        f.chain_next = (uint32 *)palloc_extended(sizeof(uint32) * n1, MCXT_ALLOC_HUGE);
        f.lists_ok = (bool *)palloc_extended(n1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
        CheckNodes(c, &f, coding, coded);
        // the node count again, for links to nodes added during the check
        uint32 final_n = c->n;
        if (CopyBlock(c, 0, c->page) && gv_page_problem((Page)c->page, kHnswPageMeta) == NULL) {
            const HnswMeta *now = (const HnswMeta *)(c->page + GvPageDataOffset());
            if (hnsw_meta_problem(now) == NULL && now->node_count > final_n)
                final_n = now->node_count;
        }
        CheckLists(c, &f, final_n);
        CheckChains(c, &f);
        CheckEntry(c, &f);
        CheckReachable(c);
    }
}

// The provider's check (index_provider.h).
void HnswProviderCheck(Relation index, GvProblems *problems) {
    Check *c = (Check *)palloc0(sizeof(Check));
    c->problems = *problems;
    c->index = index;
    HnswCheckIndex(c);
    *problems = c->problems;
}

// The options in effect, with where ef_search comes from.
void HnswOptionsText(Relation index, const HnswMeta &meta, StringInfo out) {
    int m, efc, ef_option;
    hnsw_get_options(index, &m, &efc, &ef_option);
    const char *storage = meta.storage == (uint8)gigavector::HnswStorage::kF32 ? "f32" : "sq8";
    appendStringInfo(out, "m=%d, ef_construction=%d, storage=%s, ef_search=%d", meta.m,
                     meta.ef_construction, storage, hnsw_ef_search(index));
    appendStringInfoString(out, gv_hnsw_ef_search > 0    ? " (gigavector.hnsw_ef_search)"
                                : ef_option > 0          ? ""
                                : meta.calibrated_ef > 0 ? " (derived)"
                                                         : " (default)");
}

// The provider's facts: the meta page and one pass over the slot headers.
void HnswProviderFacts(Relation index, GvIndexFacts *f) {
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    HnswLayout l = hnsw_get_layout(index);
    f->dimensions = meta.dim;
    HnswOptionsText(index, meta, &f->options);
    int64 live = 0, dead = 0;
    for (uint32 first = 0; first < meta.node_count; first += (uint32)l.nodes_per_page) {
        uint32 last = std::min<uint32>(first + l.nodes_per_page, meta.node_count);
        CHECK_FOR_INTERRUPTS();
        Buffer buf = ReadBuffer(index, l.NodeBlock(first));
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        const char *problem = gv_page_problem(page, kHnswPageNodes);
        if (problem != NULL) {
            UnlockReleaseBuffer(buf);
            gv_report_corrupted(index, l.NodeBlock(first), "%s", problem);
        }
        for (uint32 id = first; id < last; id++) {
            uint8 flags = HnswNodeAt(page, l, l.Slot(id))->flags;
            if (flags == kNodeValid || flags == kNodeZero) live++;
            if (flags & kNodeDeleted) dead++;
        }
        UnlockReleaseBuffer(buf);
    }
    f->live_entries = live;
    f->dead_entries = dead;
    // nodes inserted after training whose vectors the sq8 ranges miss are
    // traversed with exact distances: slower, and a sign the data moved
    if (meta.storage == (uint8)gigavector::HnswStorage::kSq8 &&
        meta.coded_from != gigavector::kNoNode && live > 1000 && meta.uncoded_nodes > live / 10) {
        f->status = "degraded";
        f->reason = psprintf(
            "%u of %lld nodes lie outside the sq8 ranges trained at CREATE "
            "INDEX (the data drifted)",
            meta.uncoded_nodes, (long long)live);
        f->action = "REINDEX INDEX";
    }
}

// The provider's structural facts: levels, entry point, degrees,
// reachability (from a full check, whose problem count is shown too).
void HnswProviderInfo(Relation index, GvInfoRows *rows) {
    Check *c = (Check *)palloc0(sizeof(Check));
    c->problems.rsinfo = NULL;
    c->index = index;
    HnswCheckIndex(c);
    const HnswMeta &meta = c->meta;
    gv_info(rows, "dimensions", "%d", meta.dim);
    gv_info(rows, "m", "%d", meta.m);
    gv_info(rows, "ef_construction", "%d", meta.ef_construction);
    gv_info(rows, "storage", "%s",
            meta.storage == (uint8)gigavector::HnswStorage::kF32 ? "f32" : "sq8");
    gv_info(rows, "node_slots", "%u", meta.node_count);
    gv_info(rows, "live_nodes", "%u", c->live);
    gv_info(rows, "deleted_nodes", "%u", c->deleted);
    gv_info(rows, "free_slots", "%u", c->free_slots);
    gv_info(rows, "zero_vectors", "%u", c->zeros);
    if (meta.entry_node == gigavector::kNoNode)
        gv_info(rows, "entry_point", "none (empty)");
    else
        gv_info(rows, "entry_point", "node %u on level %d", meta.entry_node, meta.entry_level);
    gv_info(rows, "levels", "%d",
            meta.entry_node == gigavector::kNoNode ? 0 : meta.entry_level + 1);
    for (int lev = 0; lev <= gigavector::kHnswMaxLevel; lev++) {
        uint32 at_or_above = 0;
        for (int k = lev; k <= gigavector::kHnswMaxLevel; k++) at_or_above += c->level_nodes[k];
        if (at_or_above == 0) break;
        char name[32];
        snprintf(name, sizeof(name), "nodes_on_level_%d", lev);
        gv_info(rows, name, "%u", at_or_above);
    }
    // level-0 degree distribution of live graph nodes
    if (c->live > 0) {
        int max_degree = 2 * meta.m, lo = -1, hi = 0, p50 = 0;
        double sum = 0;
        uint32 seen = 0, full = 0;
        for (int d = 0; d <= 2 * kHnswMaxM; d++) {
            if (c->degree0[d] == 0) continue;
            if (lo < 0) lo = d;
            hi = d;
            sum += (double)d * c->degree0[d];
            if (seen < (c->live + 1) / 2 && seen + c->degree0[d] >= (c->live + 1) / 2) p50 = d;
            seen += c->degree0[d];
            if (d >= max_degree) full += c->degree0[d];
        }
        gv_info(rows, "level0_degree", "min %d, median %d, mean %.1f, max %d (of %d)", lo, p50,
                sum / c->live, hi, max_degree);
        gv_info(rows, "level0_full_lists", "%.1f%%", 100.0 * full / c->live);
    }
    if (c->unreached >= 0)
        gv_info(rows, "unreachable_nodes", "%lld", (long long)c->unreached);
    else
        gv_info(rows, "unreachable_nodes", "not checked (damage, concurrent writers or a standby)");
    gv_info(rows, "problems", "%d", c->problems.count);
}

// ef_search from k up, about 1.25x apart: recall rises with ef, and so
// does the cost.
void HnswTuneCandidates(Relation, int k, GvInfoRows *rows) {
    for (double ef = std::max(k, 10); ef <= kHnswMaxEfSearch; ef = std::ceil(ef * 1.25)) {
        char gucs[64], reloptions[64];
        snprintf(gucs, sizeof(gucs), "gigavector.hnsw_ef_search=%d", (int)ef);
        snprintf(reloptions, sizeof(reloptions), "ef_search = %d", (int)ef);
        gv_tune_candidate(rows, 0, gucs, reloptions);
    }
}

const GvAmProvider kHnswProvider = {"gv_hnsw", HnswProviderFacts, HnswProviderInfo,
                                    HnswProviderCheck, HnswTuneCandidates};

}  // namespace

void hnsw_register_provider(void) {
    gv_register_am_provider(&kHnswProvider);
}

// gigavector.hnsw_check(index): the structural check alone (index_check
// adds the table's side); one row per problem, none when the index is sound.
extern "C" Datum gv_hnsw_check(PG_FUNCTION_ARGS) {
    return gv_check_one_method(fcinfo, "gv_hnsw");
}
