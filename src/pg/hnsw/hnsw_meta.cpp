// gv_hnsw utilities: page layout, meta page, options, GUCs, metric lookup,
// vector preparation and the pieces of page writing shared by build and
// insert.
#include "hnsw/hnsw_am.h"

#include <cmath>

extern "C" {
#include "access/relation.h"
#include "port/pg_crc32c.h"
#include "utils/memutils.h"
}

int gv_hnsw_ef_search = 0;

// GUCs of gv_hnsw; called from _PG_init before the prefix is reserved.
void hnsw_define_gucs(void) {
    DefineCustomIntVariable(
        "gigavector.hnsw_ef_search", "Candidate list size for gv_hnsw scans.",
        "0 uses the index's ef_search option, or, when that is not set, the default CREATE INDEX "
        "measured on the index's own rows (gigavector.hnsw_stats shows it). Larger is slower and "
        "more accurate.",
        &gv_hnsw_ef_search, 0, 0, kHnswMaxEfSearch, PGC_USERSET, 0, NULL, NULL, NULL);
}

// Usable bytes of a page between the header and our special space.

gigavector::HnswPageFormat hnsw_page_format(void) {
    return gigavector::HnswPageFormat{(int)GvPageDataOffset(), GvPageUsableBytes(),
                                      (int)sizeof(HnswNodeHeader)};
}

void hnsw_compute_layout(int dim, gigavector::Metric metric, int m, int ef_construction,
                         bool want_f32, HnswLayout *layout, int code_bytes) {
    memset(layout, 0, sizeof(HnswLayout));
    gigavector::HnswPageFormat format = hnsw_page_format();
    bool fits = gigavector::ComputeHnswGeometry(dim, m, want_f32, format, layout, code_bytes);
    layout->metric = metric;
    layout->ef_construction = ef_construction;
    if (!fits)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("storage = f32 cannot hold %d dimensions at m = %d", dim, m),
                 errdetail("f32 keeps each float vector in its graph slot, which fits at most %d "
                           "dimensions at m = %d.",
                           gigavector::MaxF32Dimensions(m, format), m),
                 errhint("Use storage = sq8 (the default), or a smaller m.")));
}

void hnsw_write_list(Relation index, Buffer buf, const HnswLayout &l, uint32 id, int level,
                     const uint32 *ids, int count) {
    GenericXLogState *state = GenericXLogStart(index);
    Page page = GenericXLogRegisterBuffer(state, buf, 0);
    HnswSetList(page, HnswNodeAt(page, l, l.Slot(id)), l, level, ids, count);
    GenericXLogFinish(state);
}

static HnswMeta *MetaOf(Page page) {
    return (HnswMeta *)((char *)page + GvPageDataOffset());
}

void hnsw_init_meta(Page page, const HnswLayout &l) {
    gv_init_page(page, kHnswPageMeta, 0);
    HnswMeta *meta = MetaOf(page);
    memset(meta, 0, sizeof(HnswMeta));
    meta->magic = kHnswMagic;
    meta->version = kHnswVersion;
    meta->dim = l.dim;
    meta->metric = (uint8)l.metric;
    meta->storage = (uint8)l.storage;
    meta->m = (uint16)l.m;
    meta->ef_construction = (uint16)l.ef_construction;
    meta->node_size = (uint16)l.node_size;
    meta->nodes_per_page = (uint16)l.nodes_per_page;
    meta->vector_pages = (uint16)l.vector_pages;
    meta->code_bytes = (uint16)l.code_bytes;
    meta->group_pages = (uint16)l.group_pages;
    meta->node_pages = (uint16)l.node_pages;
    meta->upper_reserve = (uint16)l.upper_reserve;
    meta->node_count = 0;
    meta->entry_node = gigavector::kNoNode;
    meta->entry_level = -1;
    meta->free_head = gigavector::kNoNode;
    meta->zero_head = gigavector::kNoNode;
    meta->quantizer_pages = (uint16)l.quantizer_pages;
    meta->coded_from = gigavector::kNoNode;  // untrained until the build or an insert trains it
    meta->trained_rows = 0;
    meta->uncoded_nodes = 0;
    // pd_lower past the meta data so full-page images keep it
    ((PageHeader)page)->pd_lower = (LocationIndex)((char *)(meta + 1) - (char *)page);
}

