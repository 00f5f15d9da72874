// Unit tests of the HNSW graph policy (hnsw_policy.h) and of reconnecting
// unreached nodes (hnsw_orphans.h), on points whose distances are worked out
// by hand, and on a store with planted orphans; plus the id tables scans use
// for visited sets (id_table.h, visited.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "gigavector/ann/id_table.h"
#include "gigavector/ann/visited.h"
#include "gigavector/hnsw/hnsw_orphans.h"
#include "gigavector/hnsw/hnsw_policy.h"

namespace gv = gigavector;

namespace {

// Points on a line: node i sits at x[i]; distances are |x[a] - x[b]|.
struct Line {
    std::vector<float> x;
    float operator()(gv::NodeId a, gv::NodeId b) const { return std::fabs(x[a] - x[b]); }
    // Candidates sorted by distance from `base`.
    std::vector<gv::Candidate> From(gv::NodeId base, const std::vector<gv::NodeId> &ids) const {
        std::vector<gv::Candidate> out;
        for (gv::NodeId id : ids) out.push_back({(*this)(base, id), id});
        std::sort(out.begin(), out.end(), gv::Closer);
        return out;
    }
};

std::vector<gv::NodeId> Ids(const std::vector<gv::Candidate> &c) {
    std::vector<gv::NodeId> out;
    for (const gv::Candidate &x : c) out.push_back(x.id);
    return out;
}

}  // namespace

TEST(HnswPolicy, FillsAndLevels) {
    EXPECT_EQ(gv::MaxNeighbors(16, 0), 32);
    EXPECT_EQ(gv::MaxNeighbors(16, 3), 16);
    EXPECT_EQ(gv::OwnListFill(16, 0), 24);
    EXPECT_EQ(gv::OwnListFill(16, 1), 12);
    EXPECT_LT(gv::LinkTimeFill(16), gv::OwnListFill(16, 0));
    EXPECT_EQ(gv::RandomLevel(1.0, 16), 0);
    EXPECT_EQ(gv::RandomLevel(1.0 / 16.0 - 1e-9, 16), 1);
    EXPECT_EQ(gv::RandomLevel(0.0, 16), gv::kHnswMaxLevel);  // clamped, no inf
    EXPECT_EQ(gv::RandomLevel(1e-300, 2), gv::kHnswMaxLevel);
}

// Base 0 at x=0; 1 and 2 on the right (2 behind 1), 3 on the left. The
// heuristic keeps 1 and 3 and prunes 2 (closer to 1 than to the base);
// keepPruned adds it back when fill_to asks for three.
TEST(HnswPolicy, SelectNeighborsSpreadsThenFills) {
    Line line{{0.0f, 1.0f, 1.5f, -2.0f}};
    auto sorted = line.From(0, {1, 2, 3});
    std::vector<gv::Candidate> selected, pruned;
    gv::SelectNeighbors(sorted, 8, 0, -1.0f, line, selected, pruned);
    EXPECT_EQ(Ids(selected), (std::vector<gv::NodeId>{1, 3}));
    EXPECT_TRUE(pruned.empty());  // fill_to 0: pruned not kept
    selected.clear();
    gv::SelectNeighbors(sorted, 8, 3, -1.0f, line, selected, pruned);
    EXPECT_EQ(Ids(selected), (std::vector<gv::NodeId>{1, 3, 2}));
    EXPECT_EQ(Ids(pruned), (std::vector<gv::NodeId>{2}));
    // max_neighbors bounds everything
    selected.clear();
    gv::SelectNeighbors(sorted, 1, 3, -1.0f, line, selected, pruned);
    EXPECT_EQ(Ids(selected), (std::vector<gv::NodeId>{1}));
}

// Members that must stay (a repaired list's live members) take part in the
// test: a candidate behind a kept member is pruned.
TEST(HnswPolicy, SelectNeighborsRespectsKeptMembers) {
    Line line{{0.0f, 1.0f, 1.5f, -2.0f}};
    std::vector<gv::Candidate> selected{{1.5f, 2}}, pruned;
    auto sorted = line.From(0, {1, 3});
    gv::SelectNeighbors(sorted, 8, 0, -1.0f, line, selected, pruned);
    // 1 is closer to the kept 2 (0.5) than to the base (1): pruned
    EXPECT_EQ(Ids(selected), (std::vector<gv::NodeId>{2, 3}));
}

