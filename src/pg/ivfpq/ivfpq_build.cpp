// gv_ivfpq CREATE INDEX.
//
//   1. sampling: a reservoir sample of the rows (deterministic: a fixed
//      seed, the table read in order), sized from maintenance_work_mem
//   2. k-means: the lists' centroids (k-means++, core ivf/kmeans.h)
//   3. codebooks: PQ on the sample's residuals (core quant/pq.h)
//   4. assigning: every row's list and codes, in batches (one matrix
//      product per batch); rerank = index also writes its vector; the exact
//      neighbours of kIvfCalibrationQueries sample rows are found on the way
//   5. calibrating: probes and rerank_candidates measured on those queries
//      (core ivf/ivfpq_calibrate.h), unless given
//   6. writing: the lists sorted, 4-bit codes packed into fast-scan blocks,
//      pages written without WAL and logged with log_newpage_range.
// k-means, the codebooks and the encoding run on 1 +
// max_parallel_maintenance_workers threads (in the core, no Postgres calls).
// Rows that do not fit in maintenance_work_mem with their codes are
// inserted page by page after the rest is written.
#include "common/pg_vec.h"
#include "ivfpq/ivfpq_am.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include "access/heaptoast.h"
#include "access/tableam.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
}

namespace {

constexpr int kBatch = 1024;
constexpr int kCalibrationK = 10;

struct BuildState {
    Relation heap;
    Relation index;
    int dim;
    gigavector::Metric metric;
    bool vectors;  // rerank = index
    int threads;   // 1 + max_parallel_maintenance_workers (k-means, codebooks, encoding)
    MemoryContext cxt;
    double rows;  // rows seen (pass 1), with a vector
    // pass 1: the reservoir
    int sample_cap;
    int sample_n;
    float *sample;
    uint64 *sample_ids;
    uint64 rng;
    // the trained model
    gigavector::IvfPqModel model;
    IvfGeometry geo;
    float *centroids;
    float *codebook;
    int lists;
    // pass 2: entries (list, heap TID, codes, vector locator)
    size_t n, cap, cap_limit;
    uint32 *entry_list;
    ItemPointerData *entry_tid;
    ItemPointerData *entry_loc;
    uint8 *entry_codes;
    float *batch;
    ItemPointerData *batch_tid;
    int batch_n;
    double residual_sum;
    double assigned;
    // zero vectors under cosine
    PgVec<ItemPointerData> zero_tids;
    // calibration: exact neighbours of the first queries of the sample
    gigavector::IvfExactNeighbours truth;
    int queries;
    // pages
    BlockNumber next_block;
    BlockNumber directory_block;
    int directory_pages;
    Page vec_page;          // rerank = index: the vector page being filled
    BlockNumber vec_block;  // its block (InvalidBlockNumber: none)
    bool written;           // pages written; later rows are inserted through pages
    double paged;
    double indtuples;
};

uint64 NextRandom(uint64 *state) {  // splitmix64
    uint64 z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// The meta page fields an index's shape decides (the rest zero: no pages
// yet, no vector tail, nothing measured).
void InitMeta(IvfMeta *meta, int dim, gigavector::Metric metric,
              const gigavector::IvfPqShapeChoice &shape, int rerank, bool exact) {
    memset(meta, 0, sizeof(IvfMeta));
    meta->magic = kIvfMagic;
    meta->version = kIvfVersion;
    meta->dim = dim;
    meta->metric = (uint8)metric;
    meta->bits = (uint8)shape.bits;
    meta->rerank = (uint8)rerank;
    meta->exact = exact ? 1 : 0;
    meta->lists = shape.lists;
    meta->subvectors = shape.subvectors;
    meta->vector_tail = InvalidBlockNumber;
}

// Appends a page image as the next block of the index (no WAL: the build
// logs every page at the end).
BlockNumber AppendPage(BuildState *b, Page image) {
    Buffer buf = ReadBufferExtended(b->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    BlockNumber block = BufferGetBlockNumber(buf);
    if (block != b->next_block)
        elog(ERROR, "gv_ivfpq build: block %u where %u was expected", block, b->next_block);
    memcpy(BufferGetPage(buf), image, BLCKSZ);
    MarkBufferDirty(buf);
    UnlockReleaseBuffer(buf);
    b->next_block++;
    return block;
}

// Overwrites a block the build wrote before.
void RewritePage(BuildState *b, BlockNumber block, Page image) {
    Buffer buf = ReadBuffer(b->index, block);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    memcpy(BufferGetPage(buf), image, BLCKSZ);
    MarkBufferDirty(buf);
    UnlockReleaseBuffer(buf);
}

// Writes a byte stream as pages of a type; returns the first block.
BlockNumber AppendStream(BuildState *b, uint16 type, const void *data, size_t bytes) {
    int usable = GvPageUsableBytes();
    int pages = (int)((bytes + usable - 1) / usable);
    if (pages == 0) pages = 1;
    Page *images = (Page *)palloc(sizeof(Page) * pages);
    for (int p = 0; p < pages; p++) {
        images[p] = (Page)palloc0(BLCKSZ);
        gv_init_page(images[p], type, 0);
    }
    gv_write_stream(images, (int)GvPageDataOffset(), data, bytes);
    BlockNumber first = b->next_block;
    for (int p = 0; p < pages; p++) {
        AppendPage(b, images[p]);
        pfree(images[p]);
    }
    pfree(images);
    return first;
}

// rerank = index: a vector onto the vector pages, as the build goes.
ItemPointerData BuildStoreVector(BuildState *b, const float *v) {
    const size_t bytes = sizeof(float) * (size_t)b->dim;
    const int usable = GvPageUsableBytes();
    const int end = (int)GvPageDataOffset() + usable;
    ItemPointerData loc;
    if (b->vec_block != InvalidBlockNumber && bytes <= (size_t)usable) {
        int at = ((PageHeader)b->vec_page)->pd_lower;
        if (at + (int)bytes <= end) {
            memcpy((char *)b->vec_page + at, v, bytes);
            ((PageHeader)b->vec_page)->pd_lower = (LocationIndex)(at + bytes);
            ItemPointerSet(&loc, b->vec_block, (OffsetNumber)at);
            return loc;
        }
    }
    if (b->vec_block != InvalidBlockNumber) AppendPage(b, b->vec_page);
    b->vec_block = InvalidBlockNumber;
    if (bytes <= (size_t)usable) {
        gv_init_page(b->vec_page, kIvfPageVectors, 0);
        b->vec_block = b->next_block;
        ItemPointerSet(&loc, b->vec_block, (OffsetNumber)GvPageDataOffset());
        memcpy((char *)b->vec_page + GvPageDataOffset(), v, bytes);
        ((PageHeader)b->vec_page)->pd_lower = (LocationIndex)(GvPageDataOffset() + bytes);
        return loc;
    }
    ItemPointerSet(&loc, b->next_block, (OffsetNumber)GvPageDataOffset());
    AppendStream(b, kIvfPageVectors, v, bytes);
    return loc;
}

// Encodes the batch: lists through one matrix product, codes, residuals;
// the calibration's neighbours; vectors for rerank = index.
void FlushBatch(BuildState *b) {
    int n = b->batch_n;
    if (n == 0) return;
    b->batch_n = 0;
    uint32 *lists = b->entry_list + b->n;
    uint8 *codes = b->entry_codes + b->n * (size_t)b->geo.m;
    uint64 ids[kBatch];
    for (int i = 0; i < n; i++) ids[i] = IvfTidId(&b->batch_tid[i]);
    GV_CPP_BEGIN
    gigavector::EncodeIvfPqBatch(b->model, b->batch, (size_t)n, lists, codes, b->threads);
    if (b->queries > 0) b->truth.AddBatch(b->batch, ids, (size_t)n);
    GV_CPP_END
    const gigavector::DistanceKernels &k = gigavector::ActiveKernels();
    for (int i = 0; i < n; i++) {
        const float *v = b->batch + (size_t)i * b->dim;
        b->residual_sum +=
            k.l2_squared(v, b->centroids + (size_t)lists[i] * b->dim, (size_t)b->dim);
        b->entry_tid[b->n + i] = b->batch_tid[i];
        if (b->vectors) b->entry_loc[b->n + i] = BuildStoreVector(b, v);
    }
    b->n += (size_t)n;
    b->assigned += n;
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64)b->assigned);
}

void SampleCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive,
                    void *state) {
    (void)alive;
    BuildState *b = (BuildState *)state;
    if (isnull[0]) return;
    b->rows += 1;
    // reservoir sampling (Vitter's algorithm R); only a row that takes a
    // place is read (detoasted), so most rows cost nothing here
    int slot = -1;
    if (b->sample_n < b->sample_cap) {
        slot = b->sample_n;
    } else {
        uint64 r = NextRandom(&b->rng) % (uint64)b->rows;
        if (r < (uint64)b->sample_cap) slot = (int)r;
    }
    if (slot >= 0) {
        float *at = b->sample + (size_t)slot * b->dim;
        if (gv_prepare_vector(index, values[0], b->dim, b->metric, at)) {
            b->sample_ids[slot] = IvfTidId(tid);
            if (slot == b->sample_n) b->sample_n++;
        } else if (slot < b->sample_n) {
            // a zero vector (cosine) takes no part in training: the place
            // goes back to the row it held (its copy is overwritten), so
            // fill it with the last sampled row
            b->sample_n--;
            if (slot != b->sample_n) {
                memcpy(at, b->sample + (size_t)b->sample_n * b->dim, sizeof(float) * b->dim);
                b->sample_ids[slot] = b->sample_ids[b->sample_n];
            }
        }
    }
    if (((int64)b->rows & 1023) == 0)
        pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64)b->rows);
}

