// gv_hnsw: an HNSW index access method whose graph lives in Postgres pages.
//
// Design
// ------
// Algorithms come from src/core (hnsw.h: layer search and neighbour
// heuristic, Malkov & Yashunin, arXiv:1603.09320; hnsw_graph.h: the in-memory
// graph used by CREATE INDEX). This directory only maps them onto pages.
//
// Nodes have dense ids 0, 1, 2, ... and fixed-size slots, so a node's place
// is arithmetic, neighbour lists hold 4-byte ids, and a scan's visited set
// is keyed by id. The page geometry (meta page, quantizer pages, groups of
// node pages and vector pages, slots and upper lists) is computed by the
// core, include/gigavector/hnsw/hnsw_geometry.h, where it is described and
// unit-tested; HnswLayout adds what the access method keeps with it.
//
// Storage (option storage): sq8 (the default) keeps in each slot the vector
// quantized to 8 bits per dimension on per-dimension ranges (sq8.h) for
// traversal, and the full vector on the group's vector pages for the exact
// re-rank, so results come back in exact distance order (the codes hold only
// the dimensions not constant over the training rows, so that the slots
// shrink with them; meta code_bytes); f32 keeps the float
// vector in the slot (up to MaxF32Dimensions) and has no vector pages.
// Dimensions too large even for codes in a slot keep neither in it, and
// traversal reads the vector pages.
//
// Concurrency and WAL
// -------------------
// Every change goes through the buffer manager and generic WAL, at most 4
// pages per record. Readers hold a share lock on one page at a time while
// copying a list or computing distances; writers hold an exclusive lock on one
// page at a time (plus the meta page when they must), so there is no lock
// ordering problem. An insert is a sequence of steps that each leave a valid
// index: (1) claim an id in the meta page and write the node slot and vector
// (the node is unreachable until linked), (2) write its own lists,
// (3) add back-links one neighbour page at a time, (4) update the entry point.
// A crash between steps leaves a node that is less connected, never a
// dangling reference.
//
// CREATE INDEX builds the graph in memory (within maintenance_work_mem; the
// rest is inserted page by page), writes all pages without WAL and then logs
// them with log_newpage_range, as the built-in AMs do.
#pragma once

#include "common/index_opclass.h"
#include "common/index_pages.h"
#include "type/gvector.h"

#include "gigavector/hnsw/hnsw_geometry.h"
#include "gigavector/hnsw/hnsw_policy.h"
#include "gigavector/ann/metric.h"
#include "gigavector/quant/sq8.h"

extern "C" {
#include "access/itup.h"
#include "nodes/pathnodes.h"
#include "storage/itemptr.h"
}

constexpr uint32 kHnswMagic = 0x47564853;  // "GVHS"
constexpr uint32 kHnswVersion = 7;         // 7: slots hold codes of the coded dimensions only

constexpr int kHnswDefaultM = 16;
constexpr int kHnswMinM = 2;
constexpr int kHnswMaxM = 100;
constexpr int kHnswDefaultEfConstruction = 64;
constexpr int kHnswMinEfConstruction = 4;
constexpr int kHnswMaxEfConstruction = 1000;
// ef_search when neither the GUC, the option nor the index's calibration
// gives one (an index built on fewer rows than kHnswCalibrationQueries).
constexpr int kHnswDefaultEfSearch = 320;
constexpr int kHnswMinEfSearch = 1;
// CREATE INDEX chooses the index's default ef_search (hnsw_calibrate.h):
// the smallest that gives this recall@10 on this many of its own rows. The
// target is a little above the 0.95 the default must give other queries:
// the sample is small (200 rows: recall +-0.015) and is searched in memory
// with float vectors, the index with sq8 codes. At 0.95 (and 1.4x steps)
// 3000 clustered 1536-d and 3072-d rows (TAP 007) gave 0.947 to 0.993 on 30
// other queries; at 0.96 GloVe-100's default went from ef 320 (recall 0.964,
// 0.85x the best QPS at 0.95) to 448 (0.973, 0.66x).
constexpr int kHnswCalibrationQueries = 200;
constexpr double kHnswCalibrationRecall = 0.955;
constexpr int kHnswMaxEfSearch = 10000;