// Exact duplicates of the base take at most half the places; the rest go to
// links out of the group.
TEST(HnswPolicy, DuplicatesTakeAtMostHalf) {
    Line line;
    line.x.assign(20, 0.0f);  // 0..19 all at 0 (0 is the base)
    line.x.push_back(5.0f);   // 20, 21: the way out
    line.x.push_back(-5.0f);
    std::vector<gv::NodeId> ids;
    for (gv::NodeId i = 1; i < 22; i++) ids.push_back(i);
    auto sorted = line.From(0, ids);
    std::vector<gv::Candidate> selected, pruned;
    gv::SelectNeighbors(sorted, 8, 8, 0.0f, line, selected, pruned);
    int dups = 0;
    for (const gv::Candidate &c : selected) dups += c.distance == 0.0f;
    EXPECT_EQ(dups, 4);
    std::vector<gv::NodeId> ids_selected = Ids(selected);
    EXPECT_NE(std::find(ids_selected.begin(), ids_selected.end(), 20), ids_selected.end());
    EXPECT_NE(std::find(ids_selected.begin(), ids_selected.end(), 21), ids_selected.end());
    // kept members count toward the cap
    std::vector<gv::Candidate> kept{{0.0f, 1}, {0.0f, 2}, {0.0f, 3}, {0.0f, 4}};
    sorted = line.From(0, {5, 6, 20});
    gv::SelectNeighbors(sorted, 8, 0, 0.0f, line, kept, pruned);
    EXPECT_EQ(Ids(kept), (std::vector<gv::NodeId>{1, 2, 3, 4, 20}));
}

// A back-link into a full list: the list is chosen again, the member left
// out is reported, and so is a kept member closer to it than the target.
TEST(HnswPolicy, ShrinkListReportsDroppedAndWitness) {
    // target 0 at x=0; members 1 (x=1), 2 (x=1.4), 3 (x=-1); newcomer 4 at 0.9
    Line line{{0.0f, 1.0f, 1.4f, -1.0f, 0.9f}};
    auto sorted = line.From(0, {1, 2, 3, 4});
    std::vector<gv::Candidate> selected, pruned;
    gv::ShrinkResult r = gv::ShrinkList(sorted, 4, 3, 2, -1.0f, false, line, selected, pruned);
    // heuristic: 4 (0.9) kept, 1 pruned (0.1 from 4), 3 kept, 2 pruned;
    // refill to 2 adds nothing
    EXPECT_TRUE(r.kept);
    EXPECT_EQ(Ids(selected), (std::vector<gv::NodeId>{4, 3}));
    EXPECT_EQ(r.dropped, 1u);  // the first member left out
    EXPECT_EQ(r.witness, 4u);  // 4 is 0.1 from 1, the target 1.0
}

// With force, a newcomer the heuristic left out takes the last place.
TEST(HnswPolicy, ShrinkListForceKeepsNewcomer) {
    // target 0; members 1 (x=1), 2 (x=-1); newcomer 3 at x=2 (behind 1)
    Line line{{0.0f, 1.0f, -1.0f, 2.0f}};
    auto sorted = line.From(0, {1, 2, 3});
    std::vector<gv::Candidate> selected, pruned;
    gv::ShrinkResult r = gv::ShrinkList(sorted, 3, 2, 0, -1.0f, false, line, selected, pruned);
    EXPECT_FALSE(r.kept);
    EXPECT_EQ(r.dropped, gv::kNoNode);
    r = gv::ShrinkList(sorted, 3, 2, 0, -1.0f, true, line, selected, pruned);
    EXPECT_TRUE(r.kept);
    EXPECT_EQ(Ids(selected), (std::vector<gv::NodeId>{1, 3}));
    EXPECT_EQ(selected.back().distance, 2.0f);
    EXPECT_EQ(r.dropped, 2u);
    EXPECT_EQ(r.witness, gv::kNoNode);  // nothing kept is closer to 2 than the target
}

TEST(HnswPolicy, LinkDroppedSkipsSelfDuplicatesDeadThenReplaces) {
    gv::NodeId own[4] = {7, 8, 0, 0};
    int count = 2;
    gv::NodeId dropped[] = {9, 8, 5, 3, 11, 12, 13};
    auto live = [](gv::NodeId id) { return id != 3; };
    int linked = gv::LinkDropped(5, dropped, 7, 4, 4, own, &count, live);
    // 9 and 11 fill the free places, 8 is already there, 5 is self, 3 dead;
    // 12 takes the place of 7 (the only member not pushed out itself: 8, 9
    // and 11 are in `dropped`), and 13 finds no place left
    EXPECT_EQ(linked, 3);
    EXPECT_EQ(count, 4);
    EXPECT_EQ(own[0], 12u);
    EXPECT_EQ(own[1], 8u);
    EXPECT_EQ(own[2], 9u);
    EXPECT_EQ(own[3], 11u);
}