void WritePages(BuildState *b);

void AssignCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive,
                    void *state) {
    (void)alive;
    BuildState *b = (BuildState *)state;
    if (isnull[0]) return;
    if (b->written) {  // past maintenance_work_mem: through pages
        bool dummy_null = false;
        ivfpq_insert(index, values, &dummy_null, tid, b->heap, UNIQUE_CHECK_NO, false, NULL);
        b->paged += 1;
        b->indtuples += 1;
        return;
    }
    float *v = b->batch + (size_t)b->batch_n * b->dim;
    if (!gv_prepare_vector(index, values[0], b->dim, b->metric, v)) {
        b->zero_tids.push_back(*tid);
        b->indtuples += 1;
        return;
    }
    b->batch_tid[b->batch_n++] = *tid;
    b->indtuples += 1;
    if (b->batch_n == kBatch || b->n + (size_t)b->batch_n >= b->cap) FlushBatch(b);
    if (b->n >= b->cap) {
        if (b->cap < b->cap_limit) {  // grow the entry arrays
            size_t cap = std::min(b->cap * 2, b->cap_limit);
            b->entry_list = (uint32 *)repalloc_huge(b->entry_list, sizeof(uint32) * cap);
            b->entry_tid =
                (ItemPointerData *)repalloc_huge(b->entry_tid, sizeof(ItemPointerData) * cap);
            if (b->vectors)
                b->entry_loc =
                    (ItemPointerData *)repalloc_huge(b->entry_loc, sizeof(ItemPointerData) * cap);
            b->entry_codes = (uint8 *)repalloc_huge(b->entry_codes, cap * (size_t)b->geo.m);
            b->cap = cap;
        } else {
            WritePages(b);
        }
    }
}

