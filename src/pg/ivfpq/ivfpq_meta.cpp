// gv_ivfpq: settings (GUCs, reloptions), page geometry, the cached trained
// state, directory and list page access.
#include "ivfpq/ivfpq_am.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include "access/reloptions.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

int gv_ivfpq_probes = 0;
int gv_ivfpq_rerank_candidates = 0;

void ivfpq_define_gucs(void) {
    DefineCustomIntVariable(
        "gigavector.ivfpq_probes", "Lists a gv_ivfpq scan probes.",
        "0 uses the index's probes option, or, when that is not set, the default CREATE INDEX "
        "measured on the index's own rows (gigavector.ivfpq_stats shows it). More is slower "
        "and more accurate.",
        &gv_ivfpq_probes, 0, 0, kIvfMaxProbes, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable(
        "gigavector.ivfpq_rerank_candidates",
        "Candidates a gv_ivfpq scan re-ranks with exact distances.",
        "0 uses the index's rerank_candidates option, or, when that is not set, the default "
        "CREATE INDEX measured. More is slower and more accurate.",
        &gv_ivfpq_rerank_candidates, 0, 0, kIvfMaxRerank, PGC_USERSET, 0, NULL, NULL, NULL);
}

static relopt_kind ivfpq_relopt_kind;

void ivfpq_define_reloptions(void) {
    ivfpq_relopt_kind = add_reloption_kind();
    add_int_reloption(ivfpq_relopt_kind, "lists",
                      "Inverted lists (k-means cells); 0, the default: about sqrt(rows)", 0, 0,
                      kIvfMaxLists, AccessExclusiveLock);
    add_int_reloption(ivfpq_relopt_kind, "subvectors",
                      "Product-quantization subvectors (code bytes: subvectors * bits / 8); "
                      "0, the default: one per two dimensions",
                      0, 0, kIvfMaxDimensions, AccessExclusiveLock);
    add_int_reloption(ivfpq_relopt_kind, "bits",
                      "Bits per subvector code: 4 (fast scan, the default) or 8", 0, 0, 8,
                      AccessExclusiveLock);
    static relopt_enum_elt_def rerank_values[] = {
        {"heap", kIvfRerankHeap}, {"index", kIvfRerankIndex}, {NULL, 0}};
    add_enum_reloption(ivfpq_relopt_kind, "rerank",
                       "Where the exact re-rank reads vectors: heap (the table's rows: a small "
                       "index) or index (a copy kept in the index: faster, larger)",
                       rerank_values, kIvfRerankHeap, "Valid values are \"heap\" and \"index\".",
                       AccessExclusiveLock);
    add_int_reloption(ivfpq_relopt_kind, "probes",
                      "Default lists a scan probes (gigavector.ivfpq_probes overrides); 0, the "
                      "default: measured at CREATE INDEX",
                      0, 0, kIvfMaxProbes, AccessExclusiveLock);
    add_int_reloption(ivfpq_relopt_kind, "rerank_candidates",
                      "Default candidates a scan re-ranks exactly "
                      "(gigavector.ivfpq_rerank_candidates overrides); 0, the default: measured "
                      "at CREATE INDEX",
                      0, 0, kIvfMaxRerank, AccessExclusiveLock);
}

bytea *ivfpq_options_parse(Datum reloptions, bool validate) {
    static const relopt_parse_elt table[] = {
        {"lists", RELOPT_TYPE_INT, offsetof(IvfOptions, lists)},
        {"subvectors", RELOPT_TYPE_INT, offsetof(IvfOptions, subvectors)},
        {"bits", RELOPT_TYPE_INT, offsetof(IvfOptions, bits)},
        {"rerank", RELOPT_TYPE_ENUM, offsetof(IvfOptions, rerank)},
        {"probes", RELOPT_TYPE_INT, offsetof(IvfOptions, probes)},
        {"rerank_candidates", RELOPT_TYPE_INT, offsetof(IvfOptions, rerank_candidates)},
    };
    IvfOptions *opts = (IvfOptions *)build_reloptions(reloptions, validate, ivfpq_relopt_kind,
                                                      sizeof(IvfOptions), table, 6);
    if (opts && validate && opts->bits != 0 && opts->bits != 4 && opts->bits != 8)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("bits must be 4 or 8, not %d", opts->bits),
                        errhint("bits = 4 scans codes with SIMD table lookups (the default); "
                                "bits = 8 codes more finely.")));
    return (bytea *)opts;
}

IvfOptions *ivfpq_options(Relation index) {
    static IvfOptions defaults = {0, 0, 0, 0, kIvfRerankHeap, 0, 0};
    IvfOptions *o = (IvfOptions *)index->rd_options;
    return o != NULL ? o : &defaults;
}

