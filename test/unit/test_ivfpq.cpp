// Unit tests of IVF-PQ (ivf/ivfpq.h) on plain-memory lists: with an exact
// re-rank of the candidates, recall@10 against brute force is high for
// every metric and both code widths; probing every list with a large
// candidate count is exact; packed (fast-scan) and unpacked entries give
// the same candidates; approximate distances track the exact ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "gigavector/ivf/ivfpq.h"

namespace gv = gigavector;

namespace {

struct Data {
    int dim = 32;
    std::size_t n = 2500;
    std::vector<float> x, q;
};

// Clustered data (40 centres), prepared for the metric; 30 queries.
Data Clustered(gv::Metric m, unsigned seed) {
    Data d;
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> centres(40 * d.dim);
    for (float &c : centres) c = 3.0f * g(rng);
    auto make = [&](std::size_t n, std::vector<float> &out) {
        out.resize(n * d.dim);
        for (std::size_t i = 0; i < n; i++) {
            std::size_t c = rng() % 40;
            for (int j = 0; j < d.dim; j++) out[i * d.dim + j] = centres[c * d.dim + j] + g(rng);
            gv::PrepareForMetric(m, &out[i * d.dim], (std::size_t)d.dim);
        }
    };
    make(d.n, d.x);
    make(30, d.q);
    return d;
}

struct Built {
    std::vector<float> centroids, codebook;
    gv::IvfPqModel model;
    gv::IvfMemoryLists lists;
    Built(const Data &d, gv::Metric m, int nlists, int sub, int bits)
        : lists(nlists, gv::PqShape{d.dim, sub, bits}) {
        model.dim = d.dim;
        model.lists = nlists;
        model.metric = m;
        model.pq = gv::PqShape{d.dim, sub, bits};
        centroids.resize((std::size_t)nlists * d.dim);
        codebook.resize(model.pq.CodebookFloats());
        gv::KMeansParams p;
        p.iterations = 4;
        gv::TrainIvfPq(d.x.data(), d.n, d.dim, nlists, model.pq, p, centroids.data(),
                       codebook.data());
        model.centroids = centroids.data();
        model.codebook = codebook.data();
        std::vector<float> r(d.dim);
        std::vector<uint8_t> codes(sub);
        for (std::size_t i = 0; i < d.n; i++) {
            uint32_t list = gv::EncodeIvfPq(model, &d.x[i * d.dim], r.data(), codes.data());
            lists.Add(list, i, codes.data());
        }
    }
};

struct Search {
    std::vector<float> ld, res, table;
    std::vector<uint32_t> order;
    std::vector<uint8_t> qt;
    std::vector<gv::IvfCandidate> heap;
    gv::IvfPqScratch s;
    Search(const gv::IvfPqModel &m, std::size_t rerank) {
        gv::IvfPqScratchSizes z = gv::IvfPqScratchSizesFor(m, rerank);
        ld.resize(z.list_floats);
        order.resize(z.list_ids);
        res.resize(z.dim_floats);
        table.resize(z.table_floats);
        qt.resize(z.qtable_bytes);
        heap.resize(z.heap_entries);
        s = {ld.data(), order.data(), res.data(), table.data(), qt.data(), heap.data()};
    }
};

// Top 10 ids after scanning `probes` lists for `rerank` candidates and
// re-ranking them exactly.
std::vector<uint64_t> Top10(const Data &d, Built &b, const float *q, int probes, std::size_t rerank,
                            std::vector<gv::IvfCandidate> *approx = nullptr) {
    Search s(b.model, rerank);
    gv::RankLists(b.model, q, s.s);
    gv::IvfPqScanner scan(b.model, q, s.s, rerank);
    scan.ScanLists(b.lists, 0, probes);
    std::size_t n = scan.TakeSorted();
    if (approx) approx->assign(s.heap.begin(), s.heap.begin() + n);
    const gv::DistanceKernels &k = gv::ActiveKernels();
    std::vector<std::pair<float, uint64_t>> exact;
    for (std::size_t i = 0; i < n; i++) {
        uint64_t id = s.heap[i].id;
        exact.push_back({gv::IndexDistance(b.model.metric, k, q, &d.x[id * d.dim], d.dim), id});
    }
    std::sort(exact.begin(), exact.end());
    std::vector<uint64_t> top;
    for (std::size_t i = 0; i < exact.size() && i < 10; i++) top.push_back(exact[i].second);
    return top;
}

std::vector<uint64_t> BruteTop10(const Data &d, gv::Metric m, const float *q) {
    const gv::DistanceKernels &k = gv::ActiveKernels();
    std::vector<std::pair<float, uint64_t>> all;
    for (std::size_t i = 0; i < d.n; i++)
        all.push_back({gv::IndexDistance(m, k, q, &d.x[i * d.dim], d.dim), i});
    std::partial_sort(all.begin(), all.begin() + 10, all.end());
    std::vector<uint64_t> top;
    for (int i = 0; i < 10; i++) top.push_back(all[i].second);
    return top;
}

double Recall(const Data &d, Built &b, int probes, std::size_t rerank) {
    double hit = 0;
    for (int qi = 0; qi < 30; qi++) {
        const float *q = &d.q[(std::size_t)qi * d.dim];
        std::vector<uint64_t> got = Top10(d, b, q, probes, rerank),
                              want = BruteTop10(d, b.model.metric, q);
        std::set<uint64_t> w(want.begin(), want.end());
        for (uint64_t id : got) hit += w.count(id);
    }
    return hit / 300.0;
}

}  // namespace