// The lists' entries sorted by list (a counting sort), 4-bit codes packed
// into blocks: what the pages and the calibration read.
struct SortedLists {
    uint32 *offsets;  // lists + 1
    uint32 *order;    // entry indexes by list
    uint64 *ids;      // heap TIDs as ids, in that order
    uint8 *codes;     // unpacked, in that order
    char *refs;       // heap TID (+ vector locator), in that order
    uint8 *blocks;    // 4 bits: packed
    uint32 *block_of;
};

SortedLists SortEntries(BuildState *b) {
    SortedLists s;
    const int lists = b->lists, m = b->geo.m;
    s.offsets = (uint32 *)palloc0(sizeof(uint32) * (lists + 1));
    for (size_t i = 0; i < b->n; i++) s.offsets[b->entry_list[i] + 1]++;
    for (int l = 0; l < lists; l++) s.offsets[l + 1] += s.offsets[l];
    uint32 *fill = (uint32 *)palloc(sizeof(uint32) * lists);
    memcpy(fill, s.offsets, sizeof(uint32) * lists);
    s.order = (uint32 *)palloc_extended(sizeof(uint32) * (b->n + 1), MCXT_ALLOC_HUGE);
    for (size_t i = 0; i < b->n; i++) s.order[fill[b->entry_list[i]]++] = (uint32)i;
    s.ids = (uint64 *)palloc_extended(sizeof(uint64) * (b->n + 1), MCXT_ALLOC_HUGE);
    s.codes = (uint8 *)palloc_extended(b->n * (size_t)m + 1, MCXT_ALLOC_HUGE);
    const int rb = b->geo.ref_bytes;
    s.refs = (char *)palloc_extended(b->n * (size_t)rb + 1, MCXT_ALLOC_HUGE);
    for (size_t i = 0; i < b->n; i++) {
        s.ids[i] = IvfTidId(&b->entry_tid[s.order[i]]);
        memcpy(s.codes + i * m, b->entry_codes + (size_t)s.order[i] * m, m);
        memcpy(s.refs + i * rb, &b->entry_tid[s.order[i]], sizeof(ItemPointerData));
        if (b->vectors)
            memcpy(s.refs + i * rb + sizeof(ItemPointerData), &b->entry_loc[s.order[i]],
                   sizeof(ItemPointerData));
    }
    s.blocks = NULL;
    s.block_of = NULL;
    if (b->geo.bits == 4) {
        s.block_of = (uint32 *)palloc(sizeof(uint32) * (lists + 1));
        uint32 nblocks = 0;
        for (int l = 0; l < lists; l++) {
            s.block_of[l] = nblocks;
            nblocks += (s.offsets[l + 1] - s.offsets[l] + gigavector::kFastScanBlock - 1) /
                       gigavector::kFastScanBlock;
        }
        size_t bb = gigavector::FastScanBlockBytes(m);
        s.blocks = (uint8 *)palloc_extended(bb * nblocks + 1, MCXT_ALLOC_HUGE);
        for (int l = 0; l < lists; l++) {
            uint32 first = s.offsets[l], count = s.offsets[l + 1] - first;
            for (uint32 at = 0; at < count; at += gigavector::kFastScanBlock) {
                int n = (int)std::min<uint32>(gigavector::kFastScanBlock, count - at);
                gigavector::PackFastScanBlock(s.codes + (size_t)(first + at) * m, n, m,
                                              s.blocks + (s.block_of[l] + at / 32) * bb);
            }
        }
    }
    return s;
}

