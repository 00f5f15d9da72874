// gv_hnsw utilities: page layout, meta page, options, GUCs, metric lookup,
// vector preparation and the pieces of page writing shared by build and
// insert.
#include "hnsw.h"

#include <cmath>

extern "C" {
#include "access/relation.h"
#include "utils/memutils.h"
}

int gv_hnsw_ef_search = 0;
int gv_max_scan_tuples = 20000;

// GUCs of gv_hnsw; called from _PG_init before the prefix is reserved.
void hnsw_define_gucs(void) {
    DefineCustomIntVariable(
        "gigavector.hnsw_ef_search", "Candidate list size for gv_hnsw scans.",
        "0 uses the index's ef_search option (default 320 when not set). Larger is slower and "
        "more accurate.",
        &gv_hnsw_ef_search, 0, 0, kHnswMaxEfSearch, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable(
        "gigavector.max_scan_tuples",
        "How many tuples a gv_hnsw scan may return before it stops looking for more.",
        "A filtered query keeps asking the index for rows until LIMIT is met; the scan widens its "
        "search as needed up to this many tuples.",
        &gv_max_scan_tuples, 20000, 1, INT_MAX, PGC_USERSET, 0, NULL, NULL, NULL);
}

// Usable bytes of a page between the header and our special space.
static int UsableBytes() {
    return BLCKSZ - (int)MAXALIGN(SizeOfPageHeaderData) - (int)MAXALIGN(sizeof(HnswPageOpaque));
}

// Bytes to reserve on a node page of n nodes for their upper-level lists:
// twice the expected 1/(m-1) lists per node, plus one node of the highest
// likely level.
static int UpperReserve(int n, int m) {
    int list_bytes = (int)sizeof(uint32) * (m + 1);
    int expected_lists = (2 * n + (m - 2)) / (m - 1);
    return (expected_lists + 3) * list_bytes;
}

void hnsw_compute_layout(int dim, gigavector::Metric metric, int m, int ef_construction,
                         bool float_slots, HnswLayout *layout) {
    HnswLayout &l = *layout;
    l.dim = dim;
    l.metric = metric;
    l.m = m;
    l.ef_construction = ef_construction;
    int usable = UsableBytes();
    int base = (int)sizeof(HnswNodeHeader) + (int)sizeof(uint32) * 2 * m;
    // Float slots when asked for and one node with its vector and an upper
    // reserve fits a page; else codes when two nodes with codes fit; else
    // neither (traversal reads the vector pages).
    int with_vector = base + (int)sizeof(float) * dim;
    int with_codes = (int)TYPEALIGN(4, base + dim);
    l.inline_vectors = float_slots && with_vector + UpperReserve(1, m) <= usable;
    l.use_codes = !l.inline_vectors && 2 * with_codes + UpperReserve(2, m) <= usable;
    l.node_size = l.inline_vectors ? with_vector
                  : l.use_codes    ? with_codes
                                   : (int)TYPEALIGN(4, base);
    int n = usable / l.node_size;
    while (n > 1 && n * l.node_size + UpperReserve(n, m) > usable) n--;
    l.nodes_per_page = n;
    l.upper_reserve = usable - n * l.node_size;
    l.node_pages = 1;
    int vector_bytes = (int)(sizeof(float) * dim);
    if (l.inline_vectors) {
        l.vectors_per_page = 0;
        l.pages_per_vector = 0;
        l.group_pages = 1;
    } else if (vector_bytes <= usable) {
        l.vectors_per_page = usable / vector_bytes;
        l.pages_per_vector = 1;
        // node pages per group: the fewest pages per node, preferring fewer
        // node pages (smaller groups) on ties
        double best = 1e9;
        for (int k = 1; k <= 8; k++) {
            int vpages = (k * n + l.vectors_per_page - 1) / l.vectors_per_page;
            double per_node = (double)(k + vpages) / (k * n);
            if (per_node < best - 1e-9) {
                best = per_node;
                l.node_pages = k;
            }
        }
        l.group_pages =
            l.node_pages + (l.node_pages * n + l.vectors_per_page - 1) / l.vectors_per_page;
    } else {
        l.vectors_per_page = 0;
        l.pages_per_vector = (vector_bytes + usable - 1) / usable;
        l.group_pages = 1 + n * l.pages_per_vector;
    }
}

BlockNumber HnswLayout::VectorBlock(uint32 id, int *offset) const {
    BlockNumber vector_start = GroupStart(id) + (BlockNumber)node_pages;
    uint32 index = id % GroupNodes();
    if (vectors_per_page > 0) {
        *offset = (int)MAXALIGN(SizeOfPageHeaderData) +
                  (int)(index % (uint32)vectors_per_page) * (int)VectorBytes();
        return vector_start + index / (uint32)vectors_per_page;
    }
    *offset = (int)MAXALIGN(SizeOfPageHeaderData);
    return vector_start + (BlockNumber)index * pages_per_vector;
}

void hnsw_write_list(Relation index, Buffer buf, const HnswLayout &l, uint32 id, int level,
                     const uint32 *ids, int count) {
    GenericXLogState *state = GenericXLogStart(index);
    Page page = GenericXLogRegisterBuffer(state, buf, 0);
    HnswSetList(page, HnswNodeAt(page, l, l.Slot(id)), l, level, ids, count);
    GenericXLogFinish(state);
}

void hnsw_init_page(Page page, uint16 page_type, uint32 group) {
    PageInit(page, BLCKSZ, sizeof(HnswPageOpaque));
    HnswPageOpaque *opaque = (HnswPageOpaque *)PageGetSpecialPointer(page);
    opaque->page_type = page_type;
    opaque->unused = 0;
    opaque->group = group;
}

static HnswMeta *MetaOf(Page page) {
    return (HnswMeta *)((char *)page + MAXALIGN(SizeOfPageHeaderData));
}

void hnsw_init_meta(Page page, const HnswLayout &l) {
    hnsw_init_page(page, kHnswPageMeta, 0);
    HnswMeta *meta = MetaOf(page);
    memset(meta, 0, sizeof(HnswMeta));
    meta->magic = kHnswMagic;
    meta->version = kHnswVersion;
    meta->dim = l.dim;
    meta->metric = (uint8)l.metric;
    meta->storage = l.inline_vectors ? kStorageInline
                    : l.use_codes    ? kStorageCodes
                                     : kStorageVectorPages;
    meta->m = (uint16)l.m;
    meta->ef_construction = (uint16)l.ef_construction;
    meta->node_size = (uint16)l.node_size;
    meta->nodes_per_page = (uint16)l.nodes_per_page;
    meta->vectors_per_page = (uint16)l.vectors_per_page;
    meta->pages_per_vector = (uint16)l.pages_per_vector;
    meta->group_pages = (uint16)l.group_pages;
    meta->node_pages = (uint16)l.node_pages;
    meta->upper_reserve = (uint16)l.upper_reserve;
    meta->node_count = 0;
    meta->entry_node = gigavector::kNoNode;
    meta->entry_level = -1;
    meta->free_head = gigavector::kNoNode;
    meta->zero_head = gigavector::kNoNode;
    // pd_lower past the meta data so full-page images keep it
    ((PageHeader)page)->pd_lower = (LocationIndex)((char *)(meta + 1) - (char *)page);
}

HnswMeta *hnsw_meta_of(Page page) {
    HnswMeta *meta = MetaOf(page);
    if (meta->magic != kHnswMagic)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED), errmsg("gv_hnsw meta page is corrupted"),
                        errhint("REINDEX the index.")));
    if (meta->version != kHnswVersion)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("gv_hnsw index has on-disk version %u, this build reads %u",
                               meta->version, kHnswVersion),
                        errhint("REINDEX the index.")));
    return meta;
}

