// Unit tests of ivf/ivfpq_calibrate.h: the derived shape, the brute-force
// neighbours against a plain sort, and the calibration's choice against the
// recall it claims (measured again here, on the same and on other queries).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "gigavector/ivf/ivfpq_calibrate.h"

namespace gv = gigavector;

namespace {

constexpr int kDim = 16;

std::vector<float> Clustered(std::size_t n, unsigned seed, gv::Metric m) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::mt19937 crng(7);  // the same centres for every call
    std::vector<float> centres(25 * kDim);
    for (float &c : centres) c = 4.0f * g(crng);
    std::vector<float> x(n * kDim);
    for (std::size_t i = 0; i < n; i++) {
        std::size_t c = rng() % 25;
        for (int j = 0; j < kDim; j++) x[i * kDim + j] = centres[c * kDim + j] + g(rng);
        gv::PrepareForMetric(m, &x[i * kDim], kDim);
    }
    return x;
}

std::vector<uint64_t> Brute(const std::vector<float> &x, const float *q, gv::Metric m, int k,
                            uint64_t skip) {
    const gv::DistanceKernels &kern = gv::ActiveKernels();
    std::vector<std::pair<float, uint64_t>> all;
    for (std::size_t i = 0; i < x.size() / kDim; i++)
        if (i != skip) all.push_back({gv::IndexDistance(m, kern, q, &x[i * kDim], kDim), i});
    std::partial_sort(all.begin(), all.begin() + k, all.end());
    std::vector<uint64_t> out;
    for (int i = 0; i < k; i++) out.push_back(all[i].second);
    return out;
}

}  // namespace

TEST(IvfPqCalibrate, DefaultShape) {
    gv::IvfPqShapeChoice none{0, 0, 0};
    gv::IvfPqShapeChoice c = gv::IvfPqDefaultShape(100000, 100, none, 496);
    EXPECT_EQ(c.lists, 316);
    EXPECT_EQ(c.subvectors, 50);
    EXPECT_EQ(c.bits, 4);
    c = gv::IvfPqDefaultShape(60000, 1536, none, 496);
    EXPECT_EQ(c.subvectors, 496);  // bounded by a page's block
    c = gv::IvfPqDefaultShape(500, 8, gv::IvfPqShapeChoice{7, 3, 8}, 496);
    EXPECT_EQ(c.lists, 7);  // given values stay
    EXPECT_EQ(c.subvectors, 3);
    EXPECT_EQ(c.bits, 8);
    EXPECT_EQ(gv::IvfPqDefaultShape(0, 8, none, 496).lists, 1);
    // a block of 32 entries of 12 bytes plus 16 bytes per 4 subvectors
    EXPECT_EQ(gv::MaxFastScanSubvectors(8148, 6), (8148 - 192) / 16 & ~3);
}

TEST(IvfPqCalibrate, ExactNeighboursMatchASortForEveryMetric) {
    for (gv::Metric m :
         {gv::Metric::kL2, gv::Metric::kInnerProduct, gv::Metric::kCosine, gv::Metric::kL1}) {
        std::vector<float> x = Clustered(1500, 1, m);
        const int q = 12, k = 10, batch = 100;
        std::vector<uint64_t> qids(q), ids(x.size() / kDim);
        for (int i = 0; i < q; i++) qids[i] = (uint64_t)i * 37;  // queries are rows
        for (std::size_t i = 0; i < ids.size(); i++) ids[i] = i;
        std::vector<float> queries;
        for (uint64_t id : qids) queries.insert(queries.end(), &x[id * kDim], &x[id * kDim] + kDim);
        std::vector<gv::IvfNeighbourEntry> heaps(q * k);
        std::vector<int> sizes(q, 0);
        std::vector<float> work(q * batch);
        gv::IvfExactNeighbours t{queries.data(), qids.data(),  q,          kDim, k, m,
                                 heaps.data(),   sizes.data(), work.data()};
        for (std::size_t at = 0; at < ids.size(); at += batch)
            t.AddBatch(&x[at * kDim], &ids[at], std::min<std::size_t>(batch, ids.size() - at));
        std::vector<uint64_t> got(q * k);
        t.TakeResult(got.data());
        for (int i = 0; i < q; i++) {
            std::vector<uint64_t> want = Brute(x, &queries[i * kDim], m, k, qids[i]);
            std::set<uint64_t> a(got.begin() + i * k, got.begin() + (i + 1) * k),
                b(want.begin(), want.end());
            // (ties at the 10th place may pick another id; the data has none)
            EXPECT_EQ(a, b) << "metric " << (int)m << " query " << i;
            EXPECT_EQ(a.count(qids[i]), 0u);  // a query is not its own neighbour
        }
    }
}