TEST(HnswPolicy, LinkDroppedReplacesFarthestFirst) {
    gv::NodeId own[3] = {1, 2, 3};
    int count = 3;
    gv::NodeId dropped[] = {20, 21};
    int linked = gv::LinkDropped(9, dropped, 2, 3, 4, own, &count, [](gv::NodeId) { return true; });
    EXPECT_EQ(linked, 2);
    EXPECT_EQ(own[0], 1u);
    EXPECT_EQ(own[1], 21u);
    EXPECT_EQ(own[2], 20u);
    // with replace_max 1 only the first left over gets a place
    gv::NodeId own2[3] = {1, 2, 3};
    count = 3;
    EXPECT_EQ(gv::LinkDropped(9, dropped, 2, 3, 1, own2, &count, [](gv::NodeId) { return true; }),
              1);
    EXPECT_EQ(own2[1], 2u);
    EXPECT_EQ(own2[2], 20u);
    // and with 0 (CREATE INDEX) the list stays as it was
    gv::NodeId own3[3] = {1, 2, 3};
    EXPECT_EQ(gv::LinkDropped(9, dropped, 2, 3, 0, own3, &count, [](gv::NodeId) { return true; }),
              0);
    EXPECT_EQ(own3[2], 3u);
}

TEST(HnswOrphans, ChooseOrphanPlace) {
    gv::NodeId list[3] = {0, 1, 2};
    uint16_t in_degree[3] = {2, 1, 1};
    EXPECT_EQ(gv::ChooseOrphanPlace(list, 3, 4, in_degree, 3), 3);  // free place
    EXPECT_EQ(gv::ChooseOrphanPlace(list, 3, 3, in_degree, 3), 0);  // only 0 has two
    in_degree[0] = 1;
    EXPECT_EQ(gv::ChooseOrphanPlace(list, 3, 3, in_degree, 3), -1);
    in_degree[2] = 5;
    EXPECT_EQ(gv::ChooseOrphanPlace(list, 3, 3, in_degree, 3), 2);  // farthest first
}

namespace {

// A store of level-0 lists in memory, as ConnectUnreached sees a graph.
struct FakeLists {
    std::vector<std::vector<gv::NodeId>> lists;
    std::vector<bool> live;
    gv::NodeId entry = 0;
    int refuse_writes = 0;  // the next this many writes fail (a concurrent change)
    int writes = 0;
    // a concurrent insert: at read number inject_at_read, inject_id joins
    // the lists of inject_into (replacing their last member when full)
    int reads = 0, inject_at_read = -1;
    gv::NodeId inject_id = gv::kNoNode;
    std::vector<gv::NodeId> inject_into;
    std::size_t max = 0;

    gv::NodeId NodeCount() { return (gv::NodeId)lists.size(); }
    gv::NodeId Entry() { return entry; }
    bool Live(gv::NodeId id) { return live[id]; }
    int Read(gv::NodeId id, gv::NodeId *out) {
        if (++reads == inject_at_read)
            for (gv::NodeId via : inject_into) {
                if (lists[via].size() >= max) lists[via].pop_back();
                lists[via].push_back(inject_id);
            }
        std::copy(lists[id].begin(), lists[id].end(), out);
        return (int)lists[id].size();
    }
    bool Write(gv::NodeId via, const gv::NodeId *before, int before_count, const gv::NodeId *ids,
               int count) {
        if (refuse_writes > 0) {
            refuse_writes--;
            return false;
        }
        EXPECT_TRUE(
            std::equal(before, before + before_count, lists[via].begin(), lists[via].end()));
        lists[via].assign(ids, ids + count);
        writes++;
        return true;
    }