// Measures the default probes and rerank_candidates (phase 5).
void Calibrate(BuildState *b, const SortedLists &s, IvfMeta *meta) {
    IvfOptions *opts = ivfpq_options(b->index);
    meta->probes = opts->probes;
    meta->rerank_candidates = opts->rerank_candidates;
    if (opts->probes > 0 && opts->rerank_candidates > 0) return;
    if (meta->exact || b->queries == 0) {
        if (meta->probes == 0) meta->probes = b->lists;
        if (meta->rerank_candidates == 0) meta->rerank_candidates = 100;
        return;
    }
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kIvfPhaseCalibrate);
    uint64 *truth = (uint64 *)palloc(sizeof(uint64) * (size_t)b->queries * kCalibrationK);
    b->truth.TakeResult(truth);
    gigavector::IvfArrayLists lists;
    lists.offsets = s.offsets;
    lists.ids = s.ids;
    lists.codes = s.codes;
    lists.blocks = s.blocks;
    lists.block_of = s.block_of;
    lists.m = b->geo.m;
    // costs in ns, measured on one core (GloVe-100, MNIST-784): a 4-bit code
    // per 4 subvectors about 0.25, an 8-bit code per subvector 0.6; a
    // re-rank from the heap about 1.5 us plus the distance, and 27 us more
    // when the vector is TOASTed (MNIST's 3136 bytes: probes 8 at 25
    // candidates ran 1.07 ms, at 40 1.47 ms); from the index about 0.5 us;
    // a list ranked and its table prepared ~ dim * (1 + ksub / 8) / 4
    gigavector::IvfPqCostModel cost;
    cost.per_code = b->geo.bits == 4 ? 0.5 + 0.06 * b->geo.m : 1.0 + 0.6 * b->geo.m;
    bool toasted = (size_t)b->dim * sizeof(float) + 8 > TOAST_TUPLE_THRESHOLD;
    cost.per_rerank = (b->vectors ? 500.0 : 1500.0 + (toasted ? 27000.0 : 0.0)) + 0.3 * b->dim;
    cost.per_list = b->dim * (1.0 + (b->geo.bits == 4 ? 16 : 256) / 8.0) / 4.0;
    gigavector::IvfPqCalibration c;
    GV_CPP_BEGIN
    c = gigavector::CalibrateIvfPq(b->model, lists, b->sample, b->sample_ids, truth, b->queries,
                                   kCalibrationK, kIvfCalibrationRecall, cost);
    GV_CPP_END
    if (meta->probes == 0) {
        meta->probes = c.probes;
        meta->derived |= kIvfDerivedProbes;
    }
    if (meta->rerank_candidates == 0) {
        meta->rerank_candidates = c.rerank;
        meta->derived |= kIvfDerivedRerank;
    }
    meta->calibration_recall = (float)c.recall;
}

