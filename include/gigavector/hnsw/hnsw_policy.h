// HNSW: the graph policy, one for every way a graph changes.
//
// Malkov, Yashunin, "Efficient and robust approximate nearest neighbor search
// using Hierarchical Navigable Small World graphs", IEEE TPAMI 2018
// (arXiv:1603.09320). Algorithm numbers refer to that paper.
//
// The in-memory build (hnsw_graph.h) and the Postgres access method (inserts
// through pages, VACUUM's repair) apply the same rules, from this header:
//   - a node's level                            RandomLevel
//   - a new node's own lists (Algorithm 4 with the pruned kept as filler)
//                                               SelectNeighbors, OwnListFill
//   - the back-link into a full list            ShrinkList
//   - members a back-link pushed out            LinkDropped
//   - repairing a list around dead nodes        SelectNeighbors with kept members
//   - nodes the entry point cannot reach        ConnectUnreached (hnsw_orphans.h)
// The stores differ only in how they lock and write a list.
//
// Header-only, no Postgres headers, nothing with a destructor: the Postgres
// callers instantiate it with palloc'd containers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "gigavector/ann/candidate.h"

namespace gigavector {

// Highest level a node may get; with m >= 2 level 16 has probability < 2^-16.
constexpr int kHnswMaxLevel = 16;

struct HnswParams {
    int m = 16;                // neighbours per node on upper levels; 2m on level 0
    int ef_construction = 64;  // candidate list size while inserting
};

inline int MaxNeighbors(int m, int level) noexcept {
    return level == 0 ? 2 * m : m;
}

// How many neighbours a new node's own list is filled to: the heuristic's
// choice, then the nearest it pruned (the paper's keepPrunedConnections,
// bounded). On GloVe-100 filling to 3/4 lifted recall@10 at ef 400 from
// 0.933 to 0.967; the free quarter keeps back-links cheap (a full list must
// be shrunk).
inline int OwnListFill(int m, int level) noexcept {
    return MaxNeighbors(m, level) * 3 / 4;
}

// The in-memory build fills a level-0 list only this far while linking and
// to OwnListFill afterwards (HnswGraph::FillDeferred): the same lists, in a
// cheaper order of work.
inline int LinkTimeFill(int m) noexcept {
    return MaxNeighbors(m, 0) * 3 / 8;
}

// Level of a new node from a uniform random number in (0, 1]:
// floor(-ln(u) * mL) with mL = 1 / ln(m) (paper, section 4.1).
inline int RandomLevel(double uniform, int m) noexcept {
    if (uniform <= 0.0) uniform = 1e-300;
    double level = -std::log(uniform) / std::log((double)(m < 2 ? 2 : m));
    return level >= kHnswMaxLevel ? kHnswMaxLevel : (int)level;
}

// Algorithm 4 (without extending candidates): walks `sorted` (ascending by
// distance from the base, CloserFromBase) and keeps a candidate if it is
// closer to the base than to every neighbour kept so far, which spreads the
// links around the base; then, as keepPrunedConnections, adds the closest
// discarded ones until `fill_to` neighbours are kept.
//
// `selected` comes in with the neighbours that must stay (empty for a new
// node; a repaired list's live members) and goes out with the list.
//
// Exact duplicates of the base (distance <= duplicate_at_most, see
// DuplicateDistance in metric.h) pass the test against each other, so at
// most half the places go to them: the rest keep links out of a group of
// identical vectors, which would otherwise be a dead end.
//
// pair_distance(a, b) gives the index distance between two stored nodes.
template <class InVec, class OutVec, class PairDistance>
void SelectNeighbors(const InVec &sorted, int max_neighbors, int fill_to, float duplicate_at_most,
                     PairDistance &&pair_distance, OutVec &selected, OutVec &pruned) {
    pruned.clear();
    int duplicates = 0;
    for (const Candidate &s : selected) duplicates += s.distance <= duplicate_at_most;
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

// What a back-link into a full list did (ShrinkList).
struct ShrinkResult {
    bool kept;       // the newcomer is in the new list
    NodeId dropped;  // the member that left, or kNoNode
    NodeId witness;  // a kept member closer to `dropped` than the target is, or kNoNode
};

// The back-link rule (Algorithm 1's shrinking of a neighbour's list): when
// `newcomer` links back to a target whose list is full, the list is chosen
// again with SelectNeighbors among its members and the newcomer (`sorted`,
// ascending from the target) and refilled to `refill_to` (OwnListFill, as a
// new node's own list) with the nearest pruned. With `force`, the newcomer
// takes the place of the last kept when it was left out (a new node must keep
// one in-link per level). `selected` receives the new list.
//
// The members that leave lose an in-link, possibly their last: a node without
// in-links cannot be found. The heuristic dropped the first of them because a
// kept member (its `witness`) is closer to it than the target is; the caller
// hands that in-link over to the witness (a back-link witness -> dropped, so
// it stays reachable through a node right next to it), and the new node
// links to the others from its free places (LinkDropped). Inserts through
// pages also offer each other member that left to a kept member closer to
// it than the target, where a free place takes it without a shrink
// (hnsw_insert.cpp, kHandOverTries): under inner product, where the
// heuristic keeps dropping small-norm vectors, that is what leaves no node
// unreachable after a delete, VACUUM and re-insert.
//
// Measured on GloVe-100 (100k, m 16, ef_construction 64, in memory): this
// costs 3374 distances per node linked, against 3099 for hnswlib's rule (the
// heuristic alone, nothing refilled or handed over) and 4898 when lists are
// refilled to full; it needs 3450 distances per query for recall@10 0.95,
// against 3500 and 3420; and it leaves 18 nodes for ConnectUnreached to link
// after the build, against 320 and 85. Refilling to full would drop one member
// per shrink but shrink at nearly every back-link.
template <class InVec, class OutVec, class PairDistance>
ShrinkResult ShrinkList(const InVec &sorted, NodeId newcomer, int max_neighbors, int refill_to,
                        float duplicate_at_most, bool force, PairDistance &&pair_distance,
                        OutVec &selected, OutVec &pruned) {
    selected.clear();
    SelectNeighbors(sorted, max_neighbors, refill_to, duplicate_at_most, pair_distance, selected,
                    pruned);
    ShrinkResult r{false, kNoNode, kNoNode};
    for (const Candidate &c : selected) r.kept |= c.id == newcomer;
    if (!r.kept && force && !selected.empty()) {
        Candidate replaced = selected.back();
        selected.back() = Candidate{0.0f, newcomer};
        for (const Candidate &c : sorted)
            if (c.id == newcomer) selected.back().distance = c.distance;
        r.kept = true;
        r.dropped = replaced.id;
    } else if (r.kept) {
        for (const Candidate &c : sorted) {
            bool in = false;
            for (const Candidate &k : selected) in |= k.id == c.id;
            if (!in) {
                r.dropped = c.id;
                break;
            }
        }
    }
    if (r.dropped == kNoNode) return r;
    float dropped_distance = 0.0f;
    for (const Candidate &c : sorted)
        if (c.id == r.dropped) dropped_distance = c.distance;
    for (const Candidate &k : selected) {
        if (k.id != r.dropped && pair_distance(r.dropped, k.id) < dropped_distance) {
            r.witness = k.id;
            break;
        }
    }
    return r;
}

// The members a back-link pushed out of full lists each lost an in-link,
// possibly their last. The new node, which sits next to the lists they left,
// links to them from the free places of its own list (filled to OwnListFill
// when it was written): appends to own[0..*count) (capacity max_neighbors)
// the dropped ids that are not in it, not `self`, and pass `linkable` (live
// nodes). When the free places run out, up to `replace_max` of those left
// each take the place of one of the list's members that is not itself in
// `dropped`, last (farthest) first: those had their in-links before this
// insert and lost none to it. Returns how many it linked.
//
// Under inner product over vectors of very different norms, one insert's
// back-links can push out more members than the free places take; leaving
// the rest out made 36 to 62 of 6000 nodes unreachable after 2400 inserts at
// m 8 (test/t/003_recall.pl), 1 to 5 since. Inserts through pages therefore
// pass the list's capacity as replace_max; CREATE INDEX passes 0, since its
// ConnectUnreached pass reconnects every node after linking, and replacing
// cost its graph recall (GloVe-100 at ef 40: 0.905 against 0.917).
template <class Linkable>
int LinkDropped(NodeId self, const NodeId *dropped, int ndropped, int max_neighbors,
                int replace_max, NodeId *own, int *count, Linkable &&linkable) {
    auto contains = [](const NodeId *ids, int n, NodeId id) {
        return std::find(ids, ids + n, id) != ids + n;
    };
    int linked = 0;
    int replace_at = max_neighbors - 1;  // used once the list is full
    for (int i = 0; i < ndropped; i++) {
        NodeId d = dropped[i];
        if (d == self || contains(own, *count, d) || !linkable(d)) continue;
        if (*count < max_neighbors) {
            own[(*count)++] = d;
            linked++;
            continue;
        }
        if (replace_max-- <= 0) break;
        while (replace_at >= 0 && contains(dropped, ndropped, own[replace_at])) replace_at--;
        if (replace_at < 0) break;  // every member is one pushed out: keep them
        own[replace_at--] = d;
        linked++;
    }
    return linked;
}

}  // namespace gigavector
