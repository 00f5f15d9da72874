// Graph search: the best-first expansion of a layer (Malkov & Yashunin,
// arXiv:1603.09320, Algorithm 2), made resumable, and greedy descent.
//
// One loop serves every caller: the in-memory build, inserts through
// Postgres pages (SearchLayer), and index scans, which keep every node they
// discover so that a scan can widen its search (a larger ef) from where it
// stopped when a filter or a large LIMIT asks for more rows (BestFirstWiden).
//
// The searches run over a "graph view":
//
//   // For every neighbour n of `node` on `level` that `visited` has not
//   // seen: mark it, compute the index distance d from the view's query,
//   // and call visit(n, d). The view decides how to fetch lists and vectors
//   // (locks, page batching, quantized codes).
//   template <class Visited, class Visit>
//   void ForEachUnvisitedNeighbor(NodeId node, int level, Visited &visited, Visit &&visit);
//   // Called after each expansion (a Postgres view checks for interrupts).
//   void AfterExpand();
//
// Header-only, no allocation but the caller's containers, no state with a
// destructor: a Postgres view may raise an ERROR from inside the loop, and
// the longjmp must not skip anything (the Postgres callers instantiate these
// templates with trivially destructible containers and assert it).
#pragma once

#include <algorithm>
#include <cstddef>

#include "gigavector/ann/candidate.h"
#include "gigavector/ann/visited.h"

namespace gigavector {

// Flag a scan sets (VisitedMarks::kFlag1) on nodes whose lists it expanded.
constexpr uint16_t kMarkExpanded = 1;

// The loop of Algorithm 2: expands candidates (a CloserOnTop heap) while the
// nearest is not farther than the ef-th best found, keeping the best ef in
// `best` (a FartherOnTop heap). Ties with the worst best are still expanded,
// so a plateau of equal distances (many duplicate vectors) is crossed, not a
// wall. With `found`, every node discovered is also appended there and
// expanded nodes are flagged kMarkExpanded, for BestFirstWiden.
template <class Graph, class Visited, class Vec>
void BestFirstExpand(Graph &graph, Visited &visited, int level, int ef, Vec &candidates, Vec &best,
                     Vec *found) {
    while (!candidates.empty()) {
        const Candidate nearest = candidates.front();
        if ((int)best.size() >= ef && nearest.distance > best.front().distance) break;
        HeapPop<CloserOnTop>(candidates);
        if (found != nullptr) visited.SetFlags(nearest.id, kMarkExpanded);
        graph.ForEachUnvisitedNeighbor(nearest.id, level, visited, [&](NodeId id, float d) {
            Candidate c{d, id};
            if (found != nullptr) found->push_back(c);
            bool room = (int)best.size() < ef;
            if (room || d <= best.front().distance) HeapPush<CloserOnTop>(candidates, c);
            if (room || d < best.front().distance) {
                HeapPush<FartherOnTop>(best, c);
                if ((int)best.size() > ef) HeapPop<FartherOnTop>(best);
            }
        });
        graph.AfterExpand();
    }
}

// Algorithm 2 on one level from entry points already marked in `visited`:
// `results` receives the ef closest found, as a FartherOnTop heap.
template <class Graph, class Visited, class Vec>
void SearchLayer(Graph &graph, Visited &visited, const Vec &entry_points, int ef, int level,
                 Vec &results, Vec &candidates) {
    results.clear();
    candidates.clear();
    for (const Candidate &e : entry_points) {
        HeapPush<FartherOnTop>(results, e);
        HeapPush<CloserOnTop>(candidates, e);
    }
    while ((int)results.size() > ef) HeapPop<FartherOnTop>(results);
    BestFirstExpand(graph, visited, level, ef, candidates, results, static_cast<Vec *>(nullptr));
}

// Widens a search that kept `found` to a larger ef: the best become the ef
// closest of everything discovered, and every discovered node not yet
// expanded is a candidate again, so widening loses nothing the narrower
// search saw. Returns false when there is nothing left to discover (every
// node found was expanded and ef already covers them all).
template <class Visited, class Vec>
bool BestFirstWiden(Visited &visited, int old_ef, int new_ef, Vec &candidates, Vec &best,
                    Vec &found) {
    bool unexpanded = false;
    for (const Candidate &c : found)
        if (!(visited.Flags(c.id) & kMarkExpanded)) {
            unexpanded = true;
            break;
        }
    if (!unexpanded && old_ef >= (int)found.size()) return false;
    int keep = new_ef < (int)found.size() ? new_ef : (int)found.size();
    if (keep > 0) std::nth_element(found.begin(), found.begin() + (keep - 1), found.end(), Closer);
    best.clear();
    for (int i = 0; i < keep; i++) HeapPush<FartherOnTop>(best, found[i]);
    candidates.clear();
    for (const Candidate &c : found)
        if (!(visited.Flags(c.id) & kMarkExpanded)) candidates.push_back(c);
    std::make_heap(candidates.begin(), candidates.end(), CloserOnTop());
    return true;
}

// Greedy descent on one level (a search with ef = 1), used above the target
// level of an insert or query. Updates `entry` in place.
template <class Graph, class Visited>
void GreedyClosest(Graph &graph, Visited &visited, int level, Candidate &entry) {
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

}  // namespace gigavector