const char *hnsw_meta_problem(const HnswMeta *meta) {
    if (meta->magic != kHnswMagic) return "the meta page has no gv_hnsw magic number";
    if (meta->version != kHnswVersion) return NULL;  // reported as such by the caller
    if (meta->dim < 1 || meta->dim > kGvectorMaxDim) return "the dimension count is out of range";
    if (meta->metric > (uint8)gigavector::Metric::kL1) return "the metric is unknown";
    if (meta->storage > (uint8)gigavector::HnswStorage::kF32) return "the storage mode is unknown";
    if (meta->m < kHnswMinM || meta->m > kHnswMaxM) return "m is out of range";
    if (meta->ef_construction < kHnswMinEfConstruction ||
        meta->ef_construction > kHnswMaxEfConstruction)
        return "ef_construction is out of range";
    if (meta->node_count >= gigavector::kNoNode) return "the node count is out of range";
    if (meta->entry_level < -1 || meta->entry_level > gigavector::kHnswMaxLevel)
        return "the entry level is out of range";
    if (meta->entry_node != gigavector::kNoNode && meta->entry_node >= meta->node_count)
        return "the entry point is beyond the node count";
    if ((meta->free_head != gigavector::kNoNode && meta->free_head >= meta->node_count) ||
        (meta->zero_head != gigavector::kNoNode && meta->zero_head >= meta->node_count) ||
        meta->free_count > meta->node_count || meta->zero_count > meta->node_count)
        return "the free list or zero chain is beyond the node count";
    if (meta->coded_from != gigavector::kNoNode && meta->coded_from > meta->node_count)
        return "the first coded node is beyond the node count";
    if (meta->code_bytes > meta->dim || meta->coded_dims > meta->code_bytes)
        return "the code bytes or coded dimensions exceed the dimension count";
    if (meta->uncoded_nodes > meta->node_count)
        return "more nodes are counted without codes than the index has";
    return NULL;
}

HnswMeta *hnsw_meta_of(Relation index, Page page) {
    HnswMeta *meta = MetaOf(page);
    const char *problem = hnsw_meta_problem(meta);
    if (problem != NULL) gv_report_corrupted(index, 0, "%s", problem);
    if (meta->version != kHnswVersion)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("gv_hnsw index \"%s\" has on-disk version %u, this build reads %u",
                               RelationGetRelationName(index), meta->version, kHnswVersion),
                        errhint("REINDEX the index.")));
    return meta;
}

void hnsw_read_meta(Relation index, HnswMeta *out) {
    Buffer buf = gv_read_page(index, 0, kHnswPageMeta);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    *out = *hnsw_meta_of(index, BufferGetPage(buf));
    UnlockReleaseBuffer(buf);
}

void hnsw_check_node_count(Relation index, const HnswLayout &l, uint32 node_count) {
    if (node_count == 0) return;
    BlockNumber needed = l.GroupStart(node_count - 1) + (BlockNumber)l.group_pages;
    BlockNumber have = RelationGetNumberOfBlocks(index);
    if (have < needed)
        gv_report_corrupted(index, 0,
                            "the meta page counts %u nodes, which need %u blocks; the "
                            "index has %u",
                            node_count, needed, have);
}

bool hnsw_layout_from_meta(const HnswMeta &meta, HnswLayout *l) {
    memset(l, 0, sizeof(HnswLayout));
    bool fits = gigavector::ComputeHnswGeometry(
        meta.dim, meta.m, meta.storage == (uint8)gigavector::HnswStorage::kF32, hnsw_page_format(),
        l, meta.code_bytes);
    l->metric = (gigavector::Metric)meta.metric;
    l->ef_construction = meta.ef_construction;
    l->calibrated_ef = meta.calibrated_ef;
    return fits && l->node_size == meta.node_size && l->nodes_per_page == meta.nodes_per_page &&
           l->group_pages == meta.group_pages && l->node_pages == meta.node_pages &&
           l->vector_pages == meta.vector_pages && l->quantizer_pages == meta.quantizer_pages &&
           (uint8)l->storage == meta.storage && l->code_bytes == meta.code_bytes;
}

