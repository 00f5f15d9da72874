// Unit tests of product quantization (quant/pq.h): subvector shapes for any
// dimension, encoding picks each subspace's nearest centroid, table
// distances equal the distances to the decoded vector for every metric,
// and trained codebooks beat random ones.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "gigavector/quant/pq.h"
#include "gigavector/simd/distance_kernels.h"

namespace gv = gigavector;

namespace {

std::vector<float> Gaussian(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(n);
    for (float &v : x) v = g(rng);
    return x;
}

double IndexDistance(gv::Metric m, const float *q, const float *x, int dim) {
    double s = 0.0;
    for (int i = 0; i < dim; i++) {
        double d = (double)q[i] - x[i];
        s += m == gv::Metric::kL2   ? d * d
             : m == gv::Metric::kL1 ? std::fabs(d)
                                    : -(double)q[i] * x[i];
    }
    return s;
}

}  // namespace

TEST(Pq, SubvectorsTileEveryDimension) {
    for (int dim : {1, 7, 100, 784, 1536})
        for (int m : {1, 3, 8, 25, 49, 98})
            if (m <= dim) {
                gv::PqShape s{dim, m, 8};
                ASSERT_TRUE(s.Valid());
                int next = 0;
                for (int j = 0; j < m; j++) {
                    EXPECT_EQ(s.Offset(j), next) << dim << " " << m;
                    EXPECT_GE(s.Length(j), dim / m);
                    EXPECT_LE(s.Length(j), dim / m + 1);
                    next += s.Length(j);
                }
                EXPECT_EQ(next, dim);
            }
    EXPECT_FALSE((gv::PqShape{10, 11, 8}.Valid()));
    EXPECT_FALSE((gv::PqShape{10, 2, 6}.Valid()));
}

TEST(Pq, EncodePicksNearestCentroidPerSubspace) {
    for (int bits : {4, 8}) {
        gv::PqShape s{30, 7, bits};  // lengths 5,5,4,4,4,4,4
        std::vector<float> data = Gaussian(600 * 30, 1);
        std::vector<float> book(s.CodebookFloats());
        gv::TrainPq(s, data.data(), 600, gv::KMeansParams(), book.data());
        for (int i = 0; i < 50; i++) {
            const float *v = &data[(std::size_t)i * 30];
            std::vector<uint8_t> codes(s.m);
            gv::EncodePq(s, book.data(), v, codes.data());
            for (int j = 0; j < s.m; j++) {
                ASSERT_LT(codes[j], s.Ksub());
                double chosen = 0.0, best = 1e300;
                for (int c = 0; c < s.Ksub(); c++) {
                    double d = IndexDistance(gv::Metric::kL2, v + s.Offset(j),
                                             s.Centroid(book.data(), j, c), s.Length(j));
                    if (c == codes[j]) chosen = d;
                    best = std::min(best, d);
                }
                EXPECT_LE(chosen, best * (1 + 1e-5) + 1e-6) << "bits " << bits;
            }
        }
    }
}

TEST(Pq, TableDistanceEqualsDistanceToDecodedVector) {
    std::vector<float> data = Gaussian(1000 * 100, 2);
    for (int bits : {4, 8}) {
        gv::PqShape s{100, 25, bits};
        std::vector<float> book(s.CodebookFloats());
        gv::KMeansParams p;
        p.iterations = 5;  // (any codebook will do here)
        gv::TrainPq(s, data.data(), 1000, p, book.data());
        for (gv::Metric m :
             {gv::Metric::kL2, gv::Metric::kInnerProduct, gv::Metric::kCosine, gv::Metric::kL1}) {
            std::vector<float> q = Gaussian(100, 3);
            std::vector<float> table((std::size_t)s.m * s.Ksub());
            gv::ComputePqTable(s, book.data(), q.data(), m, table.data());
            for (int i = 0; i < 20; i++) {
                std::vector<uint8_t> codes(s.m);
                gv::EncodePq(s, book.data(), &data[(std::size_t)i * 100], codes.data());
                std::vector<float> back(100);
                gv::DecodePq(s, book.data(), codes.data(), back.data());
                double want = IndexDistance(m, q.data(), back.data(), 100);
                EXPECT_NEAR(gv::PqTableDistance(s, table.data(), codes.data()), want,
                            1e-4 * (1.0 + std::fabs(want)))
                    << "metric " << (int)m << " bits " << bits;
            }
        }
    }
}

// On clustered data, trained codebooks reconstruct better than codebooks of
// random data points, and 8 bits better than 4.
TEST(Pq, TrainingReducesReconstructionError) {
    const int dim = 64, n = 4000;
    std::vector<float> data = Gaussian((std::size_t)n * dim, 4), centres = Gaussian(40 * 64, 6);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            data[(std::size_t)i * dim + d] = 0.2f * data[(std::size_t)i * dim + d] +
                                             3.0f * centres[(std::size_t)(i % 40) * dim + d];
    auto error = [&](const gv::PqShape &s, const std::vector<float> &book) {
        double e = 0.0;
        std::vector<uint8_t> codes(s.m);
        std::vector<float> back(dim);
        for (int i = 0; i < 500; i++) {
            const float *v = &data[(std::size_t)i * dim];
            gv::EncodePq(s, book.data(), v, codes.data());
            gv::DecodePq(s, book.data(), codes.data(), back.data());
            e += IndexDistance(gv::Metric::kL2, v, back.data(), dim);
        }
        return e;
    };
    double e4 = 0, e8 = 0;
    for (int bits : {4, 8}) {
        gv::PqShape s{dim, 16, bits};
        std::vector<float> trained(s.CodebookFloats()), random(s.CodebookFloats());
        gv::KMeansParams p;
        p.iterations = 8;
        gv::TrainPq(s, data.data() + 500 * dim, n - 500, p, trained.data());
        // random codebook: the subvectors of other data points
        const float *other = data.data() + (std::size_t)(n - s.Ksub()) * dim;  // some rows
        for (int j = 0; j < s.m; j++)
            for (int c = 0; c < s.Ksub(); c++)
                for (int d = 0; d < s.Length(j); d++)
                    random[(std::size_t)s.Ksub() * s.Offset(j) + (std::size_t)c * s.Length(j) + d] =
                        other[(std::size_t)c * dim + s.Offset(j) + d];
        double et = error(s, trained), er = error(s, random);
        EXPECT_LT(et, 0.8 * er) << "bits " << bits;
        (bits == 4 ? e4 : e8) = et;
    }
    EXPECT_LT(e8, e4);
}
