// Unit tests of per-vector 8-bit scalar quantization: encoding error bounds,
// and quantized distances equal to exact distances to the decoded vector,
// for every metric and every SIMD level the CPU has.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "gigavector/sq8.h"

namespace gv = gigavector;

namespace {

std::vector<float> RandomVector(std::mt19937 &rng, std::size_t n, float scale) {
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> v(n);
    for (float &x : v) x = normal(rng);
    return v;
}

double ExactIndexDistance(gv::Metric m, const std::vector<float> &q, const std::vector<float> &x) {
    double s = 0.0;
    for (std::size_t i = 0; i < q.size(); i++) {
        switch (m) {
            case gv::Metric::kL2:
                s += ((double)q[i] - x[i]) * ((double)q[i] - x[i]);
                break;
            case gv::Metric::kL1:
                s += std::fabs((double)q[i] - x[i]);
                break;
            default:
                s += (double)q[i] * x[i];
        }
    }
    if (m == gv::Metric::kInnerProduct) return -s;
    if (m == gv::Metric::kCosine) return 1.0 - s;
    return s;
}

TEST(Sq8, EncodeErrorIsWithinHalfStep) {
    std::mt19937 rng(1);
    for (std::size_t n : {1u, 2u, 7u, 100u, 1536u}) {
        std::vector<float> v = RandomVector(rng, n, 3.0f);
        gv::Sq8Header h;
        std::vector<uint8_t> codes(n);
        gv::Sq8Encode(v.data(), n, &h, codes.data());
        std::vector<float> back(n);
        gv::Sq8Decode(h, codes.data(), n, back.data());
        for (std::size_t i = 0; i < n; i++)
            EXPECT_LE(std::fabs(back[i] - v[i]), h.step * 0.5f + 1e-5f);
        double cs = 0, cs2 = 0;
        for (uint8_t c : codes) {
            cs += c;
            cs2 += (double)c * c;
        }
        EXPECT_FLOAT_EQ(h.code_sum, (float)cs);
        EXPECT_FLOAT_EQ(h.code_sq_sum, (float)cs2);
    }
}

TEST(Sq8, ConstantAndExtremeVectors) {
    std::vector<float> constant(10, 2.5f);
    gv::Sq8Header h;
    std::vector<uint8_t> codes(10);
    gv::Sq8Encode(constant.data(), 10, &h, codes.data());
    std::vector<float> back(10);
    gv::Sq8Decode(h, codes.data(), 10, back.data());
    for (float x : back) EXPECT_EQ(x, 2.5f);

    std::vector<float> extreme = {-3.4e38f, 3.4e38f, 0.0f};
    gv::Sq8Encode(extreme.data(), 3, &h, codes.data());
    EXPECT_TRUE(std::isfinite(h.step));
    EXPECT_EQ(codes[0], 0);
    EXPECT_EQ(codes[1], 255);
}

class Sq8Levels : public ::testing::TestWithParam<gv::SimdLevel> {};

TEST_P(Sq8Levels, DistanceMatchesDecodedVector) {
    if (GetParam() > gv::DetectSimdLevel()) GTEST_SKIP() << "CPU lacks this level";
    ASSERT_TRUE(gv::SetActiveSimdLevel(GetParam()));
    std::mt19937 rng(2);
    for (gv::Metric m :
         {gv::Metric::kL2, gv::Metric::kInnerProduct, gv::Metric::kCosine, gv::Metric::kL1}) {
        for (std::size_t n : {1u, 3u, 8u, 15u, 16u, 17u, 31u, 33u, 100u, 768u, 1000u}) {
            std::vector<float> q = RandomVector(rng, n, 1.0f), x = RandomVector(rng, n, 1.0f);
            gv::PrepareForMetric(m, q.data(), n);
            gv::PrepareForMetric(m, x.data(), n);
            gv::Sq8Header h;
            std::vector<uint8_t> codes(n);
            gv::Sq8Encode(x.data(), n, &h, codes.data());
            std::vector<float> back(n);
            gv::Sq8Decode(h, codes.data(), n, back.data());
            gv::Sq8Query query(q.data(), n, m);
            double got = query.Distance(h, codes.data());
            double want = ExactIndexDistance(m, q, back);
            EXPECT_NEAR(got, want, 1e-4 * (1.0 + std::fabs(want)) + 1e-4 * n / 100.0)
                << "metric " << (int)m << " n " << n;
            // and close to the distance to the original vector
            double orig = ExactIndexDistance(m, q, x);
            EXPECT_NEAR(got, orig, 0.05 * (1.0 + std::fabs(orig)))
                << "metric " << (int)m << " n " << n;
        }
    }
    gv::SetActiveSimdLevel(gv::DetectSimdLevel());
}

INSTANTIATE_TEST_SUITE_P(AllLevels, Sq8Levels,
                         ::testing::Values(gv::SimdLevel::kScalar, gv::SimdLevel::kSse,
                                           gv::SimdLevel::kAvx2, gv::SimdLevel::kAvx512));

}  // namespace
