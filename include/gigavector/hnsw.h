// HNSW: hierarchical navigable small world graphs.
//
// Malkov, Yashunin, "Efficient and robust approximate nearest neighbor search
// using Hierarchical Navigable Small World graphs", IEEE TPAMI 2018
// (arXiv:1603.09320). Algorithm numbers below refer to that paper.
//
// This header holds the storage-independent parts: candidate heaps, visited
// sets, the layer search (Algorithm 2) and the neighbour-selection heuristic
// (Algorithm 4). They run over a small "graph view" interface, so the same
// search serves the in-memory build graph (hnsw_graph.h) and gv_hnsw's
// Postgres pages (src/pg). A graph view provides:
//
//   // For every neighbour n of `node` on `level` that `visited` has not
//   // seen: mark it, compute the index distance d from the view's query,
//   // and call visit(n, d). The view decides how to fetch lists and vectors
//   // (locks, page batching, quantized codes).
//   template <class Visit>
//   void ForEachUnvisitedNeighbor(NodeId node, int level, Visited &visited, Visit &&visit);
//
// No Postgres headers here; nothing here allocates except the std::vectors
// the caller passes in.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gigavector {

using NodeId = uint32_t;
constexpr NodeId kNoNode = 0xFFFFFFFFu;

// Highest level a node may get; with m >= 2 level 16 has probability < 2^-16.
constexpr int kHnswMaxLevel = 16;

struct HnswParams {
    int m = 16;                // neighbours per node on upper levels; 2m on level 0
    int ef_construction = 64;  // candidate list size while inserting
};

inline int MaxNeighbors(int m, int level) {
    return level == 0 ? 2 * m : m;
}

// How many neighbours a new node's own list is filled to (see
// SelectNeighborsHeuristic).
inline int OwnListFill(int m, int level) {
    return MaxNeighbors(m, level) * 3 / 4;
}

// The in-memory build fills a level-0 list only this far while linking and
// the rest afterwards (HnswGraph::FillDeferred).
inline int LinkTimeFill(int m) {
    return MaxNeighbors(m, 0) * 3 / 8;
}

// A node and its index distance from the query.
struct Candidate {
    float distance;
    NodeId id;
};

