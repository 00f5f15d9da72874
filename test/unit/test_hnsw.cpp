// Unit tests of the in-memory HNSW graph: recall against brute force for
// every metric, threaded builds, graph invariants, small and degenerate
// inputs, capacity limits and cancellation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <vector>

#include "gigavector/hnsw/hnsw_graph.h"

namespace gv = gigavector;

namespace {

// Gaussian mixture: clustered like real embeddings, harder than uniform noise.
std::vector<float> MakeData(std::size_t n, int dim, unsigned seed, int clusters = 16) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> centers((std::size_t)clusters * dim);
    for (float &c : centers) c = 3.0f * normal(rng);
    std::vector<float> data(n * dim);
    std::uniform_int_distribution<int> pick(0, clusters - 1);
    for (std::size_t i = 0; i < n; i++) {
        int c = pick(rng);
        for (int d = 0; d < dim; d++)
            data[i * dim + d] = centers[(std::size_t)c * dim + d] + normal(rng);
    }
    return data;
}

// Owns the memory region of a graph, as the extension's memory context does.
struct GraphHolder {
    std::unique_ptr<unsigned char, decltype(&std::free)> memory{nullptr, &std::free};
    std::unique_ptr<gv::HnswGraph> graph;

    GraphHolder(std::size_t capacity, int dim, gv::Metric metric, gv::HnswParams params) {
        std::size_t bytes = gv::HnswGraph::BytesNeeded(capacity, dim, params);
        memory.reset(static_cast<unsigned char *>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
        graph = std::make_unique<gv::HnswGraph>(memory.get(), bytes, capacity, dim, metric, params);
    }
};

std::unique_ptr<GraphHolder> Build(const std::vector<float> &data, int dim, gv::Metric metric,
                                   gv::HnswParams params, int threads, unsigned seed = 7) {
    std::size_t n = data.size() / dim;
    auto holder = std::make_unique<GraphHolder>(n, dim, metric, params);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (std::size_t i = 0; i < n; i++) {
        gv::NodeId id =
            holder->graph->Add(&data[i * dim], gv::RandomLevel(1.0 - uniform(rng), params.m));
        EXPECT_EQ(id, (gv::NodeId)i);
    }
    EXPECT_TRUE(holder->graph->LinkRange(0, (gv::NodeId)n, threads));
    holder->graph->FillDeferred();
    return holder;
}

// Exact k nearest by the same index distance.
std::vector<gv::NodeId> BruteForce(const gv::HnswGraph &g, const float *query, int k) {
    std::vector<float> q(query, query + g.dim());
    gv::PrepareForMetric(g.metric(), q.data(), q.size());
    std::vector<gv::Candidate> all;
    for (std::size_t i = 0; i < g.size(); i++)
        all.push_back({g.DistanceTo(q.data(), (gv::NodeId)i), (gv::NodeId)i});
    std::partial_sort(all.begin(), all.begin() + k, all.end(), gv::Closer);
    std::vector<gv::NodeId> ids;
    for (int i = 0; i < k; i++) ids.push_back(all[i].id);
    return ids;
}

double Recall(const gv::HnswGraph &g, const std::vector<float> &queries, int k, int ef) {
    int dim = g.dim();
    std::size_t nq = queries.size() / dim;
    std::size_t hits = 0;
    std::vector<gv::Candidate> found;
    for (std::size_t i = 0; i < nq; i++) {
        g.Search(&queries[i * dim], k, ef, found);
        std::vector<gv::NodeId> truth = BruteForce(g, &queries[i * dim], k);
        std::set<gv::NodeId> t(truth.begin(), truth.end());
        for (const gv::Candidate &c : found) hits += t.count(c.id);
    }
    return (double)hits / (double)(nq * k);
}

void CheckInvariants(const gv::HnswGraph &g) {
    std::vector<gv::NodeId> list;
    for (std::size_t i = 0; i < g.size(); i++) {
        for (int l = 0; l <= g.level((gv::NodeId)i); l++) {
            g.CopyNeighbors((gv::NodeId)i, l, list);
            ASSERT_LE((int)list.size(), gv::MaxNeighbors(g.params().m, l));
            std::set<gv::NodeId> seen;
            for (gv::NodeId n : list) {
                ASSERT_LT(n, g.size());
                ASSERT_NE(n, (gv::NodeId)i) << "self loop";
                ASSERT_GE(g.level(n), l) << "neighbour lacks the level";
                ASSERT_TRUE(seen.insert(n).second) << "duplicate neighbour";
            }
        }
    }
}

// Fraction of nodes reachable from the entry point on level 0.
double Reachable(const gv::HnswGraph &g) {
    std::vector<char> seen(g.size(), 0);
    std::vector<gv::NodeId> stack{g.entry_point()}, list;
    seen[g.entry_point()] = 1;
    std::size_t count = 1;
    while (!stack.empty()) {
        gv::NodeId n = stack.back();
        stack.pop_back();
        g.CopyNeighbors(n, 0, list);
        for (gv::NodeId m : list)
            if (!seen[m]) {
                seen[m] = 1;
                count++;
                stack.push_back(m);
            }
    }
    return (double)count / (double)g.size();
}

// Thresholds are those hnswlib reaches on the same kind of data (measured
// with python3-hnswlib, same m / ef_construction) at ef 80, less a small
// margin: L2 0.94, cosine 0.85, inner product 0.64. Our graphs fill a new
// node's lists to 3/4 with pruned candidates (OwnListFill), which on GloVe
// halves the ef needed for recall 0.95 but on this clustered synthetic data
// needs about twice hnswlib's ef for the same recall, so the searches here
// use ef 160 (and 128 against hnswlib's 0.876 at ef 64 below).
struct MetricCase {
    gv::Metric metric;
    double min_recall;       // at ef 160
    double min_recall_wide;  // at ef 400
    bool navigable;          // inner product is not a metric: no reachability promise
};

void PrintTo(const MetricCase &c, std::ostream *os) {
    *os << "metric " << (int)c.metric;
}

class HnswRecall : public ::testing::TestWithParam<MetricCase> {};

TEST_P(HnswRecall, MatchesBruteForce) {
    const int dim = 24;
    std::vector<float> data = MakeData(4000, dim, 1);
    std::vector<float> queries = MakeData(100, dim, 2);
    gv::HnswParams params;
    params.m = 12;
    params.ef_construction = 64;
    auto h = Build(data, dim, GetParam().metric, params, 1);
    CheckInvariants(*h->graph);
    if (GetParam().navigable) {
        EXPECT_GE(Reachable(*h->graph), 0.99);
    }
    double recall = Recall(*h->graph, queries, 10, 160);  // see MetricCase
    EXPECT_GE(recall, GetParam().min_recall);
    double wide = Recall(*h->graph, queries, 10, 400);
    EXPECT_GE(wide, GetParam().min_recall_wide);
    EXPECT_GE(wide, recall - 0.01);
}

INSTANTIATE_TEST_SUITE_P(Metrics, HnswRecall,
                         ::testing::Values(MetricCase{gv::Metric::kL2, 0.92, 0.99, true},
                                           MetricCase{gv::Metric::kCosine, 0.83, 0.97, true},
                                           MetricCase{gv::Metric::kL1, 0.88, 0.98, true},
                                           MetricCase{gv::Metric::kInnerProduct, 0.60, 0.72,
                                                      false}));

// A threaded build links in another order each run, so its recall varies as
// a serial build's does across level seeds (0.933 to 0.972 over 30 seeds on
// this data): the means of six builds each are compared, not one build
// against one seed (which failed 1 run in 40).
TEST(Hnsw, ThreadedBuildKeepsRecall) {
    const int dim = 32;
    std::vector<float> data = MakeData(6000, dim, 3);
    std::vector<float> queries = MakeData(100, dim, 4);
    gv::HnswParams params;
    const int builds = 6;
    double serial = 0, threaded = 0;
    for (int i = 0; i < builds; i++) {
        auto one = Build(data, dim, gv::Metric::kL2, params, 1, 100 + i);
        auto four = Build(data, dim, gv::Metric::kL2, params, 4, 100 + i);
        CheckInvariants(*four->graph);
        serial += Recall(*one->graph, queries, 10, 128) / builds;
        threaded += Recall(*four->graph, queries, 10, 128) / builds;
    }
    std::printf("mean recall@10 at ef 128: serial %.4f, 4 threads %.4f\n", serial, threaded);
    // hnswlib: 0.876 on this kind of data at ef 64; we search with ef 128
    EXPECT_GE(serial, 0.90);
    EXPECT_GE(threaded, serial - 0.025);
}

TEST(Hnsw, EmptyAndTinyGraphs) {
    const int dim = 4;
    gv::HnswParams params;
    std::vector<gv::Candidate> found;
    GraphHolder empty(4, dim, gv::Metric::kL2, params);
    float q[dim] = {1, 2, 3, 4};
    empty.graph->Search(q, 5, 10, found);
    EXPECT_TRUE(found.empty());

    for (int n = 1; n <= 3; n++) {
        std::vector<float> data = MakeData((std::size_t)n, dim, 10 + n);
        auto h = Build(data, dim, gv::Metric::kL2, params, 1);
        h->graph->Search(q, 5, 10, found);
        ASSERT_EQ((int)found.size(), n);
        for (int i = 1; i < n; i++) EXPECT_LE(found[i - 1].distance, found[i].distance);
    }
}

TEST(Hnsw, ManyDuplicates) {
    const int dim = 8;
    std::vector<float> data = MakeData(600, dim, 5);
    std::vector<float> dup(data.begin(), data.begin() + dim);
    for (int i = 0; i < 1500; i++) data.insert(data.end(), dup.begin(), dup.end());
    gv::HnswParams params;
    auto h = Build(data, dim, gv::Metric::kL2, params, 2);
    CheckInvariants(*h->graph);
    std::vector<gv::Candidate> found;
    h->graph->Search(dup.data(), 50, 100, found);
    ASSERT_EQ(found.size(), 50u);
    for (const gv::Candidate &c : found)
        EXPECT_EQ(c.distance, 0.0f) << "id " << c.id << " level " << h->graph->level(c.id);
    // a query far from the duplicates still finds its true neighbours
    std::vector<float> queries = MakeData(50, dim, 6);
    EXPECT_GE(Recall(*h->graph, queries, 10, 100), 0.9);
}

// Thousands of identical vectors: the duplicate cap and the tie order of
// CloserFromBase keep every one of them reachable, so a search wide enough to
// see the whole graph returns every duplicate, and ConnectOrphans finds
// nothing left to link (it is tested on planted orphans in
// test_hnsw_policy.cpp).
TEST(Hnsw, DuplicatesStayReachable) {
    const int dim = 4;
    std::vector<float> data;
    for (int i = 0; i < 3000; i++) data.insert(data.end(), {1, 1, 1, 1});
    for (int i = 0; i < 100; i++) data.insert(data.end(), {(float)(3001 + i), 0, 0, 1});
    gv::HnswParams params;
    auto h = Build(data, dim, gv::Metric::kCosine, params, 2);
    std::size_t n = h->graph->size();
    auto orphans = [&] {
        std::vector<int> in(n, 0);
        std::vector<gv::NodeId> list;
        for (std::size_t id = 0; id < n; id++) {
            h->graph->CopyNeighbors((gv::NodeId)id, 0, list);
            for (gv::NodeId nb : list) in[nb]++;
        }
        in[h->graph->entry_point()]++;
        return (std::size_t)std::count(in.begin(), in.end(), 0);
    };
    std::size_t before = orphans();
    std::size_t connected = h->graph->ConnectOrphans();
    std::printf("orphans before: %zu\n", before);
    EXPECT_EQ(connected, before);
    EXPECT_EQ(orphans(), 0u);
    CheckInvariants(*h->graph);
    std::vector<gv::Candidate> found;
    float q[4] = {1, 0, 0, 0};
    h->graph->Search(q, (int)n, (int)n, found);
    std::set<gv::NodeId> ids;
    for (const gv::Candidate &c : found) ids.insert(c.id);
    EXPECT_EQ(ids.size(), n) << before << " orphans before";
}

// Level-0 lists are filled to LinkTimeFill while linking and to OwnListFill
// afterwards, from the candidates each node's heuristic pruned.
TEST(Hnsw, FillDeferredTopsUpLevelZeroLists) {
    const int dim = 16;
    std::vector<float> data = MakeData(3000, dim, 11);
    gv::HnswParams params;
    std::size_t n = data.size() / dim;
    GraphHolder h(n, dim, gv::Metric::kL2, params);
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (std::size_t i = 0; i < n; i++)
        h.graph->Add(&data[i * dim], gv::RandomLevel(1.0 - uniform(rng), params.m));
    ASSERT_TRUE(h.graph->LinkRange(0, (gv::NodeId)n, 2));
    const int fill = gv::OwnListFill(params.m, 0);
    auto short_lists = [&] {
        std::size_t count = 0;
        std::vector<gv::NodeId> list;
        for (std::size_t id = 0; id < n; id++) {
            h.graph->CopyNeighbors((gv::NodeId)id, 0, list);
            count += (int)list.size() < fill;
        }
        return count;
    };
    std::size_t before = short_lists();
    EXPECT_GT(before, n / 10) << "lists are filled to " << gv::LinkTimeFill(params.m)
                              << " while linking";
    EXPECT_GT(h.graph->FillDeferred(), 0u);
    EXPECT_LT(short_lists(), n / 100);
    CheckInvariants(*h.graph);
    std::vector<float> queries = MakeData(100, dim, 12);
    EXPECT_GE(Recall(*h.graph, queries, 10, 64), 0.9);
}

TEST(Hnsw, CapacityIsRespected) {
    gv::HnswParams params;
    GraphHolder h(3, 2, gv::Metric::kL2, params);
    float v[2] = {1, 1};
    EXPECT_NE(h.graph->Add(v, 0), gv::kNoNode);
    EXPECT_NE(h.graph->Add(v, 0), gv::kNoNode);
    EXPECT_NE(h.graph->Add(v, 0), gv::kNoNode);
    EXPECT_EQ(h.graph->Add(v, 0), gv::kNoNode);
    EXPECT_THROW(gv::HnswGraph(h.memory.get(), 16, 3, 2, gv::Metric::kL2, params), std::bad_alloc);
}

TEST(Hnsw, ProgressCanStopAndResume) {
    const int dim = 8;
    std::vector<float> data = MakeData(3000, dim, 8);
    gv::HnswParams params;
    GraphHolder h(3000, dim, gv::Metric::kL2, params);
    for (std::size_t i = 0; i < 3000; i++) h.graph->Add(&data[i * dim], 0);
    int calls = 0;
    auto cancel = [](void *ctx, std::size_t) {
        return ++*static_cast<int *>(ctx) < 2;  // cancel at the second report
    };
    gv::NodeId resume_at = 0;
    EXPECT_FALSE(h.graph->LinkRange(0, 3000, 2, cancel, &calls, &resume_at));
    EXPECT_GE(calls, 2);
    EXPECT_GT(resume_at, 0u);
    EXPECT_LT(resume_at, 3000u);
    // nodes from resume_at on were not touched: no lists yet
    std::vector<gv::NodeId> list;
    for (gv::NodeId id = resume_at; id < 3000; id++) {
        h.graph->CopyNeighbors(id, 0, list);
        ASSERT_TRUE(list.empty()) << "node " << id << " linked past the stop point";
    }
    // resuming links the rest; the result is a complete, sound graph
    EXPECT_TRUE(h.graph->LinkRange(resume_at, 3000, 2));
    CheckInvariants(*h.graph);
    for (gv::NodeId id = 1; id < 3000; id++) {
        h.graph->CopyNeighbors(id, 0, list);
        ASSERT_FALSE(list.empty()) << "node " << id << " never linked";
    }
    EXPECT_GE(Reachable(*h.graph), 0.99);
}

TEST(Hnsw, RandomLevelDistribution) {
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    int above0 = 0, n = 100000;
    for (int i = 0; i < n; i++) above0 += gv::RandomLevel(1.0 - uniform(rng), 16) > 0;
    // P(level >= 1) = 1/m
    EXPECT_NEAR((double)above0 / n, 1.0 / 16, 0.005);
    EXPECT_EQ(gv::RandomLevel(0.0, 16), gv::kHnswMaxLevel);
    EXPECT_EQ(gv::RandomLevel(1.0, 16), 0);
}

}  // namespace