// Page types in the special space.
constexpr uint16 kHnswPageMeta = 1;
constexpr uint16 kHnswPageNodes = 2;
constexpr uint16 kHnswPageVectors = 3;
constexpr uint16 kHnswPageQuantizer = 4;

// Rows the sq8 ranges are trained on: CREATE INDEX with fewer rows leaves the
// index untrained, and the insert that reaches this many nodes trains it.
constexpr uint32 kHnswSq8TrainRows = 1000;
// At most this many rows (evenly spaced) train the ranges at CREATE INDEX.
constexpr size_t kHnswSq8MaxTrainRows = 100000;

// Reloptions.
struct HnswOptions {
    int32 vl_len_;
    int m;
    int ef_construction;
    int ef_search;
    int storage;  // a gigavector::HnswStorage value: kSq8 or kF32
};

// Meta page contents (after the page header).
struct HnswMeta {
    uint32 magic;
    uint32 version;
    int32 dim;
    uint8 metric;   // gigavector::Metric
    uint8 storage;  // gigavector::HnswStorage
    uint16 m;
    uint16 ef_construction;
    uint16 node_size;  // bytes per node slot
    uint16 nodes_per_page;
    uint16 vector_pages;   // per group
    uint16 code_bytes;     // sq8: code bytes a slot holds (the coded dimensions at CREATE INDEX)
    uint16 group_pages;    // node pages + vector pages
    uint16 upper_reserve;  // bytes reserved on a node page for upper lists
    uint16 node_pages;     // node pages per group
    uint32 node_count;     // ids 0 .. node_count-1 are claimed
    uint32 entry_node;     // gigavector::kNoNode when empty
    int32 entry_level;
    uint64 inserted;            // nodes added by inserts since the build
    uint64 deleted;             // nodes marked deleted by vacuum
    uint32 free_head;           // first slot of the free list (kNoNode: none)
    uint32 free_count;          // slots on the free list
    uint32 zero_head;           // first node of the zero-vector chain (kNoNode: none)
    uint32 zero_count;          // nodes on that chain (deleted ones included)
    uint64 reused;              // slots taken from the free list by inserts
    uint64 repaired;            // neighbour lists rewritten by vacuum
    uint16 quantizer_pages;     // blocks 1 .. quantizer_pages hold the sq8 ranges
    uint16 coded_dims;          // sq8, trained: dimensions the ranges code (step > 0)
    uint32 coded_from;          // sq8: nodes with id >= this have codes; kNoNode: untrained
    uint32 trained_rows;        // rows the sq8 ranges were trained on
    uint32 quantizer_checksum;  // CRC-32C of the ranges (hnsw_ranges_checksum)
    uint16 calibrated_ef;       // the default ef_search CREATE INDEX measured; 0: none
    uint16 calibration_recall;  // its recall@10 on the sample, in 1/10000
    uint32 uncoded_nodes;       // nodes written trained whose vectors the ranges miss (no codes)
    uint32 unused2;
};
// The on-disk structs: their sizes and layouts are part of the format
// (kHnswVersion); a change must bump the version.
static_assert(sizeof(HnswMeta) == 128, "on-disk meta page contents");
static_assert(offsetof(HnswMeta, node_count) == 32 && offsetof(HnswMeta, inserted) == 48,
              "on-disk meta page contents");

// Node slot flags.
//   valid            a graph node: traversed, linked to, returned
//   valid|deleted    its heap tuple is dead: still traversed until a VACUUM
//                    unlinks it, never returned
//   free             unlinked by VACUUM and on the meta page's free list
//                    (list[0] of the slot is the next free slot); an insert
//                    may reuse it
//   zero             a zero vector under cosine: no direction, so no place
//                    in the graph; chained from the meta page (list[0] is
//                    the next) and returned after every graph node, as the
//                    NaN distance sorts last
//   zero|deleted     the same, dead
// A slot without the valid flag is never traversed: reading it gives no
// neighbours and an infinite distance.
constexpr uint8 kNodeValid = 0x01;
constexpr uint8 kNodeDeleted = 0x02;
constexpr uint8 kNodeZero = 0x04;
constexpr uint8 kNodeFree = 0x08;

