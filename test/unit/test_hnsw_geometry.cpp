// Unit tests of gv_hnsw's page geometry (hnsw_geometry.h): for every
// dimension and m an index accepts, every node slot and vector byte has one
// place, inside its group, and nothing overlaps or runs past a page.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "gigavector/hnsw/hnsw_geometry.h"

namespace gv = gigavector;

namespace {

// Postgres's 8 kB pages: a 24-byte header, 8 bytes of special space, and the
// 16-byte node header of hnsw_am.h. A second format checks nothing depends
// on those numbers.
const gv::HnswPageFormat kPg8k{24, 8192 - 24 - 8, 16};
const gv::HnswPageFormat kPg32k{24, 32768 - 24 - 8, 16};

// Checks what must hold of any geometry, and walks the first groups' nodes
// and vectors to see that they tile their pages.
void CheckGeometry(const gv::HnswGeometry &g, const gv::HnswPageFormat &f) {
    SCOPED_TRACE(testing::Message() << "dim " << g.dim << " m " << g.m << " storage "
                                    << gv::HnswStorageName(g.storage));
    ASSERT_GE(g.nodes_per_page, 1);
    ASSERT_GE(g.node_pages, 1);
    EXPECT_EQ(g.node_size % 4, 0);
    EXPECT_EQ(g.nodes_per_page * g.node_size + g.upper_reserve, f.usable_bytes);
    // room for at least one upper-level list of the highest level there is
    EXPECT_GE(g.upper_reserve, (int)g.UpperListBytes());
    std::size_t base = (std::size_t)f.node_header_bytes + sizeof(uint32_t) * 2 * g.m;
    switch (g.storage) {
        case gv::HnswStorage::kF32:
            EXPECT_GE((std::size_t)g.node_size, base + g.VectorBytes());
            EXPECT_EQ(g.vector_pages, 0);
            EXPECT_EQ(g.quantizer_pages, 0);
            break;
        case gv::HnswStorage::kSq8:
            EXPECT_GE((std::size_t)g.node_size, base + (std::size_t)g.code_bytes);
            EXPECT_LT((std::size_t)g.node_size, base + (std::size_t)g.code_bytes + 4);
            EXPECT_GE(g.code_bytes, 1);
            EXPECT_LE(g.code_bytes, g.dim);
            EXPECT_GE(g.nodes_per_page, 2);
            // lo and step of every dimension
            EXPECT_GE((std::size_t)g.quantizer_pages * f.usable_bytes, 2 * sizeof(float) * g.dim);
            EXPECT_LT((std::size_t)(g.quantizer_pages - 1) * f.usable_bytes,
                      2 * sizeof(float) * g.dim);
            break;
        case gv::HnswStorage::kVectorPages:
            EXPECT_GE((std::size_t)g.node_size, base);
            EXPECT_EQ(g.quantizer_pages, 0);
            break;
    }
    EXPECT_EQ(g.group_pages, g.node_pages + g.vector_pages);
    if (!g.F32()) {
        // the group's vector pages hold its vectors, with less than one page spare
        std::size_t bytes = (std::size_t)g.GroupNodes() * g.VectorBytes();
        EXPECT_GE((std::size_t)g.vector_pages * f.usable_bytes, bytes);
        EXPECT_LT((std::size_t)(g.vector_pages - 1) * f.usable_bytes, bytes);
    }
    EXPECT_EQ(g.Spanning(), !g.F32() && g.VectorBytes() > (std::size_t)f.usable_bytes);

    // Three groups' worth of ids: each node slot once, on a node block of its
    // group; each vector within its group's vector pages, contiguous with the
    // one before it.
    uint32_t ids = 3 * g.GroupNodes();
    std::map<std::pair<uint32_t, int>, uint32_t> slots;
    std::size_t stream = 0;  // byte position in the group's vector stream
    for (uint32_t id = 0; id < ids; id++) {
        uint32_t block = g.NodeBlock(id);
        int slot = g.Slot(id);
        ASSERT_GE(block, g.FirstGroupBlock());
        ASSERT_TRUE(g.IsNodeBlock(block)) << id;
        ASSERT_EQ(g.GroupOfBlock(block), id / g.GroupNodes()) << id;
        ASSERT_GE(block, g.GroupStart(id));
        ASSERT_LT(block, g.GroupStart(id) + (uint32_t)g.node_pages);
        ASSERT_LT(slot, g.nodes_per_page);
        ASSERT_LE(g.NodeOffset(slot) + (std::size_t)g.node_size,
                  (std::size_t)f.data_offset + f.usable_bytes - g.upper_reserve);
        ASSERT_TRUE(slots.emplace(std::make_pair(block, slot), id).second)
            << "ids " << slots[{block, slot}] << " and " << id << " share a slot";
        if (g.F32()) continue;
        if (id % g.GroupNodes() == 0) stream = 0;
        int offset = 0, pages = 0;
        uint32_t vblock = g.VectorBlock(id, &offset, &pages);
        uint32_t vector_start = g.GroupStart(id) + (uint32_t)g.node_pages;
        ASSERT_FALSE(g.IsNodeBlock(vblock)) << id;
        ASSERT_EQ(g.GroupOfBlock(vblock), id / g.GroupNodes()) << id;
        ASSERT_GE(offset, f.data_offset);
        ASSERT_LT(offset, f.data_offset + f.usable_bytes);
        // where the stream says it starts
        ASSERT_EQ((std::size_t)(vblock - vector_start) * f.usable_bytes +
                      (std::size_t)(offset - f.data_offset),
                  stream)
            << id;
        std::size_t end = (std::size_t)(offset - f.data_offset) + g.VectorBytes();
        ASSERT_EQ((std::size_t)pages, (end + f.usable_bytes - 1) / f.usable_bytes) << id;
        ASSERT_LE(vblock + (uint32_t)pages, vector_start + (uint32_t)g.vector_pages) << id;
        if (!g.Spanning()) {
            ASSERT_LE(pages, 2) << id;
        }
        stream += g.VectorBytes();
    }
}

}  // namespace

