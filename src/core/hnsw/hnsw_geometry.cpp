// gv_hnsw's page geometry (hnsw_geometry.h).
#include "gigavector/hnsw/hnsw_geometry.h"

namespace gigavector {

namespace {

// Bytes to reserve on a node page of n nodes for their upper-level lists:
// twice the expected 1/(m-1) lists per node, plus one node of the highest
// likely level.
int UpperReserve(int n, int m) {
    int list_bytes = (int)sizeof(uint32_t) * (m + 1);
    int expected_lists = (2 * n + (m - 2)) / (m - 1);
    return (expected_lists + 3) * list_bytes;
}

int AlignUp4(int n) {
    return (n + 3) & ~3;
}

}  // namespace

const char *HnswStorageName(HnswStorage storage) noexcept {
    switch (storage) {
        case HnswStorage::kSq8:
            return "sq8";
        case HnswStorage::kF32:
            return "f32";
        case HnswStorage::kVectorPages:
            break;
    }
    return "vector pages";
}

int MaxF32Dimensions(int m, const HnswPageFormat &f) noexcept {
    int base = f.node_header_bytes + (int)sizeof(uint32_t) * 2 * m;
    return (f.usable_bytes - UpperReserve(1, m) - base) / (int)sizeof(float);
}

bool ComputeHnswGeometry(int dim, int m, bool want_f32, const HnswPageFormat &f, HnswGeometry *out,
                         int code_bytes) noexcept {
    HnswGeometry &g = *out;
    g.dim = dim;
    g.m = m;
    g.data_offset = f.data_offset;
    g.usable = f.usable_bytes;
    int usable = f.usable_bytes;
    int base = f.node_header_bytes + (int)sizeof(uint32_t) * 2 * m;
    int with_vector = base + (int)sizeof(float) * dim;
    int with_codes = AlignUp4(base + dim);
    bool f32 = want_f32 && with_vector + UpperReserve(1, m) <= usable;
    // whether sq8 is chosen depends on dim alone, so that an index keeps its
    // storage mode whatever its quantizer codes
    bool sq8 = !f32 && 2 * with_codes + UpperReserve(2, m) <= usable;
    if (code_bytes <= 0 || code_bytes > dim) code_bytes = dim;
    g.code_bytes = sq8 ? code_bytes : 0;
    g.storage = f32 ? HnswStorage::kF32 : sq8 ? HnswStorage::kSq8 : HnswStorage::kVectorPages;
    g.node_size = f32 ? with_vector : sq8 ? AlignUp4(base + code_bytes) : AlignUp4(base);
    int n = usable / g.node_size;
    while (n > 1 && n * g.node_size + UpperReserve(n, m) > usable) n--;
    g.nodes_per_page = n;
    g.upper_reserve = usable - n * g.node_size;
    g.quantizer_pages =
        sq8 ? (int)((2 * sizeof(float) * (std::size_t)dim + usable - 1) / usable) : 0;
    g.node_pages = 1;
    g.vector_pages = 0;
    if (f32) {
        g.group_pages = 1;
        return true;
    }
    // node pages per group: the fewest pages per node (the vector stream's
    // last page as full as can be), fewer node pages on ties
    std::size_t vbytes = g.VectorBytes();
    double best = 1e18;
    for (int k = 1; k <= 16; k++) {
        std::size_t bytes = (std::size_t)k * (std::size_t)n * vbytes;
        int vpages = (int)((bytes + (std::size_t)usable - 1) / (std::size_t)usable);
        double per_node = (double)(k + vpages) / ((double)k * n);
        if (per_node < best - 1e-9) {
            best = per_node;
            g.node_pages = k;
            g.vector_pages = vpages;
        }
    }
    g.group_pages = g.node_pages + g.vector_pages;
    return !want_f32;
}

uint32_t HnswGeometry::VectorBlock(uint32_t id, int *offset, int *pages) const {
    uint32_t vector_start = GroupStart(id) + (uint32_t)node_pages;
    std::size_t at = (std::size_t)(id % GroupNodes()) * VectorBytes();
    uint32_t block = vector_start + (uint32_t)(at / (std::size_t)usable);
    std::size_t in_page = at % (std::size_t)usable;
    *offset = data_offset + (int)in_page;
    std::size_t end = in_page + VectorBytes();
    *pages = (int)((end + (std::size_t)usable - 1) / (std::size_t)usable);
    return block;
}

}  // namespace gigavector