// Orders by (distance, id): ties break by id so results are deterministic.
inline bool Closer(const Candidate &a, const Candidate &b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

// Order for choosing neighbours of `base`: by distance, ties in an order
// that is pseudo-random per base. Ordering ties by id would make every node
// pick the same lowest-id duplicates, and thousands of identical vectors
// would collapse into one closed clique that no search can leave or enter.
struct CloserFromBase {
    NodeId base;
    static uint32_t Mix(uint32_t x) {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }
    bool operator()(const Candidate &a, const Candidate &b) const {
        if (a.distance != b.distance) return a.distance < b.distance;
        uint32_t salt = base * 0x9e3779b9U;
        return Mix(a.id ^ salt) < Mix(b.id ^ salt);
    }
};

// Max-heap of the best candidates found (the worst on top), and min-heap of
// those still to expand (the best on top), on plain vectors.
struct FartherOnTop {
    bool operator()(const Candidate &a, const Candidate &b) const { return Closer(a, b); }
};
struct CloserOnTop {
    bool operator()(const Candidate &a, const Candidate &b) const { return Closer(b, a); }
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

// Level of a new node from a uniform random number in (0, 1]:
// floor(-ln(u) * mL) with mL = 1 / ln(m) (paper, section 4.1).
inline int RandomLevel(double uniform, int m) {
    if (uniform <= 0.0) uniform = 1e-300;
    double level = -std::log(uniform) / std::log((double)(m < 2 ? 2 : m));
    return level >= kHnswMaxLevel ? kHnswMaxLevel : (int)level;
}

// Visited set over dense ids 0..n-1 with generation stamps: clearing is O(1)
// except once every 65535 searches.
class VisitedSet {
public:
    explicit VisitedSet(std::size_t capacity = 0) : marks_(capacity, 0) {}

    // Forget all marks; make room for ids < capacity.
    void Reset(std::size_t capacity) {
        if (marks_.size() < capacity) marks_.resize(capacity, 0);
        if (++generation_ == 0) {
            std::fill(marks_.begin(), marks_.end(), 0);
            generation_ = 1;
        }
    }

    // Marks id; returns true if it was not marked before.
    bool Insert(NodeId id) {
        if (id >= marks_.size()) marks_.resize((std::size_t)id + 1 + marks_.size() / 2, 0);
        if (marks_[id] == generation_) return false;
        marks_[id] = generation_;
        return true;
    }

    bool Contains(NodeId id) const { return id < marks_.size() && marks_[id] == generation_; }

private:
    std::vector<uint16_t> marks_;
    uint16_t generation_ = 1;
};

// Algorithm 2: best-first search of one level from the entry points.
// `results` receives up to ef closest nodes found, as a FartherOnTop heap.
// Entry points must already be marked in `visited`. Vec is any vector-like
// container of Candidate (the extension's use palloc'd memory); Visited is
// whatever the graph view's ForEachUnvisitedNeighbor takes.
template <class GraphView, class Visited, class Vec>
void SearchLayer(GraphView &graph, Visited &visited, const Vec &entry_points, int ef, int level,
                 Vec &results, Vec &candidates) {
    results.clear();
    candidates.clear();
    for (const Candidate &e : entry_points) {
        HeapPush<FartherOnTop>(results, e);
        HeapPush<CloserOnTop>(candidates, e);
    }
    while ((int)results.size() > ef) HeapPop<FartherOnTop>(results);

    while (!candidates.empty()) {
        Candidate nearest = HeapPop<CloserOnTop>(candidates);
        if ((int)results.size() >= ef && nearest.distance > results.front().distance) break;
        graph.ForEachUnvisitedNeighbor(nearest.id, level, visited, [&](NodeId id, float d) {
            bool room = (int)results.size() < ef;
            // Ties with the worst result are still expanded, so a plateau of
            // equal distances (many duplicate vectors) is crossed, not a wall.
            if (room || d <= results.front().distance) HeapPush<CloserOnTop>(candidates, {d, id});
            if (room || d < results.front().distance) {
                HeapPush<FartherOnTop>(results, {d, id});
                if ((int)results.size() > ef) HeapPop<FartherOnTop>(results);
            }
        });
    }
}

// Greedy descent on one level (search with ef = 1), used above the target
// level of an insert or query. Updates `entry` in place.
template <class GraphView, class Visited>
void GreedyClosest(GraphView &graph, Visited &visited, int level, Candidate &entry) {
    bool moved = true;
    while (moved) {
        moved = false;
        Candidate best = entry;
        graph.ForEachUnvisitedNeighbor(entry.id, level, visited, [&](NodeId id, float d) {
            if (Closer({d, id}, best)) best = {d, id};
        });
        if (best.id != entry.id) {
            entry = best;
            moved = true;
        }
    }
}

// Algorithm 4 (without extending candidates): walk candidates from the
// closest; keep one if it is closer to the base than to every neighbour kept
// so far, which spreads the links around the base. Then, as the paper's
// keepPrunedConnections, add the closest discarded ones until `fill_to`
// neighbours are kept. A new node's own lists are filled to 3/4 of their
// capacity (OwnListFill): on GloVe-100 that lifts recall@10 at ef 400 from
// 0.933 to 0.967 for about twice the build time, and leaving a quarter free
// keeps back-links cheap (a full list must be re-selected).
//
// Exact duplicates of the base (distance <= duplicate_at_most, see
// DuplicateDistance in metric.h) pass that test against each other, so at
// most half the slots go to them: the rest keep links out of a
// group of identical vectors, which would otherwise be a dead end.
//
// `sorted` must be in ascending distance order (CloserFromBase).
// pair_distance(a, b) gives the index distance between two stored nodes.
template <class InVec, class OutVec, class PairDistance>
void SelectNeighborsHeuristic(const InVec &sorted, int max_neighbors, int fill_to,
                              float duplicate_at_most, PairDistance &&pair_distance,
                              OutVec &selected, OutVec &pruned) {
    selected.clear();
    pruned.clear();
    int duplicates = 0;
    for (const Candidate &c : sorted) {
        if ((int)selected.size() >= max_neighbors) break;
        if (c.distance <= duplicate_at_most) {
            if (2 * duplicates >= max_neighbors) continue;
            duplicates++;
            selected.push_back(c);
            continue;
        }
        bool good = true;
        for (const Candidate &s : selected) {
            if (pair_distance(c.id, s.id) < c.distance) {
                good = false;
                break;
            }
        }
        if (good)
            selected.push_back(c);
        else if (fill_to > 0)
            pruned.push_back(c);
    }
    if (fill_to > max_neighbors) fill_to = max_neighbors;
    for (std::size_t i = 0; i < pruned.size() && (int)selected.size() < fill_to; i++)
        selected.push_back(pruned[i]);
}

}  // namespace gigavector