// Fixed part of a node slot; the level-0 list and the codes follow.
struct HnswNodeHeader {
    ItemPointerData heap_tid;  // 6 bytes
    uint8 flags;
    uint8 level;
    uint16 upper_offset;  // page offset of the upper lists, 0 if none
    uint8 count0;         // level-0 neighbours in use (at most 2 * kHnswMaxM = 200)
    uint8 coded;          // sq8: 1 when the codes stand for the vector (Sq8Encode); 0:
                          // traversal reads the exact vector (written untrained, or the
                          // trained ranges miss it)
    uint32 checksum;      // CRC-32C of heap_tid and the vector (hnsw_node_checksum)
};
static_assert(sizeof(HnswNodeHeader) == 16, "on-disk node slot header");
static_assert(offsetof(HnswNodeHeader, flags) == 6 && offsetof(HnswNodeHeader, checksum) == 12,
              "on-disk node slot header");

// The checksum a node slot keeps of its heap TID and its full (prepared)
// vector (none for a zero vector). Scans verify it for every row they
// return, and hnsw_check for every node: damage to a vector page or a TID
// is then an ERROR, never a row returned out of order or the wrong row.
uint32 hnsw_node_checksum(const ItemPointerData *tid, const float *prepared, int dim);
// The checksum of the sq8 ranges (2 * dim floats), kept in the meta page and
// verified whenever they are read: damaged ranges would not break the order
// of results (they are re-ranked) but would silently lose recall.
uint32 hnsw_ranges_checksum(const float *ranges, int dim);

// The geometry and what the access method keeps with it, derived from the
// meta page and kept per relation in rd_amcache.
struct HnswLayout : gigavector::HnswGeometry {
    gigavector::Metric metric;
    int ef_construction;
    int calibrated_ef;  // from the meta page (fixed at CREATE INDEX); 0: none

    // Backend-local hints, kept with the layout in rd_amcache: the buffer
    // each block was last found in, by block number. A scan tries
    // ReadRecentBuffer on the hint before a full ReadBuffer, which skips the
    // buffer mapping table (hash, partition lock) - a quarter of a scan's
    // time otherwise. A hint is only a guess, checked against the buffer's
    // tag; it is never truth.
    Buffer *recent_buffers;
    uint32 recent_capacity;  // blocks covered
};

// Fills `layout` for the given parameters (used by build and from the meta
// page); want_f32 is the storage = f32 option. ERRORs when f32 was asked for
// and the float vectors do not fit the slots: the index must hold what its
// options say.
// code_bytes: codes a slot holds (0: dim; CREATE INDEX passes the coded
// dimensions once it has trained).
void hnsw_compute_layout(int dim, gigavector::Metric metric, int m, int ef_construction,
                         bool want_f32, HnswLayout *layout, int code_bytes = 0);
// The page format gv_hnsw's pages have (for the core's geometry).
gigavector::HnswPageFormat hnsw_page_format(void);

// Offsets within a node page.
inline size_t HnswNodeOffset(const HnswLayout &l, int slot) {
    return l.NodeOffset(slot);
}
inline HnswNodeHeader *HnswNodeAt(Page page, const HnswLayout &l, int slot) {
    return (HnswNodeHeader *)((char *)page + l.NodeOffset(slot));
}
inline uint32 *HnswNeighbors0(HnswNodeHeader *node) {
    return (uint32 *)((char *)node + sizeof(HnswNodeHeader));
}
inline uint8 *HnswCodes(HnswNodeHeader *node, const HnswLayout &l) {
    return (uint8 *)((char *)node + sizeof(HnswNodeHeader) + sizeof(uint32) * 2 * l.m);
}
// The float vector of a node in inline mode (same place as the codes).
inline float *HnswInlineVector(HnswNodeHeader *node, const HnswLayout &l) {
    return (float *)HnswCodes(node, l);
}
// Upper list of a node on level >= 1: count, then m ids.
inline uint32 *HnswUpperList(Page page, HnswNodeHeader *node, const HnswLayout &l, int level) {
    return (uint32 *)((char *)page + node->upper_offset) + (size_t)(level - 1) * (l.m + 1);
}