    // Live nodes the entry point does not reach.
    std::size_t Unreached() {
        std::vector<bool> seen(lists.size(), false);
        std::vector<gv::NodeId> queue{entry};
        seen[entry] = true;
        for (std::size_t h = 0; h < queue.size(); h++)
            for (gv::NodeId nb : lists[queue[h]])
                if (live[nb] && !seen[nb]) {
                    seen[nb] = true;
                    queue.push_back(nb);
                }
        std::size_t n = 0;
        for (std::size_t i = 0; i < lists.size(); i++) n += live[i] && !seen[i];
        return n;
    }
};

struct Scratch {
    std::vector<uint16_t> in_degree;
    std::vector<uint8_t> reached;
    std::vector<gv::NodeId> queue, list, own, rewritten;
    gv::OrphanScratch s;
    Scratch(std::size_t n, int max)
        : in_degree(n), reached(n), queue(n), list(max), own(max + 1), rewritten(max) {
        s = {in_degree.data(), reached.data(), queue.data(),
             list.data(),      own.data(),     rewritten.data()};
    }
};

// A random graph of n nodes with full lists of `max`, every node reachable.
FakeLists RandomGraph(std::size_t n, int max, unsigned seed) {
    FakeLists f;
    f.lists.resize(n);
    f.live.assign(n, true);
    std::mt19937 rng(seed);
    for (std::size_t i = 0; i < n; i++) {
        std::set<gv::NodeId> s{(gv::NodeId)((i + 1) % n)};  // a ring: all reachable
        while ((int)s.size() < max) {
            gv::NodeId j = (gv::NodeId)(rng() % n);
            if (j != i) s.insert(j);
        }
        f.lists[i].assign(s.begin(), s.end());
    }
    return f;
}

}  // namespace

// Planted damage: single orphans (in-links removed) and a group of five that
// links only among itself. Each gets linked, the group through one link.
TEST(HnswOrphans, ConnectUnreachedLinksPlantedOrphansAndGroups) {
    const int max = 6;
    const std::size_t n = 200;
    FakeLists f = RandomGraph(n, max, 1);
    ASSERT_EQ(f.Unreached(), 0u);
    std::set<gv::NodeId> cut{17, 42, 99, 150, 151, 152, 153, 154};
    for (std::size_t i = 0; i < n; i++) {
        if (i >= 150 && i <= 154) {
            // the group: links only to each other
            f.lists[i].clear();
            for (gv::NodeId j = 150; j <= 154; j++)
                if (j != i) f.lists[i].push_back(j);
            continue;
        }
        auto &l = f.lists[i];
        l.erase(std::remove_if(l.begin(), l.end(), [&](gv::NodeId x) { return cut.count(x) > 0; }),
                l.end());
    }
    ASSERT_EQ(f.Unreached(), cut.size());
    Scratch s(n, max);
    std::size_t linked = gv::ConnectUnreached(f, max, s.s);
    EXPECT_EQ(f.Unreached(), 0u);
    EXPECT_EQ(linked, 4u);  // 17, 42, 99, and the group through one of its nodes
    for (const auto &l : f.lists) EXPECT_LE((int)l.size(), max);
    // nothing else was made unreachable, and a second pass has nothing to do
    EXPECT_EQ(gv::ConnectUnreached(f, max, s.s), 0u);
}

// A replacement must not cut off what it replaces: the entry point's full
// list holds the only way to node 5, whose other in-link comes from its own
// child 6; one pass that counted 6's link as a second in-link gave orphan 7
// the place of 5 and left 5 and 6 unreached. In-links are counted
// from reached nodes only, and passes repeat until every node is reached.
TEST(HnswOrphans, ReplacementNeverCutsOffTheReplacedNode) {
    const int max = 2;
    FakeLists f;
    // 0 (entry) -> 1, 5;  1 -> 2, 3;  2 -> 3, 4;  3 -> 4, 0;  4 -> 0, 1
    // 5 -> 6;  6 -> 5;  7 (orphan: nobody links to it) -> 0
    f.lists = {{1, 5}, {2, 3}, {3, 4}, {4, 0}, {0, 1}, {6}, {5}, {0}};
    f.live.assign(8, true);
    ASSERT_EQ(f.Unreached(), 1u);  // 7
    Scratch s(8, max);
    gv::ConnectUnreached(f, max, s.s);
    EXPECT_EQ(f.Unreached(), 0u);
    for (const auto &l : f.lists) EXPECT_LE((int)l.size(), max);
}