void hnsw_read_meta(Relation index, HnswMeta *out) {
    Buffer buf = ReadBuffer(index, 0);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    *out = *hnsw_meta_of(BufferGetPage(buf));
    UnlockReleaseBuffer(buf);
}

HnswLayout hnsw_get_layout(Relation index) {
    if (index->rd_amcache != NULL) return *(const HnswLayout *)index->rd_amcache;
    HnswMeta meta;
    hnsw_read_meta(index, &meta);
    HnswLayout *l = (HnswLayout *)MemoryContextAllocZero(index->rd_indexcxt, sizeof(HnswLayout));
    hnsw_compute_layout(meta.dim, (gigavector::Metric)meta.metric, meta.m, meta.ef_construction,
                        meta.storage == kStorageInline, l);
    if (l->node_size != meta.node_size || l->nodes_per_page != meta.nodes_per_page ||
        l->group_pages != meta.group_pages || l->node_pages != meta.node_pages ||
        (l->inline_vectors ? kStorageInline
         : l->use_codes    ? kStorageCodes
                           : kStorageVectorPages) != meta.storage)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("gv_hnsw index \"%s\" has a page layout this build does not produce",
                               RelationGetRelationName(index)),
                        errhint("REINDEX the index.")));
    index->rd_amcache = l;
    return *l;
}