// Phase 6: every page (the meta page and directory last, once known).
void WritePages(BuildState *b) {
    FlushBatch(b);
    if (b->vectors && b->vec_block != InvalidBlockNumber) {
        AppendPage(b, b->vec_page);
        b->vec_block = b->next_block - 1;
    }
    SortedLists s = SortEntries(b);
    Page meta_image = (Page)palloc0(BLCKSZ);
    gv_init_page(meta_image, kIvfPageMeta, 0);
    IvfMeta *meta = (IvfMeta *)((char *)meta_image + GvPageDataOffset());
    // (the meta image's fields were set by the caller through b; see ivfpq_build)
    {
        Buffer buf = ReadBuffer(b->index, 0);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        memcpy(meta_image, BufferGetPage(buf), BLCKSZ);
        UnlockReleaseBuffer(buf);
    }
    Calibrate(b, s, meta);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kIvfPhaseWrite);

    const IvfGeometry &g = b->geo;
    const int per_dir = GvPageUsableBytes() / (int)sizeof(IvfListDir);
    IvfListDir *dir = (IvfListDir *)palloc(sizeof(IvfListDir) * (b->lists + 1));
    Page image = (Page)palloc0(BLCKSZ);
    for (int l = 0; l <= b->lists; l++) {
        dir[l].head = dir[l].tail = InvalidBlockNumber;
        dir[l].built = 0;
        dir[l].unused = 0;
        if (l == b->lists) break;  // the zero-vector list: filled by inserts
        uint32 first = s.offsets[l], count = s.offsets[l + 1] - first;
        dir[l].built = count;
        uint32 at = 0;
        while (at < count) {
            at += (uint32)ivfpq_fill_list_page(
                image, g, l, s.refs + (size_t)(first + at) * g.ref_bytes,
                s.codes + (size_t)(first + at) * g.m, (int)(count - at));
            IvfListPageOf(image)->next = at < count ? b->next_block + 1 : InvalidBlockNumber;
            BlockNumber blk = AppendPage(b, image);
            if (dir[l].head == InvalidBlockNumber) dir[l].head = blk;
            dir[l].tail = blk;
        }
    }
    // the directory pages
    for (int p = 0; p < b->directory_pages; p++) {
        gv_init_page(image, kIvfPageDirectory, 0);
        int first = p * per_dir, count = std::min(per_dir, b->lists + 1 - first);
        if (count > 0) {
            memcpy((char *)image + GvPageDataOffset(), dir + first, sizeof(IvfListDir) * count);
            ((PageHeader)image)->pd_lower =
                (LocationIndex)(GvPageDataOffset() + sizeof(IvfListDir) * count);
        }
        RewritePage(b, b->directory_block + p, image);
    }
    meta->built_rows = (double)b->n;
    meta->built_residual = b->n > 0 ? (float)(b->residual_sum / (double)b->n) : 0.0f;
    meta->vector_tail = b->vectors ? b->vec_block : InvalidBlockNumber;
    RewritePage(b, 0, meta_image);
    if (RelationNeedsWAL(b->index))
        log_newpage_range(b->index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(b->index), true);
    b->written = true;
}

// Rows, and the memory one entry (list, TID, codes, locator) takes.
size_t EntryBytes(const BuildState *b) {
    return sizeof(uint32) + sizeof(ItemPointerData) * (b->vectors ? 2 : 1) + b->geo.m +
           /* sorted copies at write time */ sizeof(uint32) + sizeof(uint64) + b->geo.m +
           b->geo.ref_bytes;
}

}  // namespace

