// The visited set of graph searches, over dense node ids 0..n-1: one mark of
// 16 bits per id, a generation stamp in the high 14 bits and two flag bits
// the caller may use (a scan marks nodes it expanded and nodes it returned).
// Reset is O(1) but once every 16383 searches, when the marks are cleared.
//
// The marks live in a caller's growable array of uint16_t (std::vector in
// the in-memory graphs, palloc'd PgVec in Postgres), so the set itself is
// trivially destructible when its array is. Ids past the end grow the array:
// a graph may gain nodes while it is searched (concurrent inserts).
#pragma once

#include <cstddef>
#include <cstdint>

#include "gigavector/ann/candidate.h"
#include "gigavector/ann/id_table.h"

namespace gigavector {

template <class Array>
class VisitedMarks {
public:
    static constexpr uint16_t kFlag1 = 1;  // caller's flags, only on visited ids
    static constexpr uint16_t kFlag2 = 2;

    Array &array() { return marks_; }

    // Forgets every mark; makes room for ids < capacity.
    void Reset(std::size_t capacity) {
        if (marks_.size() < capacity) Resize(capacity);
        if (++generation_ == kGenerations) {
            for (std::size_t i = 0; i < marks_.size(); i++) marks_[i] = 0;
            generation_ = 1;
        }
    }

    // Marks id; returns true if it was not marked.
    bool Insert(NodeId id) {
        if (id >= marks_.size()) Resize((std::size_t)id + 1 + marks_.size() / 2);
        if ((marks_[id] >> 2) == generation_) return false;
        marks_[id] = (uint16_t)(generation_ << 2);
        return true;
    }

    bool Contains(NodeId id) const {
        return id < marks_.size() && (marks_[id] >> 2) == generation_;
    }

    // Flags of a visited id (kFlag1 | kFlag2 bits); 0 for an unvisited one.
    uint16_t Flags(NodeId id) const { return Contains(id) ? (uint16_t)(marks_[id] & 3) : 0; }
    void SetFlags(NodeId id, uint16_t flags) {
        if (Contains(id)) marks_[id] = (uint16_t)(marks_[id] | (flags & 3));
    }

private:
    static constexpr uint16_t kGenerations = 1 << 14;

    void Resize(std::size_t n) {
        std::size_t old = marks_.size();
        marks_.resize(n);
        for (std::size_t i = old; i < n; i++) marks_[i] = 0;
    }

    Array marks_;
    uint16_t generation_ = 1;
};

// The same interface over an IdTable: memory in proportion to the nodes
// visited, not to the ids that exist. For searches of an index that may have
// millions of nodes (every query would otherwise allocate and clear a mark
// per node); VisitedMarks is faster where the graph is in memory anyway.
template <class Array>
class VisitedTable {
public:
    static constexpr uint16_t kFlag1 = 1;
    static constexpr uint16_t kFlag2 = 2;

    Array &array() { return table_.array(); }

    // Forgets every mark (expected: about how many ids the next search visits).
    void Reset(std::size_t expected) { table_.Clear(expected); }

    bool Insert(NodeId id) {
        bool inserted;
        table_.FindOrInsert(id, 0, &inserted);
        return inserted;
    }
    bool Contains(NodeId id) const { return table_.Find(id) != nullptr; }
    uint16_t Flags(NodeId id) const {
        const uint32_t *v = table_.Find(id);
        return v ? (uint16_t)(*v & 3) : 0;
    }
    void SetFlags(NodeId id, uint16_t flags) {
        const uint32_t *v = table_.Find(id);
        if (v) *const_cast<uint32_t *>(v) |= (flags & 3);
    }
    std::size_t size() const { return table_.size(); }

private:
    IdTable<Array> table_;
};

// A visited set that remembers nothing, for greedy descent on upper levels
// (it only ever moves to a strictly closer node, so it terminates).
struct NoVisited {
    bool Insert(NodeId) { return true; }
};

}  // namespace gigavector