// Every dimension 1..16000 (gvector's limit) at the m values an index
// accepts, with sq8 (the default) and with f32 where it fits.
TEST(HnswGeometry, EveryDimensionAndMTilesItsPages) {
    const std::vector<int> ms_8k{2, 3, 16, 48, 100}, ms_32k{16};
    for (const gv::HnswPageFormat &f : {kPg8k, kPg32k}) {
        for (int m : f.usable_bytes == kPg8k.usable_bytes ? ms_8k : ms_32k) {
            int max_f32 = gv::MaxF32Dimensions(m, f);
            for (int dim = 1; dim <= 16000; dim += (dim < 100 ? 1 : dim < 2000 ? 13 : 97)) {
                gv::HnswGeometry g{};
                ASSERT_TRUE(gv::ComputeHnswGeometry(dim, m, false, f, &g)) << dim << " " << m;
                EXPECT_NE(g.storage, gv::HnswStorage::kF32);
                CheckGeometry(g, f);
                if (HasFatalFailure()) return;
                gv::HnswGeometry h{};
                bool fits = gv::ComputeHnswGeometry(dim, m, true, f, &h);
                EXPECT_EQ(fits, dim <= max_f32) << dim << " " << m;
                if (fits) {
                    EXPECT_EQ(h.storage, gv::HnswStorage::kF32);
                    CheckGeometry(h, f);
                    if (HasFatalFailure()) return;
                }
            }
        }
    }
}

// The f32 limit is exact: MaxF32Dimensions fits, one more does not, and a
// refusal still leaves a usable sq8 geometry for the caller to report from.
TEST(HnswGeometry, F32LimitIsExact) {
    for (int m : {2, 16, 64, 100}) {
        int max_f32 = gv::MaxF32Dimensions(m, kPg8k);
        ASSERT_GT(max_f32, 0) << m;
        gv::HnswGeometry g{};
        EXPECT_TRUE(gv::ComputeHnswGeometry(max_f32, m, true, kPg8k, &g));
        EXPECT_TRUE(g.F32());
        EXPECT_FALSE(gv::ComputeHnswGeometry(max_f32 + 1, m, true, kPg8k, &g));
        EXPECT_FALSE(g.F32());
    }
    // the README's numbers: m 16 on 8 kB pages
    EXPECT_GT(gv::MaxF32Dimensions(16, kPg8k), 1800);
    EXPECT_LT(gv::MaxF32Dimensions(16, kPg8k), 2040);
}