// Random graphs with small full lists and many cuts: after ConnectUnreached
// every live node is reachable (one pass left some: a replaced member can be
// the only way to its descendants).
TEST(HnswOrphans, ConnectUnreachedLeavesNoneOnRandomDamage) {
    const int max = 3;
    const std::size_t n = 400;
    std::size_t linked_total = 0;
    for (unsigned seed = 1; seed <= 40; seed++) {
        FakeLists f = RandomGraph(n, max, seed);
        std::mt19937 rng(seed * 7919u);
        for (int k = 0; k < 60; k++) {
            gv::NodeId x = (gv::NodeId)(1 + rng() % (n - 1));
            if (k % 5 == 0) {
                f.live[x] = false;
                continue;
            }
            for (auto &l : f.lists) l.erase(std::remove(l.begin(), l.end(), x), l.end());
        }
        Scratch s(n, max);
        linked_total += gv::ConnectUnreached(f, max, s.s);
        EXPECT_EQ(f.Unreached(), 0u) << "seed " << seed;
        for (const auto &l : f.lists) EXPECT_LE((int)l.size(), max);
    }
    EXPECT_GT(linked_total, 0u);
}

// MarkReached marks exactly what a reference walk reaches, on random graphs
// with planted cuts and dead nodes, and counts what it marked.
TEST(HnswOrphans, MarkReachedAgreesWithAReferenceWalk) {
    const int max = 4;
    const std::size_t n = 300;
    for (unsigned seed = 1; seed <= 20; seed++) {
        FakeLists f = RandomGraph(n, max, seed);
        std::mt19937 rng(seed);
        for (int k = 0; k < 40; k++) {  // planted damage: cut in-links, kill nodes
            gv::NodeId x = (gv::NodeId)(1 + rng() % (n - 1));
            if (k % 4 == 0) {
                f.live[x] = false;  // keeps its in-links: walks must not pass it
                continue;
            }
            for (auto &l : f.lists) l.erase(std::remove(l.begin(), l.end(), x), l.end());
        }
        std::vector<uint8_t> reached(n, 0);
        std::vector<gv::NodeId> queue(n), list(max);
        gv::NodeId marked = gv::MarkReached(f, f.entry, reached.data(), queue.data(), list.data());
        std::size_t live = 0, live_marked = 0;
        for (std::size_t i = 0; i < n; i++) {
            live += f.live[i];
            live_marked += f.live[i] && reached[i];
            if (!f.live[i]) {
                EXPECT_EQ(reached[i], 0) << "dead node " << i;
            }
        }
        EXPECT_EQ((std::size_t)marked, live_marked);
        EXPECT_EQ(live - live_marked, f.Unreached()) << "seed " << seed;
        EXPECT_GT(f.Unreached(), 0u) << "seed " << seed << ": the damage cut nothing";
        // a start already reached marks nothing more
        EXPECT_EQ(gv::MarkReached(f, f.entry, reached.data(), queue.data(), list.data()), 0u);
    }
}

// Dead nodes are neither walked through nor linked; a node reached only
// through a dead one counts as unreached.
TEST(HnswOrphans, DeadNodesDoNotCount) {
    const int max = 4;
    FakeLists f;
    // 0 -> 1 -> 2, 0 -> 3; node 1 dead
    f.lists = {{1, 3}, {2}, {0}, {0}};
    f.live = {true, false, true, true};
    Scratch s(4, max);
    EXPECT_EQ(f.Unreached(), 1u);
    EXPECT_EQ(gv::ConnectUnreached(f, max, s.s), 1u);
    EXPECT_EQ(f.Unreached(), 0u);
    // 2's own list names 0 (reached), so 0 links to it, in a free place
    EXPECT_EQ(f.lists[0], (std::vector<gv::NodeId>{1, 3, 2}));
}

// A write that finds its list changed is retried through the next candidate.
TEST(HnswOrphans, RefusedWriteTriesTheNextCandidate) {
    const int max = 3;
    FakeLists f;
    // 0 -> 1, 1 -> 0; 2 is unreached, its own list names 1 then 0
    f.lists = {{1}, {0}, {1, 0}};
    f.live = {true, true, true};
    f.refuse_writes = 1;
    Scratch s(3, max);
    EXPECT_EQ(gv::ConnectUnreached(f, max, s.s), 1u);
    EXPECT_EQ(f.Unreached(), 0u);
    EXPECT_EQ(f.lists[0], (std::vector<gv::NodeId>{1, 2}));  // 1's write was refused
}