IvfGeometry ivfpq_geometry(int dim, int m, int bits, bool vectors) {
    IvfGeometry g;
    g.dim = dim;
    g.m = m;
    g.bits = bits;
    g.vectors = vectors;
    g.ref_bytes = (int)sizeof(ItemPointerData) * (vectors ? 2 : 1);
    g.block_code_bytes = bits == 4 ? (int)gigavector::FastScanBlockBytes(m) : 0;
    g.block_stride = bits == 4 ? g.block_code_bytes + gigavector::kFastScanBlock * g.ref_bytes : 0;
    g.tail_stride = g.ref_bytes + m;
    g.room = GvPageUsableBytes() - (int)sizeof(IvfListPage);
    return g;
}

int ivfpq_max_subvectors(bool vectors) {
    return gigavector::MaxFastScanSubvectors(GvPageUsableBytes() - (int)sizeof(IvfListPage),
                                             (int)sizeof(ItemPointerData) * (vectors ? 2 : 1));
}

IvfMeta *ivfpq_meta_of(Relation index, Page page) {
    IvfMeta *meta = (IvfMeta *)((char *)page + GvPageDataOffset());
    if (meta->magic != kIvfMagic)
        gv_report_corrupted(index, 0, "the meta page has magic 0x%08x", meta->magic);
    if (meta->version != kIvfVersion)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("gv_ivfpq index \"%s\" has on-disk version %u; this build reads %u",
                               RelationGetRelationName(index), meta->version, kIvfVersion),
                        errhint("REINDEX the index.")));
    return meta;
}

void ivfpq_read_meta(Relation index, IvfMeta *meta) {
    Buffer buf = gv_read_page(index, 0, kIvfPageMeta);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    *meta = *ivfpq_meta_of(index, BufferGetPage(buf));
    UnlockReleaseBuffer(buf);
}

const char *ivfpq_meta_problem(const IvfMeta &m, BlockNumber nblocks) {
    if (m.magic != kIvfMagic || m.version != kIvfVersion) return "magic or version is wrong";
    if (m.dim < 1 || m.dim > kIvfMaxDimensions) return "dimensions out of range";
    if (m.lists < 1 || m.lists > kIvfMaxLists) return "list count out of range";
    if (m.subvectors < 1 || m.subvectors > m.dim) return "subvector count out of range";
    if (m.bits != 4 && m.bits != 8) return "code width is neither 4 nor 8";
    if (m.metric > (uint8)gigavector::Metric::kL1 || m.rerank > kIvfRerankIndex)
        return "metric or rerank mode unknown";
    if (m.centroid_block >= nblocks || m.codebook_block >= nblocks ||
        m.directory_block >= nblocks || m.directory_block + m.directory_pages > nblocks)
        return "a block number points past the end of the index";
    return NULL;
}

static int DirPerPage() {
    return GvPageUsableBytes() / (int)sizeof(IvfListDir);
}

BlockNumber ivfpq_dir_block(const IvfState *st, int list, int *offset) {
    int per = DirPerPage();
    *offset = (int)GvPageDataOffset() + (list % per) * (int)sizeof(IvfListDir);
    return st->meta.directory_block + (BlockNumber)(list / per);
}