HnswLayout hnsw_get_layout(Relation index) {
    if (index->rd_amcache != NULL) return *(const HnswLayout *)index->rd_amcache;
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    HnswLayout *l = (HnswLayout *)MemoryContextAllocZero(index->rd_indexcxt, sizeof(HnswLayout));
    if (!hnsw_layout_from_meta(meta, l))
        gv_report_corrupted(index, 0,
                            "the meta page describes a page layout this build does "
                            "not produce");
    index->rd_amcache = l;
    return *l;
}

void hnsw_get_options(Relation index, int *m, int *ef_construction, int *ef_search) {
    HnswOptions *opts = (HnswOptions *)index->rd_options;
    *m = opts ? opts->m : kHnswDefaultM;
    *ef_construction = opts ? opts->ef_construction : kHnswDefaultEfConstruction;
    *ef_search = opts ? opts->ef_search : 0;  // 0: the index's calibrated default
}

bool hnsw_wants_f32(Relation index) {
    HnswOptions *opts = (HnswOptions *)index->rd_options;
    return opts != NULL && opts->storage == (int)gigavector::HnswStorage::kF32;
}

int hnsw_ef_search(Relation index) {
    if (gv_hnsw_ef_search > 0) return gv_hnsw_ef_search;
    int m, efc, ef;
    hnsw_get_options(index, &m, &efc, &ef);
    if (ef > 0) return ef;
    HnswLayout l = hnsw_get_layout(index);
    return l.calibrated_ef > 0 ? l.calibrated_ef : kHnswDefaultEfSearch;
}

bool hnsw_prepare_vector(Relation index, Datum value, const HnswLayout &layout, float *out) {
    return gv_prepare_vector(index, value, layout.dim, layout.metric, out);
}

bool hnsw_fill_node(Page node_page, const HnswLayout &l, const HnswCoding &coding, uint32 id,
                    ItemPointer tid, int level, uint16 upper_offset, const float *prepared) {
    HnswNodeHeader *node = HnswNodeAt(node_page, l, l.Slot(id));
    memset(node, 0, l.node_size);
    node->heap_tid = *tid;
    node->flags = kNodeValid;
    node->level = (uint8)level;
    node->upper_offset = upper_offset;
    node->count0 = 0;
    node->checksum = hnsw_node_checksum(tid, prepared, l.dim);
    bool represented = true;
    if (prepared == nullptr)
        ;  // a zero vector: no vector data
    else if (l.F32())
        memcpy(HnswInlineVector(node, l), prepared, l.VectorBytes());
    else if (l.Sq8() && coding.Coded(id)) {
        represented = gigavector::Sq8Encode(prepared, coding.Ranges(l), HnswCodes(node, l));
        // codes that do not stand for the vector are worse than none: the
        // node would sit in the graph where its clamped copy is
        if (represented)
            node->coded = 1;
        else
            memset(HnswCodes(node, l), 0, (size_t)l.code_bytes);
    }
    for (int lev = 1; lev <= level; lev++) HnswUpperList(node_page, node, l, lev)[0] = 0;
    return represented;
}

uint32 hnsw_node_checksum(const ItemPointerData *tid, const float *prepared, int dim) {
    pg_crc32c crc;
    INIT_CRC32C(crc);
    COMP_CRC32C(crc, tid, sizeof(ItemPointerData));
    if (prepared != nullptr) COMP_CRC32C(crc, prepared, sizeof(float) * (size_t)dim);
    FIN_CRC32C(crc);
    return crc;
}

uint32 hnsw_ranges_checksum(const float *ranges, int dim) {
    pg_crc32c crc;
    INIT_CRC32C(crc);
    COMP_CRC32C(crc, ranges, 2 * sizeof(float) * (size_t)dim);
    FIN_CRC32C(crc);
    return crc;
}

void hnsw_alloc_coding(MemoryContext cxt, const HnswLayout &l, HnswCoding *coding) {
    coding->coded_from = gigavector::kNoNode;
    coding->ranges = (float *)MemoryContextAlloc(cxt, 2 * l.VectorBytes());
    coding->dims = (uint32 *)MemoryContextAlloc(cxt, sizeof(uint32) * (size_t)l.dim);
    coding->coded = 0;
}

