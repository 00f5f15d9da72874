// gv_hnsw's page geometry: where each node, list and vector of an index
// lives, as arithmetic over the page size, so that it can be unit-tested
// without Postgres (the access method passes in its page format).
//
//   block 0                 meta page
//   blocks 1 .. Q           quantizer pages (sq8 only): lo[0..dim), step[0..dim)
//   then groups, each:      K node pages, then V vector pages
//
// Node n is slot n % nodes_per_page of node page n / nodes_per_page, which is
// node page (n / nodes_per_page) % K of group n / (K * nodes_per_page). The
// vectors of a group follow its node pages as one byte stream: vector i of
// the group starts i * VectorBytes() into it, and continues on the next page
// where a page ends, so vector pages come out full (784-d vectors, 3136
// bytes, left 1,888 bytes of every page empty when each page held whole
// vectors only). K is chosen so that the group's last vector page is nearly
// full.
//
// A node slot holds the node's header, its level-0 list (2m ids) and its
// vector data: sq8 codes (storage kSq8; code_bytes of them, one per
// dimension the quantizer codes, which CREATE INDEX knows once it has
// trained, sq8.h), the float vector (kF32: no vector
// pages), or nothing (kVectorPages: dimensions too large even for codes in a
// slot; traversal reads the vector pages). Upper-level lists (a node of
// level L > 0 has L lists of m + 1 uint32: count, ids) grow down from the end
// of its node page, in room reserved for about twice the expected number.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gigavector/hnsw/hnsw_policy.h"

namespace gigavector {

// The storage modes; the values are stored in the meta page. SQL:
// storage = sq8 | f32 ("vector pages" is what sq8 becomes when even codes do
// not fit two slots on a page).
enum class HnswStorage : uint8_t { kVectorPages = 0, kSq8 = 1, kF32 = 2 };

const char *HnswStorageName(HnswStorage storage) noexcept;

// What the access method's pages look like.
struct HnswPageFormat {
    int data_offset;        // where a page's data starts (after its header)
    int usable_bytes;       // data bytes between the header and the special space
    int node_header_bytes;  // the fixed part of a node slot
};

struct HnswGeometry {
    int dim;
    int m;
    HnswStorage storage;
    int data_offset;
    int usable;
    int code_bytes;  // kSq8: bytes of codes a slot has room for (<= dim)
    int node_size;   // bytes per node slot
    int nodes_per_page;
    int node_pages;    // per group
    int vector_pages;  // per group (0 for kF32)
    int group_pages;
    int upper_reserve;    // bytes of a node page reserved for upper lists
    int quantizer_pages;  // blocks 1 .. quantizer_pages

    bool Sq8() const { return storage == HnswStorage::kSq8; }
    bool F32() const { return storage == HnswStorage::kF32; }
    std::size_t VectorBytes() const { return sizeof(float) * (std::size_t)dim; }
    // A vector larger than a page spans pages (no slot reuse: its pages could
    // not be rewritten in one WAL record with the slot).
    bool Spanning() const { return !F32() && VectorBytes() > (std::size_t)usable; }
    int MaxNeighbors(int level) const { return gigavector::MaxNeighbors(m, level); }
    std::size_t UpperListBytes() const { return sizeof(uint32_t) * (std::size_t)(m + 1); }

    uint32_t FirstGroupBlock() const { return 1 + (uint32_t)quantizer_pages; }
    uint32_t GroupNodes() const { return (uint32_t)nodes_per_page * (uint32_t)node_pages; }
    uint32_t GroupStart(uint32_t id) const {
        return FirstGroupBlock() + (id / GroupNodes()) * (uint32_t)group_pages;
    }
    uint32_t NodeBlock(uint32_t id) const {
        uint32_t page = id / (uint32_t)nodes_per_page;
        return FirstGroupBlock() + (page / (uint32_t)node_pages) * (uint32_t)group_pages +
               page % (uint32_t)node_pages;
    }
    int Slot(uint32_t id) const { return (int)(id % (uint32_t)nodes_per_page); }
    std::size_t NodeOffset(int slot) const {
        return (std::size_t)data_offset + (std::size_t)slot * (std::size_t)node_size;
    }
    // Blocks past the quantizer pages: their group, and whether a node page.
    uint32_t GroupOfBlock(uint32_t block) const {
        return (block - FirstGroupBlock()) / (uint32_t)group_pages;
    }
    bool IsNodeBlock(uint32_t block) const {
        return (int)((block - FirstGroupBlock()) % (uint32_t)group_pages) < node_pages;
    }
    // The first block holding id's vector and the offset in it; the vector
    // continues at data_offset of the following block(s) when it does not
    // fit. *pages is how many blocks it touches.
    uint32_t VectorBlock(uint32_t id, int *offset, int *pages) const;
};

// Computes the geometry: kF32 when asked for (want_f32) and one node with
// its vector and an upper reserve fits a page; else kSq8 when two nodes with
// codes of dim bytes do, with slots of code_bytes codes (0: dim; fewer when
// the trained quantizer codes fewer dimensions); else kVectorPages. Returns
// false when f32 was asked for and does not fit (the caller reports it: an
// index must hold what its options say).
bool ComputeHnswGeometry(int dim, int m, bool want_f32, const HnswPageFormat &format,
                         HnswGeometry *out, int code_bytes = 0) noexcept;

// The most dimensions storage f32 holds at m.
int MaxF32Dimensions(int m, const HnswPageFormat &format) noexcept;

}  // namespace gigavector