// The trained state of each index this backend has used, keyed by the
// index's OID and relfilenode (a REINDEX or TRUNCATE gives a new one). It is
// kept outside the relcache: rd_amcache is freed by any relcache
// invalidation, which a scan can meet halfway (opening a TOAST table to
// detoast a row takes a lock and accepts invalidations), and the scan holds
// pointers into the state. An entry whose index has a new relfilenode is
// freed when the index is next used: no scan can be on the old one (REINDEX
// and TRUNCATE take an exclusive lock, and refuse an index in use by this
// backend).
namespace {
struct IvfCacheEntry {
    Oid indexoid;
    RelFileNode node;
    MemoryContext cxt;
    IvfState *state;
};
constexpr int kIvfCacheSize = 256;
IvfCacheEntry ivf_cache[kIvfCacheSize];
int ivf_cache_used = 0;

IvfState *LoadState(Relation index, MemoryContext cxt) {
    IvfMeta meta;
    ivfpq_read_meta(index, &meta);  // (magic and version checked)
    // a damaged meta page must not size arrays or reads
    const char *problem = ivfpq_meta_problem(meta, RelationGetNumberOfBlocks(index));
    if (problem != NULL) gv_report_corrupted(index, 0, "meta page: %s", problem);
    IvfState *st = (IvfState *)MemoryContextAllocZero(cxt, sizeof(IvfState));
    st->meta = meta;
    st->geo = ivfpq_geometry(meta.dim, meta.subvectors, meta.bits, meta.rerank == kIvfRerankIndex);
    gigavector::PqShape pq;
    pq.dim = meta.dim;
    pq.m = meta.subvectors;
    pq.bits = meta.bits;
    size_t cbytes = sizeof(float) * (size_t)meta.lists * meta.dim;
    size_t bbytes = sizeof(float) * pq.CodebookFloats();
    st->centroids = (float *)MemoryContextAllocExtended(cxt, cbytes, MCXT_ALLOC_HUGE);
    st->codebook = (float *)MemoryContextAllocExtended(cxt, bbytes, MCXT_ALLOC_HUGE);
    gv_read_stream(index, meta.centroid_block, (int)GvPageDataOffset(), st->centroids, cbytes,
                   kIvfPageCentroids, false);
    gv_read_stream(index, meta.codebook_block, (int)GvPageDataOffset(), st->codebook, bbytes,
                   kIvfPageCodebook, false);
    for (size_t i = 0; i < cbytes / sizeof(float); i++)
        if (!std::isfinite(st->centroids[i]))
            gv_report_corrupted(index, meta.centroid_block, "a centroid is not finite");
    for (size_t i = 0; i < bbytes / sizeof(float); i++)
        if (!std::isfinite(st->codebook[i]))
            gv_report_corrupted(index, meta.codebook_block, "a codebook entry is not finite");
    st->model.dim = meta.dim;
    st->model.lists = meta.lists;
    st->model.metric = (gigavector::Metric)meta.metric;
    st->model.pq = pq;
    st->model.centroids = st->centroids;
    st->model.codebook = st->codebook;
    return st;
}
}  // namespace

const IvfState *ivfpq_state(Relation index) {
    Oid oid = RelationGetRelid(index);
    int free_slot = -1;
    for (int i = 0; i < ivf_cache_used; i++) {
        IvfCacheEntry &e = ivf_cache[i];
        if (e.cxt == NULL) {
            if (free_slot < 0) free_slot = i;
            continue;
        }
        if (e.indexoid != oid) continue;
        if (RelFileNodeEquals(e.node, index->rd_node)) return e.state;
        MemoryContextDelete(e.cxt);  // stale: the index was rebuilt or truncated
        e.cxt = NULL;
        if (free_slot < 0) free_slot = i;
    }
    // loaded in a context of its own, under the caller's until it is
    // complete (an ERROR frees it with the caller's)
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "gv_ivfpq state", ALLOCSET_SMALL_SIZES);
    IvfState *st = LoadState(index, cxt);
    if (free_slot < 0) {
        // full (hundreds of indexes in one backend): this one is not kept,
        // it lives as long as the caller's context (the scan, the insert)
        if (ivf_cache_used == kIvfCacheSize) return st;
        free_slot = ivf_cache_used++;
    }
    MemoryContextSetParent(cxt, TopMemoryContext);
    ivf_cache[free_slot] = IvfCacheEntry{oid, index->rd_node, cxt, st};
    return st;
}

IvfListDir ivfpq_read_dir(Relation index, const IvfState *st, int list) {
    int offset;
    BlockNumber block = ivfpq_dir_block(st, list, &offset);
    Buffer buf = gv_read_page(index, block, kIvfPageDirectory);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    IvfListDir d;
    memcpy(&d, (char *)BufferGetPage(buf) + offset, sizeof(d));
    UnlockReleaseBuffer(buf);
    // (a head or tail past the end is found when its page is read)
    if ((d.head == InvalidBlockNumber) != (d.tail == InvalidBlockNumber))
        gv_report_corrupted(index, block,
                            "directory entry of list %d has only one of head and tail", list);
    return d;
}

int ivfpq_probes(Relation index, const IvfState *st) {
    if (gv_ivfpq_probes > 0) return gv_ivfpq_probes;
    int opt = ivfpq_options(index)->probes;
    if (opt > 0) return opt;
    return st->meta.probes > 0 ? st->meta.probes : 1;
}

int ivfpq_rerank_candidates(Relation index, const IvfState *st) {
    if (gv_ivfpq_rerank_candidates > 0) return gv_ivfpq_rerank_candidates;
    int opt = ivfpq_options(index)->rerank_candidates;
    if (opt > 0) return opt;
    return st->meta.rerank_candidates > 0 ? st->meta.rerank_candidates : 100;
}

bool ivfpq_block_in_index(Relation index, BlockNumber block, BlockNumber *nblocks) {
    if (block < *nblocks) return true;
    *nblocks = RelationGetNumberOfBlocks(index);
    return block < *nblocks;
}