extern "C" IndexBuildResult *ivfpq_build(Relation heap, Relation index, IndexInfo *info) {
    if (RelationGetNumberOfBlocks(index) != 0)
        elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
    int dim = gv_indexed_dimensions(index);
    if (dim > kIvfMaxDimensions)
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("gv_ivfpq indexes at most %d dimensions, not %d", kIvfMaxDimensions, dim),
                 errhint("Reduce the dimensions (e.g. a shorter embedding model).")));
    IvfOptions *opts = ivfpq_options(index);
    BuildState *b = (BuildState *)palloc0(sizeof(BuildState));
    b->heap = heap;
    b->index = index;
    b->dim = dim;
    b->metric = gv_index_metric(index);
    b->vectors = opts->rerank == kIvfRerankIndex;
    b->threads = 1 + max_parallel_maintenance_workers;
    b->cxt = AllocSetContextCreate(CurrentMemoryContext, "gv_ivfpq build", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(b->cxt);

    // the sample's size: 40 rows per list (k-means wants at least ~40; 64
    // gave the same measured defaults on GloVe-100 and MNIST-784 at 1.5x
    // the training time) and 40 per PQ centroid, from the table's estimated rows, within half of
    // maintenance_work_mem
    double estimate = heap->rd_rel->reltuples;
    if (estimate < 0)
        estimate = (double)RelationGetNumberOfBlocks(heap) * (BLCKSZ / (dim * 4.0 + 40.0));
    int max_sub = ivfpq_max_subvectors(b->vectors);
    gigavector::IvfPqShapeChoice given{opts->lists, opts->subvectors, opts->bits};
    gigavector::IvfPqShapeChoice guess =
        gigavector::IvfPqDefaultShape(estimate, dim, given, max_sub);
    double want = std::max(40.0 * guess.lists, 40.0 * (1 << guess.bits));
    want = std::min(std::max(want, 1000.0), 200000.0);
    size_t budget = (size_t)maintenance_work_mem * 1024 / 2;
    size_t per_row = sizeof(float) * (size_t)dim + sizeof(uint64);
    double fit = (double)(budget / per_row);
    double smallest = std::max<double>(guess.lists, 1 << guess.bits);
    if (fit < smallest)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("maintenance_work_mem is too small for a gv_ivfpq sample"),
                        errdetail("Training %d lists of %d dimensions needs at least %.0f sample "
                                  "rows (%zu kB); maintenance_work_mem is %d kB.",
                                  guess.lists, dim, smallest,
                                  (size_t)(smallest * per_row * 2 / 1024), maintenance_work_mem),
                        errhint("SET maintenance_work_mem = '%zuMB', or fewer lists.",
                                (size_t)(smallest * per_row * 2 / (1024 * 1024)) + 16)));
    b->sample_cap = (int)std::min(want, fit);
    b->sample =
        (float *)palloc_extended(sizeof(float) * (size_t)b->sample_cap * dim, MCXT_ALLOC_HUGE);
    b->sample_ids = (uint64 *)palloc(sizeof(uint64) * b->sample_cap);
    b->rng = 0x2545f4914f6cdd1dull;
    b->zero_tids.Init(b->cxt, 16);

    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kIvfPhaseSample);
    table_index_build_scan(heap, index, info, false, true, SampleCallback, b, NULL);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64)b->rows);

    // the shape, from the rows there are
    gigavector::IvfPqShapeChoice shape =
        gigavector::IvfPqDefaultShape(b->rows, dim, given, max_sub);
    bool exact = b->rows < kIvfExactBelowRows;
    if (exact && opts->lists == 0) shape.lists = 1;
    if (shape.subvectors > dim)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("subvectors (%d) cannot exceed the dimensions (%d)", shape.subvectors, dim),
                 errhint("Use at most %d subvectors.", dim)));
    if (shape.bits == 4 && shape.subvectors > max_sub)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("subvectors (%d) with bits = 4 do not fit a page", shape.subvectors),
                        errdetail("A block of 32 4-bit codes must fit one page: at most %d "
                                  "subvectors%s.",
                                  max_sub, b->vectors ? " with rerank = index" : ""),
                        errhint("Use at most %d subvectors, or bits = 8.", max_sub)));
    if (shape.bits == 8 && ivfpq_geometry(dim, shape.subvectors, 8, b->vectors).TailCapacity(0) < 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("subvectors (%d) with bits = 8 do not fit a page", shape.subvectors),
                        errhint("Use fewer subvectors.")));
    b->lists = shape.lists;
    b->geo = ivfpq_geometry(dim, shape.subvectors, shape.bits, b->vectors);
    gigavector::PqShape pq;
    pq.dim = dim;
    pq.m = shape.subvectors;
    pq.bits = shape.bits;
    b->centroids = (float *)palloc_extended(sizeof(float) * (size_t)b->lists * dim,
                                            MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    b->codebook = (float *)palloc_extended(sizeof(float) * pq.CodebookFloats(),
                                           MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
    gigavector::KMeansParams params;
    // 8 Lloyd iterations, seeds from 16 points per centroid: on GloVe-100
    // and MNIST-784 the measured default settings and their sample recall
    // were those of 20 iterations seeded from all points (0.961 against
    // 0.966 on GloVe at probes 28, rerank 100), at a fifth of the time
    params.iterations = 8;
    params.seed_per_centroid = 16;
    params.threads = b->threads;
    if (b->sample_n > 0) {
        pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kIvfPhaseKMeans);
        GV_CPP_BEGIN
        gigavector::TrainKMeans(b->sample, (size_t)b->sample_n, (size_t)dim, (size_t)b->lists,
                                params, b->centroids);
        GV_CPP_END
        CHECK_FOR_INTERRUPTS();
        pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kIvfPhaseCodebook);
        GV_CPP_BEGIN
        gigavector::TrainIvfPqCodebook(b->sample, (size_t)b->sample_n, dim, b->lists, b->centroids,
                                       pq, params, b->codebook);
        GV_CPP_END
        CHECK_FOR_INTERRUPTS();
    }
    b->model.dim = dim;
    b->model.lists = b->lists;
    b->model.metric = b->metric;
    b->model.pq = pq;
    b->model.centroids = b->centroids;
    b->model.codebook = b->codebook;

    // the fixed pages: meta (rewritten at the end), centroids, codebook,
    // directory (rewritten)
    Page image = (Page)palloc0(BLCKSZ);
    IvfMeta *meta = (IvfMeta *)palloc0(sizeof(IvfMeta));
    InitMeta(meta, dim, b->metric, shape, opts->rerank, exact);
    meta->trained_rows = b->sample_n;
    meta->derived = (opts->lists == 0 ? kIvfDerivedLists : 0) |
                    (opts->subvectors == 0 ? kIvfDerivedSubvectors : 0) |
                    (opts->bits == 0 ? kIvfDerivedBits : 0);
    gv_init_page(image, kIvfPageMeta, 0);
    AppendPage(b, image);  // block 0, written in full below
    const int per_dir = GvPageUsableBytes() / (int)sizeof(IvfListDir);
    b->directory_pages = (b->lists + 1 + per_dir - 1) / per_dir;
    meta->centroid_block =
        AppendStream(b, kIvfPageCentroids, b->centroids, sizeof(float) * (size_t)b->lists * dim);
    meta->codebook_block =
        AppendStream(b, kIvfPageCodebook, b->codebook, sizeof(float) * pq.CodebookFloats());
    b->directory_block = b->next_block;
    for (int p = 0; p < b->directory_pages; p++) {
        gv_init_page(image, kIvfPageDirectory, 0);
        AppendPage(b, image);
    }
    meta->directory_block = b->directory_block;
    meta->directory_pages = (uint32)b->directory_pages;
    gv_init_page(image, kIvfPageMeta, 0);
    memcpy((char *)image + GvPageDataOffset(), meta, sizeof(IvfMeta));
    ((PageHeader)image)->pd_lower = (LocationIndex)(GvPageDataOffset() + sizeof(IvfMeta));
    RewritePage(b, 0, image);

    // calibration queries: the first of the (random) sample
    b->queries = exact ? 0 : std::min(kIvfCalibrationQueries, b->sample_n);
    b->truth.queries = b->sample;
    b->truth.query_ids = b->sample_ids;
    b->truth.q = b->queries;
    b->truth.dim = dim;
    b->truth.k = kCalibrationK;
    b->truth.metric = b->metric;
    b->truth.threads = b->threads;
    b->truth.heaps = (gigavector::IvfNeighbourEntry *)palloc(sizeof(gigavector::IvfNeighbourEntry) *
                                                             (b->queries * kCalibrationK + 1));
    b->truth.sizes = (int *)palloc0(sizeof(int) * (b->queries + 1));
    b->truth.work = (float *)palloc(sizeof(float) * ((size_t)b->queries * kBatch + 1));

    // the entries, within the other half of maintenance_work_mem
    size_t entry_budget = (size_t)maintenance_work_mem * 1024 / 2;
    b->cap_limit = std::max<size_t>(entry_budget / EntryBytes(b), kBatch);
    b->cap = std::min<size_t>(b->cap_limit, (size_t)std::max(b->rows * 1.05, 1024.0) + kBatch);
    b->entry_list = (uint32 *)palloc_extended(sizeof(uint32) * b->cap, MCXT_ALLOC_HUGE);
    b->entry_tid =
        (ItemPointerData *)palloc_extended(sizeof(ItemPointerData) * b->cap, MCXT_ALLOC_HUGE);
    if (b->vectors)
        b->entry_loc =
            (ItemPointerData *)palloc_extended(sizeof(ItemPointerData) * b->cap, MCXT_ALLOC_HUGE);
    b->entry_codes = (uint8 *)palloc_extended(b->cap * (size_t)b->geo.m, MCXT_ALLOC_HUGE);
    b->batch = (float *)palloc(sizeof(float) * (size_t)kBatch * dim);
    b->batch_tid = (ItemPointerData *)palloc(sizeof(ItemPointerData) * kBatch);
    b->vec_page = (Page)palloc0(BLCKSZ);
    b->vec_block = InvalidBlockNumber;

    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kIvfPhaseAssign);
    double reltuples =
        table_index_build_scan(heap, index, info, false, true, AssignCallback, b, NULL);
    if (!b->written) WritePages(b);
    // zero vectors (cosine) on their list
    for (const ItemPointerData &tid : b->zero_tids) {
        const IvfState *st = ivfpq_state(index);
        char ref[2 * sizeof(ItemPointerData)];
        memcpy(ref, &tid, sizeof(tid));
        ItemPointerSetInvalid((ItemPointer)(ref + sizeof(ItemPointerData)));
        uint8 *codes = (uint8 *)palloc0(st->geo.m);
        ivfpq_append_entry(index, st, st->meta.lists, ref, codes);
    }

    IvfMeta done;
    ivfpq_read_meta(index, &done);
    if (exact)
        ereport(NOTICE,
                (errmsg("gv_ivfpq index \"%s\" was built on %.0f rows: its scans read every "
                        "entry",
                        RelationGetRelationName(index), b->rows),
                 errhint("Create the index after loading the table (at least %.0f rows) for "
                         "lists trained on the data.",
                         kIvfExactBelowRows)));
    else
        ereport(NOTICE,
                (errmsg("gv_ivfpq index \"%s\": lists = %d, subvectors = %d, bits = %d, "
                        "probes = %d, rerank_candidates = %d",
                        RelationGetRelationName(index), done.lists, done.subvectors, done.bits,
                        done.probes, done.rerank_candidates),
                 done.calibration_recall > 0
                     ? errdetail("Options not given were derived from %.0f rows of %d "
                                 "dimensions; probes and rerank_candidates reached recall@10 "
                                 "%.3f on %d of the rows. gigavector.ivfpq_stats('%s') shows "
                                 "them.",
                                 b->rows, dim, done.calibration_recall, b->queries,
                                 RelationGetRelationName(index))
                     : errdetail("Options not given were derived from %.0f rows of %d "
                                 "dimensions; probes and rerank_candidates are the index's "
                                 "options (no calibration ran).",
                                 b->rows, dim)));
    if (b->paged > 0)
        ereport(NOTICE,
                (errmsg("gv_ivfpq inserted %.0f of %.0f rows page by page: their codes did not "
                        "fit in maintenance_work_mem",
                        b->paged, b->indtuples),
                 errhint("SET maintenance_work_mem higher before CREATE INDEX so that VACUUM "
                         "need not pack them later.")));
    double index_tuples = b->indtuples;
    MemoryContextSwitchTo(old);
    MemoryContextDelete(b->cxt);
    IndexBuildResult *result = (IndexBuildResult *)palloc(sizeof(IndexBuildResult));
    result->heap_tuples = reltuples;
    result->index_tuples = index_tuples;
    return result;
}