TEST(IvfPq, RecallWithExactRerankForEveryMetricAndWidth) {
    for (gv::Metric m :
         {gv::Metric::kL2, gv::Metric::kInnerProduct, gv::Metric::kCosine, gv::Metric::kL1}) {
        Data d = Clustered(m, 1 + (unsigned)m);
        for (int bits : {4, 8}) {
            Built b(d, m, 32, 8, bits);
            b.lists.Pack();
            double r = Recall(d, b, 8, 100);
            EXPECT_GE(r, 0.9) << "metric " << (int)m << " bits " << bits;
            // every list and every entry a candidate: the re-rank is exact
            EXPECT_EQ(Recall(d, b, 32, d.n), 1.0) << "metric " << (int)m << " bits " << bits;
        }
    }
}

// The fast-scan blocks and the unpacked tail hold the same entries: the
// same candidates come out, with distances within the table quantization.
TEST(IvfPq, PackedAndUnpackedEntriesAgree) {
    Data d = Clustered(gv::Metric::kL2, 7);
    Built tail(d, gv::Metric::kL2, 16, 8, 4), packed(d, gv::Metric::kL2, 16, 8, 4);
    packed.lists.Pack();
    for (int qi = 0; qi < 10; qi++) {
        const float *q = &d.q[(std::size_t)qi * d.dim];
        std::vector<gv::IvfCandidate> a, b;
        Top10(d, tail, q, 4, 200, &a);
        Top10(d, packed, q, 4, 200, &b);
        ASSERT_EQ(a.size(), b.size());
        // the two candidate sets overlap almost entirely (quantized sums
        // may swap entries at the boundary)
        std::set<uint64_t> sa, sb;
        for (auto &c : a) sa.insert(c.id);
        std::size_t common = 0;
        for (auto &c : b) common += sa.count(c.id);
        EXPECT_GE(common, a.size() * 9 / 10) << qi;
        // approximate distances (same entry) within m * scale / 2 + rounding
        for (auto &x : a) {
            for (auto &y : b) {
                if (x.id == y.id) {
                    EXPECT_NEAR(x.distance, y.distance, 0.05 * (1 + std::fabs(x.distance)));
                }
            }
        }
    }
}