Buffer ivfpq_read_list_page(Relation index, BlockNumber block, int list, BlockNumber *nblocks,
                            BufferAccessStrategy strategy) {
    if (!ivfpq_block_in_index(index, block, nblocks))
        gv_report_corrupted(index, block, "list %d's chain points past the end of the index", list);
    return gv_read_page(index, block, kIvfPageList, strategy);
}

void ivfpq_check_list_page(Relation index, Buffer buf, const IvfGeometry &g, int list) {
    Page page = BufferGetPage(buf);
    const IvfListPage *h = IvfListPageOf(page);
    const char *problem = NULL;
    if (((GvPageOpaque *)PageGetSpecialPointer(page))->group != (uint32)list)
        problem = "the page belongs to another list";
    else if (g.bits == 8 && (h->blocks != 0 || h->packed != 0))
        problem = "8-bit codes in fast-scan blocks";
    else if (h->packed > h->blocks * gigavector::kFastScanBlock ||
             (h->blocks > 0 && h->packed <= (h->blocks - 1) * gigavector::kFastScanBlock))
        problem = "block and entry counts disagree";
    else if (h->blocks * g.block_stride > g.room || h->tail > g.TailCapacity(h->blocks))
        problem = "more entries than a page holds";
    if (problem != NULL)
        gv_report_corrupted(index, BufferGetBlockNumber(buf), "list %d: %s", list, problem);
}

bool ivfpq_prepare_vector(Relation index, const IvfState *st, Datum value, float *out) {
    return gv_prepare_vector(index, value, st->meta.dim, (gigavector::Metric)st->meta.metric, out);
}

int ivfpq_fill_list_page(Page page, const IvfGeometry &g, int list, const char *refs,
                         const uint8 *codes, int n) {
    gv_init_page(page, kIvfPageList, (uint32)list);
    IvfListPage *h = IvfListPageOf(page);
    h->next = InvalidBlockNumber;
    h->blocks = h->packed = h->tail = h->flags = 0;
    const int B = gigavector::kFastScanBlock;
    int take;
    if (g.bits == 4) {
        int nb = std::min(g.BlocksPerPage(), (n + B - 1) / B);
        take = std::min(n, nb * B);
        ItemPointerData none;
        ItemPointerSetInvalid(&none);
        for (int k = 0; k < nb; k++) {
            int e0 = k * B, ne = std::min(B, take - e0);
            char *blk = (char *)page + g.BlockOffset(k);
            gigavector::PackFastScanBlock(codes + (size_t)e0 * g.m, ne, g.m, (uint8 *)blk);
            for (int e = 0; e < B; e++) {
                char *ref = blk + g.block_code_bytes + e * g.ref_bytes;
                if (e < ne) {
                    memcpy(ref, refs + (size_t)(e0 + e) * g.ref_bytes, g.ref_bytes);
                } else {
                    memcpy(ref, &none, sizeof(none));
                    if (g.vectors) memcpy(ref + sizeof(none), &none, sizeof(none));
                }
            }
        }
        h->blocks = (uint16)nb;
        h->packed = (uint16)take;
    } else {
        take = std::min(n, g.TailCapacity(0));
        for (int e = 0; e < take; e++) {
            char *at = (char *)page + g.TailOffset(0, e);
            memcpy(at, refs + (size_t)e * g.ref_bytes, g.ref_bytes);
            memcpy(at + g.ref_bytes, codes + (size_t)e * g.m, g.m);
        }
        h->tail = (uint16)take;
    }
    ((PageHeader)page)->pd_lower = (LocationIndex)g.TailOffset(h->blocks, h->tail);
    return take;
}

bool ivfpq_page_recyclable(Page page) {
    if (PageIsNew(page)) return true;
    if (gv_page_problem(page, kIvfPageList) != NULL) return false;
    if (!(IvfListPageOf(page)->flags & kIvfPageRetired)) return false;
    TransactionId xid = ((PageHeader)page)->pd_prune_xid;
    return TransactionIdIsNormal(xid) && GlobalVisCheckRemovableXid(NULL, xid);
}

Buffer ivfpq_new_buffer(Relation index) {
    // a retired page VACUUM recorded as free, checked again: the free space
    // map is only a hint (and not crash-safe)
    for (;;) {
        BlockNumber block = GetFreeIndexPage(index);
        if (block == InvalidBlockNumber || block >= RelationGetNumberOfBlocks(index)) break;
        Buffer buf = ReadBuffer(index, block);
        if (ConditionalLockBuffer(buf)) {
            if (ivfpq_page_recyclable(BufferGetPage(buf))) return buf;
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        }
        ReleaseBuffer(buf);
    }
    LockRelationForExtension(index, ExclusiveLock);
    Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    UnlockRelationForExtension(index, ExclusiveLock);
    return buf;
}