// Storage falls from sq8 to vector pages only when two nodes with codes no
// longer fit a page, and wide vectors span pages.
TEST(HnswGeometry, StorageFollowsWhatFits) {
    gv::HnswGeometry g{};
    ASSERT_TRUE(gv::ComputeHnswGeometry(784, 16, false, kPg8k, &g));
    EXPECT_TRUE(g.Sq8());
    EXPECT_FALSE(g.Spanning());
    ASSERT_TRUE(gv::ComputeHnswGeometry(3000, 16, false, kPg8k, &g));
    EXPECT_TRUE(g.Sq8());
    EXPECT_TRUE(g.Spanning());  // 12000 bytes per vector
    ASSERT_TRUE(gv::ComputeHnswGeometry(16000, 16, false, kPg8k, &g));
    EXPECT_EQ(g.storage, gv::HnswStorage::kVectorPages);
    EXPECT_TRUE(g.Spanning());
    EXPECT_GE(g.nodes_per_page, 2);
}

// Vector pages come out full: 784-d vectors (3136 bytes) left 1888 bytes of
// every 8 kB page empty when pages held whole vectors only.
TEST(HnswGeometry, VectorPagesAreNearlyFull) {
    for (int dim : {100, 384, 768, 784, 1024, 1536}) {
        gv::HnswGeometry g{};
        ASSERT_TRUE(gv::ComputeHnswGeometry(dim, 16, false, kPg8k, &g));
        std::size_t bytes = (std::size_t)g.GroupNodes() * g.VectorBytes();
        double fill = (double)bytes / ((double)g.vector_pages * kPg8k.usable_bytes);
        EXPECT_GT(fill, 0.95) << dim;
    }
}

// Slots hold as many code bytes as the quantizer codes dimensions: MNIST's
// 717 coded dimensions of 784 (67 blank pixels) give 9 nodes a page instead
// of 8, within pgvector's 2 pages per 4 nodes. Storage never changes with it.
TEST(HnswGeometry, CodeBytesShrinkSlots) {
    gv::HnswGeometry full{}, coded{};
    ASSERT_TRUE(gv::ComputeHnswGeometry(784, 16, false, kPg8k, &full));
    ASSERT_TRUE(gv::ComputeHnswGeometry(784, 16, false, kPg8k, &coded, 717));
    EXPECT_EQ(full.code_bytes, 784);
    EXPECT_EQ(coded.code_bytes, 717);
    EXPECT_EQ(full.nodes_per_page, 8);
    EXPECT_EQ(coded.nodes_per_page, 9);
    EXPECT_EQ(coded.node_size, full.node_size - 64);  // 928 and 861 aligned to 4
    CheckGeometry(coded, kPg8k);
    double pages_per_node = (double)coded.group_pages / coded.GroupNodes();
    EXPECT_LT(pages_per_node, 0.5);
    // out of range means dim; f32 and vector-page storage have no codes
    gv::HnswGeometry g{};
    ASSERT_TRUE(gv::ComputeHnswGeometry(784, 16, false, kPg8k, &g, 900));
    EXPECT_EQ(g.code_bytes, 784);
    ASSERT_TRUE(gv::ComputeHnswGeometry(100, 16, true, kPg8k, &g, 50));
    EXPECT_TRUE(g.F32());
    EXPECT_EQ(g.code_bytes, 0);
    ASSERT_TRUE(gv::ComputeHnswGeometry(16000, 16, false, kPg8k, &g, 10));
    EXPECT_EQ(g.storage, gv::HnswStorage::kVectorPages);
    // every code count of a sq8 dimension tiles its pages
    for (int dim : {100, 784, 1536})
        for (int cb = 1; cb <= dim; cb += dim / 7) {
            ASSERT_TRUE(gv::ComputeHnswGeometry(dim, 16, false, kPg8k, &g, cb));
            ASSERT_TRUE(g.Sq8());
            EXPECT_EQ(g.code_bytes, cb);
            CheckGeometry(g, kPg8k);
        }
}
