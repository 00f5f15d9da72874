// Unit tests of k-means (ivf/kmeans.h): planted clusters are found, the
// assignment agrees with brute force (also under large offsets, where the
// expanded |x|^2 - 2 x.c + |c|^2 cancels), results are deterministic,
// empty clusters are split, and fewer points than centroids still work.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "gigavector/ivf/kmeans.h"
#include "gigavector/quant/pq.h"

namespace gv = gigavector;

namespace {

double L2(const float *a, const float *b, std::size_t dim) {
    double s = 0.0;
    for (std::size_t i = 0; i < dim; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

// n points around `clusters` centres spread 10 apart, noise 0.1.
std::vector<float> Planted(std::size_t n, std::size_t dim, std::size_t clusters, unsigned seed,
                           std::vector<uint32_t> *truth, float offset = 0.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    std::uniform_real_distribution<float> centre(-10.0f, 10.0f);
    std::vector<float> centres(clusters * dim);
    for (float &c : centres) c = centre(rng);
    std::vector<float> x(n * dim);
    truth->resize(n);
    for (std::size_t i = 0; i < n; i++) {
        std::size_t c = i % clusters;
        (*truth)[i] = (uint32_t)c;
        for (std::size_t d = 0; d < dim; d++)
            x[i * dim + d] = centres[c * dim + d] + noise(rng) + offset * (float)d;
    }
    return x;
}

}  // namespace

TEST(KMeans, FindsPlantedClusters) {
    for (std::size_t dim : {2u, 17u, 100u}) {
        const std::size_t n = 3000, k = 12;
        std::vector<uint32_t> truth;
        std::vector<float> x = Planted(n, dim, k, (unsigned)dim, &truth);
        std::vector<float> c(k * dim);
        gv::KMeansReport r = gv::TrainKMeans(x.data(), n, dim, k, gv::KMeansParams(), c.data());
        std::vector<uint32_t> assign(n);
        gv::AssignNearest(x.data(), n, dim, c.data(), k, assign.data(), nullptr);
        // each planted cluster maps onto exactly one centroid, and back
        std::vector<std::set<uint32_t>> of_truth(k), of_centroid(k);
        for (std::size_t i = 0; i < n; i++) {
            of_truth[truth[i]].insert(assign[i]);
            of_centroid[assign[i]].insert(truth[i]);
        }
        for (std::size_t j = 0; j < k; j++) {
            EXPECT_EQ(of_truth[j].size(), 1u) << "dim " << dim << " cluster " << j;
            EXPECT_EQ(of_centroid[j].size(), 1u) << "dim " << dim << " centroid " << j;
        }
        // the inertia is that of the noise: about n * dim * 0.01
        EXPECT_LT(r.inertia, 1.3 * n * dim * 0.01) << dim;
        EXPECT_GE(r.iterations, 1);
    }
}

TEST(KMeans, AssignmentMatchesBruteForceEvenUnderLargeOffsets) {
    for (float offset : {0.0f, 100.0f}) {
        const std::size_t n = 2000, dim = 32, k = 40;
        std::vector<uint32_t> truth;
        std::vector<float> x = Planted(n, dim, 8, 3, &truth, offset);
        std::vector<float> c(k * dim);
        gv::TrainKMeans(x.data(), n, dim, k, gv::KMeansParams(), c.data());
        std::vector<uint32_t> assign(n);
        std::vector<float> dist(n);
        gv::AssignNearest(x.data(), n, dim, c.data(), k, assign.data(), dist.data(), 333);
        std::size_t worse = 0;
        for (std::size_t i = 0; i < n; i++) {
            double best = 1e300;
            for (std::size_t j = 0; j < k; j++)
                best = std::min(best, L2(&x[i * dim], &c[j * dim], dim));
            double got = L2(&x[i * dim], &c[assign[i] * dim], dim);
            EXPECT_NEAR(dist[i], got, 1e-3 * (1.0 + got));
            // the chosen centroid is the nearest, up to float rounding
            if (got > best * (1.0 + 1e-4) + 1e-6) worse++;
        }
        EXPECT_EQ(worse, 0u) << "offset " << offset;
    }
}

TEST(KMeans, SameSeedSameCentroidsOtherSeedOther) {
    const std::size_t n = 1500, dim = 16, k = 30;
    std::vector<uint32_t> truth;
    std::vector<float> x = Planted(n, dim, 50, 9, &truth);
    std::vector<float> a(k * dim), b(k * dim), other(k * dim);
    gv::KMeansParams p;
    gv::TrainKMeans(x.data(), n, dim, k, p, a.data());
    gv::TrainKMeans(x.data(), n, dim, k, p, b.data());
    EXPECT_EQ(a, b);
    p.seed = 7;
    gv::TrainKMeans(x.data(), n, dim, k, p, other.data());
    EXPECT_NE(a, other);
}

// Ten distinct points, each repeated, and k = 12: once every distinct point
// is a centroid, seeding repeats points, and those clusters cannot split
// (their members coincide): the centroids stay finite, the inertia zero.
TEST(KMeans, RepeatedPointsLeaveFiniteCentroids) {
    const std::size_t dim = 3, distinct = 10, n = 400, k = 12;
    std::vector<float> x(n * dim);
    for (std::size_t i = 0; i < n; i++)
        for (std::size_t d = 0; d < dim; d++) x[i * dim + d] = (float)((i % distinct) * 3 + d);
    for (uint64_t seed = 1; seed <= 10; seed++) {
        gv::KMeansParams p;
        p.seed = seed;
        std::vector<float> c(k * dim);
        gv::KMeansReport r = gv::TrainKMeans(x.data(), n, dim, k, p, c.data());
        std::set<std::vector<float>> centroids;
        for (std::size_t j = 0; j < k; j++) {
            for (std::size_t d = 0; d < dim; d++) ASSERT_TRUE(std::isfinite(c[j * dim + d]));
            centroids.insert(std::vector<float>(&c[j * dim], &c[j * dim] + dim));
        }
        EXPECT_EQ(centroids.size(), distinct) << "seed " << seed;
        EXPECT_NEAR(r.inertia, 0.0, 1e-6) << "seed " << seed;
    }
}

// Random seeding on data where each point appears three times picks the
// same point twice: ties leave one of the two empty, and each empty cluster
// is refilled from the largest, so at the end every centroid owns a point.
TEST(KMeans, NoClusterEndsEmpty) {
    const std::size_t dim = 2, n = 150, k = 40;
    int splits = 0;
    for (unsigned seed = 1; seed <= 30; seed++) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> u(0.0f, 1.0f);
        std::vector<float> x(n * dim);
        for (std::size_t i = 0; i < n; i++)
            for (std::size_t d = 0; d < dim; d++)
                x[i * dim + d] = i % 3 == 0 ? u(rng) : x[(i - i % 3) * dim + d];
        gv::KMeansParams p;
        p.seed = seed;
        p.plus_plus = false;
        p.iterations = 50;
        std::vector<float> c(k * dim);
        splits += gv::TrainKMeans(x.data(), n, dim, k, p, c.data()).splits;
        std::vector<uint32_t> a(n);
        gv::AssignNearest(x.data(), n, dim, c.data(), k, a.data(), nullptr);
        std::vector<int> owned(k, 0);
        for (uint32_t j : a) owned[j]++;
        EXPECT_EQ(std::count(owned.begin(), owned.end(), 0), 0) << "seed " << seed;
    }
    EXPECT_GT(splits, 0);  // the split path ran
}

TEST(KMeans, FewerPointsThanCentroids) {
    std::vector<float> x = {1, 2, 3, 4, 5, 6};  // 3 points of 2
    std::vector<float> c(5 * 2);
    gv::TrainKMeans(x.data(), 3, 2, 5, gv::KMeansParams(), c.data());
    for (std::size_t j = 0; j < 5; j++) {
        EXPECT_EQ(c[j * 2], x[(j % 3) * 2]);
        EXPECT_EQ(c[j * 2 + 1], x[(j % 3) * 2 + 1]);
    }
    std::vector<uint32_t> a(3);
    gv::AssignNearest(x.data(), 3, 2, c.data(), 5, a.data(), nullptr);
    EXPECT_EQ(a, (std::vector<uint32_t>{0, 1, 2}));  // ties go to the lower index
}

// Threads share out the assignment blocks (and PQ's subspaces): the results
// are those of one thread, bit for bit.
TEST(KMeans, ThreadsGiveTheSameCentroidsAndCodebook) {
    const std::size_t n = 3000, dim = 16, k = 40;
    std::vector<uint32_t> truth;
    std::vector<float> x = Planted(n, dim, 50, 3, &truth);
    gv::KMeansParams p;
    p.block = 256;  // several blocks per thread
    std::vector<float> one(k * dim), three(k * dim);
    gv::TrainKMeans(x.data(), n, dim, k, p, one.data());
    p.threads = 3;
    gv::TrainKMeans(x.data(), n, dim, k, p, three.data());
    EXPECT_EQ(one, three);
    gv::PqShape s{(int)dim, 8, 4};
    std::vector<float> book1(s.CodebookFloats()), book3(s.CodebookFloats());
    p.threads = 1;
    gv::TrainPq(s, x.data(), n, p, book1.data());
    p.threads = 3;
    gv::TrainPq(s, x.data(), n, p, book3.data());
    EXPECT_EQ(book1, book3);
}