// A node's neighbour list on a level (level 0 in the slot, upper levels on
// the page): its ids, its count as stored (clamped to the level's maximum:
// a page is never trusted), and setting the count.
inline uint32 *HnswListIds(Page page, HnswNodeHeader *node, const HnswLayout &l, int level) {
    return level == 0 ? HnswNeighbors0(node) : HnswUpperList(page, node, l, level) + 1;
}
// (The count is unsigned: a damaged count must clamp, never go negative.)
inline int HnswListCount(Page page, HnswNodeHeader *node, const HnswLayout &l, int level) {
    uint32 n = level == 0 ? node->count0 : HnswUpperList(page, node, l, level)[0];
    return n > (uint32)l.MaxNeighbors(level) ? l.MaxNeighbors(level) : (int)n;
}
// Whether a node's level and upper lists lie where they may: at most
// kHnswMaxLevel lists, inside the page between the slots and the special
// space. Only then may HnswUpperList be used on it.
inline bool HnswNodeListsInPage(const HnswNodeHeader *node, const HnswLayout &l) {
    if (node->level == 0) return true;
    size_t start = node->upper_offset;
    size_t end = start + (size_t)node->level * l.UpperListBytes();
    return node->level <= gigavector::kHnswMaxLevel &&
           start >= HnswNodeOffset(l, l.nodes_per_page) &&
           end <= (size_t)(BLCKSZ - MAXALIGN(sizeof(GvPageOpaque)));
}
inline void HnswSetList(Page page, HnswNodeHeader *node, const HnswLayout &l, int level,
                        const uint32 *ids, int count) {
    memcpy(HnswListIds(page, node, l, level), ids, sizeof(uint32) * (size_t)count);
    if (level == 0)
        node->count0 = (uint8)count;
    else
        HnswUpperList(page, node, l, level)[0] = (uint32)count;
}
// The next slot of the free list or zero chain a slot is on.
inline uint32 &HnswChainNext(HnswNodeHeader *node) {
    return HnswNeighbors0(node)[0];
}

// ---- functions shared by the callbacks (hnsw_utils.cpp) ----

// What is wrong with meta page contents (values out of range, references
// beyond the node count), or NULL; a version mismatch is not reported here.
const char *hnsw_meta_problem(const HnswMeta *meta);
// The meta page contents of a meta page image (ERRORs if damaged or of
// another on-disk version).
HnswMeta *hnsw_meta_of(Relation index, Page page);
// ERRORs unless the relation has the blocks that node_count nodes need.
void hnsw_check_node_count(Relation index, const HnswLayout &layout, uint32 node_count);

// The sq8 state an operation works with: which nodes have codes, and the
// ranges (palloc'd by the caller, 2 * dim floats: lo then step).
struct HnswCoding {
    uint32 coded_from;  // nodes with id >= coded_from have codes; kNoNode: none
    float *ranges;      // lo[0..dim), step[0..dim); valid when coded_from != kNoNode
    uint32 *dims;       // the coded dimensions (step > 0), [coded]; room for dim
    uint32 coded;
    bool Coded(uint32 id) const { return id >= coded_from; }
    gigavector::Sq8Ranges Ranges(const HnswLayout &l) const {
        gigavector::Sq8Ranges r;
        r.dim = (size_t)l.dim;
        r.lo = ranges;
        r.step = ranges + l.dim;
        r.coded = coded;
        r.dims = dims;
        return r;
    }
};
// Allocates the ranges and coded dimensions of `coding` in cxt, untrained.
void hnsw_alloc_coding(MemoryContext cxt, const HnswLayout &layout, HnswCoding *coding);
// Derives coding->dims from the ranges; false when they code more
// dimensions than the layout's slots hold (damaged ranges or meta page).
bool hnsw_set_coded_dims(const HnswLayout &layout, HnswCoding *coding);
// Brings `coding` in line with the meta page's coded_from, reading the
// quantizer pages when the index was trained since `coding` was filled.
// `coding->ranges` must have room for 2 * dim floats.
// `checksum` is the meta page's quantizer_checksum (ERRORs on a mismatch).
void hnsw_sync_coding(Relation index, const HnswLayout &layout, uint32 coded_from, uint32 checksum,
                      HnswCoding *coding);