gigavector::Metric hnsw_get_metric(Relation index) {
    RegProcedure proc = index_getprocid(index, 1, kHnswMetricProc);
    int metric = DatumGetInt32(OidFunctionCall0Coll(proc, InvalidOid));
    if (metric < 0 || metric > (int)gigavector::Metric::kL1)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("gv_hnsw operator class reports unknown metric %d", metric),
                        errhint("Use one of the gvector_*_ops operator classes.")));
    return (gigavector::Metric)metric;
}

void hnsw_get_options(Relation index, int *m, int *ef_construction, int *ef_search) {
    HnswOptions *opts = (HnswOptions *)index->rd_options;
    *m = opts ? opts->m : kHnswDefaultM;
    *ef_construction = opts ? opts->ef_construction : kHnswDefaultEfConstruction;
    *ef_search = opts ? opts->ef_search : kHnswDefaultEfSearch;
}

bool hnsw_float_slots(Relation index) {
    HnswOptions *opts = (HnswOptions *)index->rd_options;
    return opts != NULL && opts->storage == kHnswStorageFloat;
}

int hnsw_ef_search(Relation index) {
    if (gv_hnsw_ef_search > 0) return gv_hnsw_ef_search;
    int m, efc, ef;
    hnsw_get_options(index, &m, &efc, &ef);
    return ef;
}

bool hnsw_prepare_vector(Datum value, const HnswLayout &layout, float *out) {
    GVector *v = DatumGetGvector(value);
    if (v->dim != layout.dim)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("expected %d dimensions, not %d", layout.dim, v->dim),
                        errhint("A gv_hnsw index holds vectors of one dimension count; declare "
                                "the column as gvector(%d).",
                                layout.dim)));
    memcpy(out, v->x, sizeof(float) * layout.dim);
    if ((Pointer)v != DatumGetPointer(value)) pfree(v);
    return gigavector::PrepareForMetric(layout.metric, out, (size_t)layout.dim);
}

void hnsw_fill_node(Page node_page, const HnswLayout &l, int slot, ItemPointer tid, int level,
                    uint16 upper_offset, const float *prepared) {
    HnswNodeHeader *node = HnswNodeAt(node_page, l, slot);
    memset(node, 0, l.node_size);
    node->heap_tid = *tid;
    node->flags = kNodeValid;
    node->level = (uint8)level;
    node->upper_offset = upper_offset;
    node->count0 = 0;
    if (prepared == nullptr)
        ;  // a zero vector: no vector data
    else if (l.inline_vectors)
        memcpy(HnswInlineVector(node, l), prepared, l.VectorBytes());
    else if (l.use_codes)
        gigavector::Sq8Encode(prepared, (size_t)l.dim, &node->code_header, HnswCodes(node, l));
    for (int lev = 1; lev <= level; lev++) HnswUpperList(node_page, node, l, lev)[0] = 0;
}

// Copies the vector of `id` into a page image set starting at `first` (one
// page, or pages_per_vector consecutive pages).
void hnsw_write_vector(Page *pages, const HnswLayout &l, int offset, const float *prepared) {
    const char *src = (const char *)prepared;
    size_t left = l.VectorBytes();
    int usable = UsableBytes();
    for (int p = 0; left > 0; p++) {
        size_t chunk = left < (size_t)usable ? left : (size_t)usable;
        memcpy((char *)pages[p] + (p == 0 ? offset : (int)MAXALIGN(SizeOfPageHeaderData)), src,
               chunk);
        src += chunk;
        left -= chunk;
    }
}

int hnsw_usable_bytes(void) {
    return UsableBytes();
}