// Adding rows after a pack puts them in the tail; a second pack merges them
// into the last partial block; the entries stay the same set.
TEST(IvfPq, RepackKeepsEveryEntry) {
    Data d = Clustered(gv::Metric::kL2, 9);
    Built b(d, gv::Metric::kL2, 8, 8, 4);
    b.lists.Pack();
    std::size_t before = 0;
    for (uint32_t l = 0; l < 8; l++) before += b.lists.Size(l);
    EXPECT_EQ(before, d.n);
    std::vector<float> r(d.dim);
    std::vector<uint8_t> codes(8);
    for (std::size_t i = 0; i < 77; i++) {
        uint32_t list = gv::EncodeIvfPq(b.model, &d.x[i * d.dim], r.data(), codes.data());
        b.lists.Add(list, d.n + i, codes.data());
    }
    b.lists.Pack();
    std::size_t after = 0;
    for (uint32_t l = 0; l < 8; l++) after += b.lists.Size(l);
    EXPECT_EQ(after, d.n + 77);
    // probing everything with room for all: every id once
    Search s(b.model, after);
    gv::RankLists(b.model, d.q.data(), s.s);
    gv::IvfPqScanner scan(b.model, d.q.data(), s.s, after);
    scan.ScanLists(b.lists, 0, 8);
    std::size_t n = scan.TakeSorted();
    ASSERT_EQ(n, after);
    std::set<uint64_t> ids;
    for (std::size_t i = 0; i < n; i++) ids.insert(s.heap[i].id);
    EXPECT_EQ(ids.size(), after);
    EXPECT_EQ(*ids.rbegin(), d.n + 76);
    for (std::size_t i = 1; i < n; i++) EXPECT_LE(s.heap[i - 1].distance, s.heap[i].distance);
    // the same entries packed once give every entry the same distance: the
    // second pack kept the codes of the partial blocks it re-packed
    gv::IvfMemoryLists once(8, b.model.pq);
    for (std::size_t i = 0; i < d.n + 77; i++) {
        uint32_t list = gv::EncodeIvfPq(b.model, &d.x[(i % d.n) * d.dim], r.data(), codes.data());
        once.Add(list, i, codes.data());
    }
    once.Pack();
    Search s1(b.model, after);
    gv::RankLists(b.model, d.q.data(), s1.s);
    gv::IvfPqScanner scan1(b.model, d.q.data(), s1.s, after);
    scan1.ScanLists(once, 0, 8);
    ASSERT_EQ(scan1.TakeSorted(), after);
    std::vector<float> twice_d(after), once_d(after);
    for (std::size_t i = 0; i < after; i++) {
        twice_d[s.heap[i].id] = s.heap[i].distance;
        once_d[s1.heap[i].id] = s1.heap[i].distance;
    }
    EXPECT_EQ(twice_d, once_d);
}

// The batch encoder (the build's) gives each vector the list and codes the
// single-vector encoder gives (up to ties between equally near centroids).
TEST(IvfPq, BatchEncodingMatchesSingle) {
    Data d = Clustered(gv::Metric::kL2, 11);
    Built b(d, gv::Metric::kL2, 24, 8, 4);
    std::vector<uint32_t> lists(d.n);
    std::vector<uint8_t> codes(d.n * 8);
    gv::EncodeIvfPqBatch(b.model, d.x.data(), d.n, lists.data(), codes.data());
    std::vector<float> r(d.dim);
    std::vector<uint8_t> one(8);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < d.n; i++) {
        uint32_t l = gv::EncodeIvfPq(b.model, &d.x[i * d.dim], r.data(), one.data());
        differ += l != lists[i] || !std::equal(one.begin(), one.end(), &codes[i * 8]);
    }
    EXPECT_LE(differ, d.n / 500) << "of " << d.n;
    // on threads: the same lists and codes
    std::vector<uint32_t> lists3(d.n);
    std::vector<uint8_t> codes3(d.n * 8);
    gv::EncodeIvfPqBatch(b.model, d.x.data(), d.n, lists3.data(), codes3.data(), 3);
    EXPECT_EQ(lists, lists3);
    EXPECT_EQ(codes, codes3);
}