// Trains the sq8 ranges of an index that has none on its first nodes, and
// writes them (the quantizer pages, then coded_from in the meta page). Called
// by an insert holding the meta page's exclusive lock, with `metabuf` that
// buffer; fills `coding` for the node it is about to write.
void hnsw_train_on_nodes(Relation index, const HnswLayout &layout, Buffer metabuf,
                         HnswCoding *coding);
// Fills `layout` from meta page contents (the geometry their dimensions, m,
// storage and code bytes give, the metric, the calibrated ef); false when
// the meta page's own layout fields describe another layout.
bool hnsw_layout_from_meta(const HnswMeta &meta, HnswLayout *layout);
// The layout, read from the meta page once per backend and cached in
// rd_amcache. Returned by value: a relcache invalidation may free the cache
// at any lock acquisition, so nobody keeps a pointer to it.
HnswLayout hnsw_get_layout(Relation index);
// Snapshot of the meta page's counters.
void hnsw_read_meta(Relation index, HnswMeta *meta);
// ef_search for a scan: the GUC if set, else the index option, else the
// index's calibrated default, else kHnswDefaultEfSearch.
int hnsw_ef_search(Relation index);
// Index options with defaults.
void hnsw_get_options(Relation index, int *m, int *ef_construction, int *ef_search);
// Whether the index was asked for storage = f32.
bool hnsw_wants_f32(Relation index);
// Replaces node id's list on level with ids[0..count), in one generic WAL
// record, on its node page, which the caller holds exclusively locked.
void hnsw_write_list(Relation index, Buffer buf, const HnswLayout &l, uint32 id, int level,
                     const uint32 *ids, int count);
// Writes an empty meta page into `page`.
void hnsw_init_meta(Page page, const HnswLayout &layout);

// gv_prepare_vector for the index's layout.
bool hnsw_prepare_vector(Relation index, Datum value, const HnswLayout &layout, float *out);

// Insert of one heap tuple through pages (used by aminsert and by the build
// when the graph outgrows maintenance_work_mem).
void hnsw_insert_on_disk(Relation index, const float *prepared, ItemPointer heap_tid);
// Adds a zero vector (cosine) to the meta page's zero chain.
void hnsw_insert_zero(Relation index, ItemPointer heap_tid);

// Writes the complete node slot (header, lists, codes when `coding` has
// ranges for the node) of a new node into a page image — no WAL. Returns
// false when the index is trained but its ranges miss the vector (the node
// keeps no codes: count it in the meta page's uncoded_nodes).
bool hnsw_fill_node(Page node_page, const HnswLayout &layout, const HnswCoding &coding, uint32 id,
                    ItemPointer tid, int level, uint16 upper_offset, const float *prepared);

// GUC values.
extern int gv_hnsw_ef_search;
void hnsw_define_gucs(void);
void hnsw_define_reloptions(void);
void hnsw_register_provider(void);
// The rebuild-options check of the ALTER INDEX event trigger (alter_index.h).
void hnsw_check_rebuild_options(Relation index);

extern "C" {
// Access method callbacks.
IndexBuildResult *hnsw_build(Relation heap, Relation index, IndexInfo *info);
void hnsw_buildempty(Relation index);
bool hnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
                 IndexUniqueCheck check_unique, bool index_unchanged, IndexInfo *info);
IndexBulkDeleteResult *hnsw_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                       IndexBulkDeleteCallback callback, void *callback_state);
IndexBulkDeleteResult *hnsw_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
IndexScanDesc hnsw_beginscan(Relation index, int nkeys, int norderbys);
void hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool hnsw_gettuple(IndexScanDesc scan, ScanDirection dir);
void hnsw_endscan(IndexScanDesc scan);
}