// A concurrent insert links the orphan from reached nodes after the walk:
// the place chosen in a full list can then be the orphan's own, and handing
// the member it replaces (itself) to its own list made a self-link (TAP 004).
TEST(HnswOrphans, OrphanLinkedMeanwhileIsNeverItsOwnNeighbour) {
    const int max = 2;
    FakeLists f;
    // 0 (entry) -> 1;  1 -> 0;  2 (unreached) -> 1
    f.lists = {{1}, {0}, {1}};
    f.live = {true, true, true};
    f.max = max;
    // the walk reads 0 and 1; then, before the in-links are counted, 2 joins
    // both lists (full at 2)
    f.inject_at_read = 3;
    f.inject_id = 2;
    f.inject_into = {0, 1};
    Scratch s(3, max);
    gv::ConnectUnreached(f, max, s.s);
    for (gv::NodeId id = 0; id < 3; id++)
        for (gv::NodeId nb : f.lists[id]) EXPECT_NE(nb, id) << "node " << id << " links to itself";
    EXPECT_EQ(f.Unreached(), 0u);
}

// When every reached list is full and no member can give way, nothing is
// written (and nothing loops).
TEST(HnswOrphans, NoPlaceLeavesTheGraphAlone) {
    const int max = 1;
    FakeLists f;
    f.lists = {{1}, {0}, {0}};  // 2 unreached; 0's only member has one in-link
    f.live = {true, true, true};
    Scratch s(3, max);
    EXPECT_EQ(gv::ConnectUnreached(f, max, s.s), 0u);
    EXPECT_EQ(f.writes, 0);
    EXPECT_EQ(f.Unreached(), 1u);
}

// The id table against std::set under random inserts, lookups, growth and
// clears, with ids across the whole 32-bit range.
TEST(IdTable, MatchesASet) {
    gv::IdTable<std::vector<gv::IdTableEntry>> t;
    std::mt19937 rng(5);
    std::size_t most_held = 64;
    for (int round = 0; round < 20; round++) {
        t.Clear(round * 10);
        std::set<uint32_t> ref;
        int inserts = 1 + (int)(rng() % 3000);
        for (int i = 0; i < inserts; i++) {
            uint32_t key = round % 2 ? rng() % 500 : rng() % 0xFFFFFFFEu;
            bool inserted;
            uint32_t *v = t.FindOrInsert(key, key ^ 0x55u, &inserted);
            EXPECT_EQ(inserted, ref.insert(key).second);
            EXPECT_EQ(*v, key ^ 0x55u);
        }
        EXPECT_EQ(t.size(), ref.size());
        for (uint32_t key : ref) ASSERT_NE(t.Find(key), nullptr);
        for (int i = 0; i < 1000; i++) {
            uint32_t key = rng() % 0xFFFFFFFFu;  // never the empty key
            EXPECT_EQ(t.Find(key) != nullptr, ref.count(key) > 0);
        }
        std::size_t seen = 0;
        t.ForEach([&](uint32_t key, uint32_t value) {
            EXPECT_TRUE(ref.count(key));
            EXPECT_EQ(value, key ^ 0x55u);
            seen++;
        });
        EXPECT_EQ(seen, ref.size());
        // capacity follows what was held, not the ids
        most_held = std::max(most_held, ref.size());
        EXPECT_LE(t.array().size(), 4 * most_held);
    }
}

// Both visited sets: marks, flags, forgetting on reset, ids past the end.
template <class Visited>
void CheckVisited(Visited &v) {
    for (int round = 0; round < 3; round++) {
        v.Reset(100);
        EXPECT_FALSE(v.Contains(5));
        EXPECT_EQ(v.Flags(5), 0);
        EXPECT_TRUE(v.Insert(5));
        EXPECT_FALSE(v.Insert(5));
        EXPECT_TRUE(v.Contains(5));
        EXPECT_EQ(v.Flags(5), 0);
        v.SetFlags(5, Visited::kFlag1);
        v.SetFlags(5, Visited::kFlag2);
        EXPECT_EQ(v.Flags(5), Visited::kFlag1 | Visited::kFlag2);
        v.SetFlags(6, Visited::kFlag1);  // not visited: no effect
        EXPECT_FALSE(v.Contains(6));
        EXPECT_TRUE(v.Insert(100000));  // past the expected range
        EXPECT_TRUE(v.Contains(100000));
    }
}

TEST(Visited, MarksAndTableAgree) {
    gv::VisitedMarks<std::vector<uint16_t>> marks;
    CheckVisited(marks);
    gv::VisitedTable<std::vector<gv::IdTableEntry>> table;
    CheckVisited(table);
    // the marks' generations wrap without stale marks coming back
    marks.Reset(10);
    marks.Insert(3);
    for (int i = 0; i < (1 << 14) + 5; i++) {
        marks.Reset(10);
        ASSERT_FALSE(marks.Contains(3)) << i;
    }
}
