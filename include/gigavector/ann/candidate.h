// Candidates of a nearest-neighbour search: a node and its index distance,
// their orders, and heaps over any vector-like container.
//
// Header-only and storage-independent: the in-memory graphs use std::vector,
// the Postgres access methods palloc'd PgVec (trivially destructible, so an
// ERROR may longjmp over them). No Postgres headers.
#pragma once

#include <algorithm>
#include <cstdint>

namespace gigavector {

using NodeId = uint32_t;
constexpr NodeId kNoNode = 0xFFFFFFFFu;

// A node and its index distance from the query.
struct Candidate {
    float distance;
    NodeId id;
};

// Orders by (distance, id): ties break by id so results are deterministic.
inline bool Closer(const Candidate &a, const Candidate &b) noexcept {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

// Order for choosing neighbours of `base`: by distance, ties in an order
// that is pseudo-random per base. Ordering ties by id would make every node
// pick the same lowest-id duplicates, and thousands of identical vectors
// would collapse into one closed clique that no search can leave or enter.
struct CloserFromBase {
    NodeId base;
    static uint32_t Mix(uint32_t x) noexcept {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }
    bool operator()(const Candidate &a, const Candidate &b) const noexcept {
        if (a.distance != b.distance) return a.distance < b.distance;
        uint32_t salt = base * 0x9e3779b9U;
        return Mix(a.id ^ salt) < Mix(b.id ^ salt);
    }
};

// Max-heap of the best candidates found (the worst on top), and min-heap of
// those still to expand (the best on top).
struct FartherOnTop {
    bool operator()(const Candidate &a, const Candidate &b) const noexcept { return Closer(a, b); }
};
struct CloserOnTop {
    bool operator()(const Candidate &a, const Candidate &b) const noexcept { return Closer(b, a); }
};

template <class Cmp, class Vec>
inline void HeapPush(Vec &heap, Candidate c) {
    heap.push_back(c);
    std::push_heap(heap.begin(), heap.end(), Cmp());
}

template <class Cmp, class Vec>
inline Candidate HeapPop(Vec &heap) {
    std::pop_heap(heap.begin(), heap.end(), Cmp());
    Candidate c = heap.back();
    heap.pop_back();
    return c;
}

}  // namespace gigavector