// Empty index in the init fork (UNLOGGED tables): an untrained index of one
// list whose scans read every entry.
extern "C" void ivfpq_buildempty(Relation index) {
    int dim = gv_indexed_dimensions(index);
    IvfOptions *opts = ivfpq_options(index);
    bool vectors = opts->rerank == kIvfRerankIndex;
    gigavector::IvfPqShapeChoice given{1, opts->subvectors, opts->bits};
    gigavector::IvfPqShapeChoice shape =
        gigavector::IvfPqDefaultShape(0, dim, given, ivfpq_max_subvectors(vectors));
    gigavector::PqShape pq;
    pq.dim = dim;
    pq.m = shape.subvectors;
    pq.bits = shape.bits;
    size_t cbytes = sizeof(float) * (size_t)dim;
    size_t bbytes = sizeof(float) * pq.CodebookFloats();
    int usable = GvPageUsableBytes();
    int cpages = (int)((cbytes + usable - 1) / usable),
        bpages = (int)((bbytes + usable - 1) / usable);
    Page image = (Page)palloc0(BLCKSZ);
    gv_init_page(image, kIvfPageMeta, 0);
    IvfMeta *meta = (IvfMeta *)((char *)image + GvPageDataOffset());
    InitMeta(meta, dim, gv_index_metric(index), shape, opts->rerank, true);
    meta->probes = 1;
    meta->rerank_candidates = 100;
    meta->centroid_block = 1;
    meta->codebook_block = 1 + cpages;
    meta->directory_block = 1 + cpages + bpages;
    meta->directory_pages = 1;
    ((PageHeader)image)->pd_lower = (LocationIndex)(GvPageDataOffset() + sizeof(IvfMeta));
    auto write = [&](Page p) {
        Buffer buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, NULL);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        START_CRIT_SECTION();
        memcpy(BufferGetPage(buf), p, BLCKSZ);
        MarkBufferDirty(buf);
        log_newpage_buffer(buf, true);
        END_CRIT_SECTION();
        UnlockReleaseBuffer(buf);
    };
    write(image);
    for (int p = 0; p < cpages + bpages; p++) {  // zero centroid and codebook
        gv_init_page(image, p < cpages ? kIvfPageCentroids : kIvfPageCodebook, 0);
        ((PageHeader)image)->pd_lower = (LocationIndex)(GvPageDataOffset() + usable);
        write(image);
    }
    gv_init_page(image, kIvfPageDirectory, 0);
    IvfListDir *dir = (IvfListDir *)((char *)image + GvPageDataOffset());
    for (int l = 0; l < 2; l++) dir[l] = IvfListDir{InvalidBlockNumber, InvalidBlockNumber, 0, 0};
    ((PageHeader)image)->pd_lower = (LocationIndex)(GvPageDataOffset() + 2 * sizeof(IvfListDir));
    write(image);
}