TEST(IvfPqCalibrate, ChosenSettingReachesTheTargetItClaims) {
    const gv::Metric m = gv::Metric::kL2;
    std::vector<float> x = Clustered(4000, 2, m);
    const std::size_t n = x.size() / kDim;
    const int lists = 40, sub = 8;
    gv::IvfPqModel model;
    model.dim = kDim;
    model.lists = lists;
    model.metric = m;
    model.pq = gv::PqShape{kDim, sub, 4};
    std::vector<float> centroids(lists * kDim), codebook(model.pq.CodebookFloats());
    gv::TrainIvfPq(x.data(), n, kDim, lists, model.pq, gv::KMeansParams{}, centroids.data(),
                   codebook.data());
    model.centroids = centroids.data();
    model.codebook = codebook.data();
    // the lists as sorted arrays with packed blocks
    std::vector<uint32_t> assign(n);
    std::vector<uint8_t> codes(n * sub);
    gv::EncodeIvfPqBatch(model, x.data(), n, assign.data(), codes.data());
    std::vector<uint32_t> offsets(lists + 1, 0), block_of(lists);
    for (uint32_t a : assign) offsets[a + 1]++;
    for (int l = 0; l < lists; l++) offsets[l + 1] += offsets[l];
    std::vector<uint64_t> ids(n);
    std::vector<uint8_t> sorted(n * sub);
    std::vector<uint32_t> fill(offsets.begin(), offsets.end() - 1);
    for (std::size_t i = 0; i < n; i++) {
        uint32_t at = fill[assign[i]]++;
        ids[at] = i;
        std::copy(&codes[i * sub], &codes[i * sub] + sub, &sorted[at * sub]);
    }
    std::vector<uint8_t> blocks;
    const std::size_t bb = gv::FastScanBlockBytes(sub);
    for (int l = 0; l < lists; l++) {
        block_of[l] = (uint32_t)(blocks.size() / bb);
        for (uint32_t at = offsets[l]; at < offsets[l + 1]; at += 32) {
            blocks.resize(blocks.size() + bb);
            int cnt = (int)std::min<uint32_t>(32, offsets[l + 1] - at);
            gv::PackFastScanBlock(&sorted[at * sub], cnt, sub, &blocks[blocks.size() - bb]);
        }
    }
    gv::IvfArrayLists al;
    al.offsets = offsets.data();
    al.ids = ids.data();
    al.codes = sorted.data();
    al.blocks = blocks.data();
    al.block_of = block_of.data();
    al.m = sub;
    // calibrate on 60 rows, then measure the chosen setting on 60 other rows
    auto truth_for = [&](const std::vector<uint64_t> &qids) {
        std::vector<uint64_t> t;
        for (uint64_t id : qids) {
            std::vector<uint64_t> b = Brute(x, &x[id * kDim], m, 10, id);
            t.insert(t.end(), b.begin(), b.end());
        }
        return t;
    };
    std::vector<uint64_t> qa, qb;
    for (int i = 0; i < 60; i++) {
        qa.push_back((uint64_t)i * 61);
        qb.push_back((uint64_t)i * 61 + 29);
    }
    std::vector<float> qva, qvb;
    for (uint64_t id : qa) qva.insert(qva.end(), &x[id * kDim], &x[id * kDim] + kDim);
    for (uint64_t id : qb) qvb.insert(qvb.end(), &x[id * kDim], &x[id * kDim] + kDim);
    std::vector<uint64_t> ta = truth_for(qa), tb = truth_for(qb);
    gv::IvfPqCostModel cost{1.0, 50.0, 20.0};
    gv::IvfPqCalibration c =
        gv::CalibrateIvfPq(model, al, qva.data(), qa.data(), ta.data(), 60, 10, 0.95, cost);
    EXPECT_GE(c.recall, 0.95);
    EXPECT_GE(c.probes, 1);
    EXPECT_LE(c.probes, lists);
    // the claim holds when measured again (the same rows: exactly; other rows: nearly)
    gv::IvfPqCalibration again =
        gv::CalibrateIvfPq(model, al, qva.data(), qa.data(), ta.data(), 60, 10, c.recall, cost);
    EXPECT_EQ(again.probes, c.probes);
    EXPECT_EQ(again.rerank, c.rerank);
    gv::IvfPqCalibration other =
        gv::CalibrateIvfPq(model, al, qvb.data(), qb.data(), tb.data(), 60, 10, 0.95, cost);
    EXPECT_GE(other.recall, 0.95);
    // a target no setting reaches: the best recall found, with every list probed
    gv::IvfPqCalibration best =
        gv::CalibrateIvfPq(model, al, qva.data(), qa.data(), ta.data(), 60, 10, 1.01, cost);
    EXPECT_GE(best.recall, c.recall);
    EXPECT_LT(best.recall, 1.01);
}