bool hnsw_set_coded_dims(const HnswLayout &l, HnswCoding *coding) {
    coding->coded =
        (uint32)gigavector::Sq8CodedDims(coding->ranges + l.dim, (size_t)l.dim, coding->dims);
    return coding->coded <= (uint32)l.code_bytes;
}

void hnsw_sync_coding(Relation index, const HnswLayout &l, uint32 coded_from, uint32 checksum,
                      HnswCoding *coding) {
    if (coding->coded_from == coded_from) return;
    if (coded_from != gigavector::kNoNode) {
        gv_read_stream(index, 1, (int)GvPageDataOffset(), coding->ranges, 2 * l.VectorBytes(),
                       kHnswPageQuantizer, true);
        uint32 actual = hnsw_ranges_checksum(coding->ranges, l.dim);
        if (actual != checksum)
            gv_report_corrupted(index, 1,
                                "the sq8 ranges on the quantizer pages do not match their "
                                "checksum (stored %08x, computed %08x)",
                                checksum, actual);
        if (!hnsw_set_coded_dims(l, coding))
            gv_report_corrupted(index, 1,
                                "the sq8 ranges code %u dimensions, more than the %d a slot holds",
                                coding->coded, l.code_bytes);
    }
    coding->coded_from = coded_from;
}

void hnsw_train_on_nodes(Relation index, const HnswLayout &l, Buffer metabuf, HnswCoding *coding) {
    HnswMeta *meta = hnsw_meta_of(index, BufferGetPage(metabuf));
    uint32 n = meta->node_count;
    size_t dim = (size_t)l.dim;
    float *hi = (float *)palloc(sizeof(float) * dim);
    float *v = (float *)palloc(sizeof(float) * dim);
    gigavector::Sq8Trainer trainer(dim, coding->ranges, hi);
    for (uint32 id = 0; id < n; id++) {
        Buffer buf = gv_read_page(index, l.NodeBlock(id), kHnswPageNodes);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        uint8 flags = HnswNodeAt(BufferGetPage(buf), l, l.Slot(id))->flags;
        UnlockReleaseBuffer(buf);
        if (!(flags & kNodeValid)) continue;  // zero vectors, free slots: no vector
        int offset;
        int pages;
        BlockNumber block = l.VectorBlock(id, &offset, &pages);
        gv_read_stream(index, block, offset, v, l.VectorBytes(), kHnswPageVectors, true);
        trainer.Add(v);
    }
    if (trainer.count() == 0) {
        pfree(hi);
        pfree(v);
        return;  // nothing to train on (all zero vectors): stay untrained
    }
    trainer.Finish(coding->ranges, coding->ranges + dim);
    // an index trained by an insert was built untrained, with slots of dim codes
    if (!hnsw_set_coded_dims(l, coding))
        elog(ERROR, "gv_hnsw: %u coded dimensions exceed the slots' %d", coding->coded,
             l.code_bytes);
    // the quantizer pages first, each in a record of its own: nothing reads
    // them until the meta page says the index is trained
    Page *images = (Page *)palloc(sizeof(Page) * l.quantizer_pages);
    for (int p = 0; p < l.quantizer_pages; p++) {
        images[p] = (Page)palloc(BLCKSZ);
        gv_init_page(images[p], kHnswPageQuantizer, 0);
    }
    gv_write_stream(images, (int)GvPageDataOffset(), coding->ranges, 2 * l.VectorBytes());
    for (int p = 0; p < l.quantizer_pages; p++) {
        Buffer buf = ReadBuffer(index, 1 + p);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        GenericXLogState *state = GenericXLogStart(index);
        Page page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
        memcpy(page, images[p], BLCKSZ);
        GenericXLogFinish(state);
        UnlockReleaseBuffer(buf);
        pfree(images[p]);
    }
    pfree(images);
    GenericXLogState *state = GenericXLogStart(index);
    meta = hnsw_meta_of(index, GenericXLogRegisterBuffer(state, metabuf, 0));
    meta->coded_from = n;
    meta->trained_rows = (uint32)trainer.count();
    meta->coded_dims = (uint16)coding->coded;
    meta->quantizer_checksum = hnsw_ranges_checksum(coding->ranges, l.dim);
    GenericXLogFinish(state);
    coding->coded_from = n;
    pfree(hi);
    pfree(v);
}
