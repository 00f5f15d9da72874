// Unit tests of 8-bit scalar quantization with per-dimension ranges:
// training, encoding error bounds and clamping, dimensions that must not
// swamp each other (outliers, constant offsets, spreads 10^6 apart), and
// quantized distances equal to exact distances to the decoded vector, for
// every metric and every SIMD level the CPU has.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "simd_level_params.h"
#include "gigavector/quant/sq8.h"

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

// Trained ranges: lo[0..n) then step[0..n).
struct Ranges {
    std::vector<float> lo, step;
    std::vector<uint32_t> dims;  // the coded dimensions (step > 0)
    gv::Sq8Ranges View() const {
        gv::Sq8Ranges v;
        v.dim = lo.size();
        v.lo = lo.data();
        v.step = step.data();
        v.coded = dims.size();
        v.dims = dims.data();
        return v;
    }
};

Ranges Train(const std::vector<std::vector<float>> &sample, std::size_t n) {
    Ranges r;
    r.lo.resize(n);
    r.step.resize(n);
    std::vector<float> lo(n), hi(n);
    gv::Sq8Trainer t(n, lo.data(), hi.data());
    for (const auto &v : sample) t.Add(v.data());
    EXPECT_EQ(t.count(), sample.size());
    t.Finish(r.lo.data(), r.step.data());
    r.dims.resize(n);
    r.dims.resize(gv::Sq8CodedDims(r.step.data(), n, r.dims.data()));
    return r;
}

std::vector<float> RoundTrip(const Ranges &r, const std::vector<float> &v) {
    std::size_t n = v.size();
    std::vector<uint8_t> codes(n);
    gv::Sq8Encode(v.data(), r.View(), codes.data());
    std::vector<float> back(n);
    gv::Sq8Decode(codes.data(), r.View(), back.data());
    return back;
}

TEST(Sq8, TrainerKeepsEachDimensionsMinimumAndMaximum) {
    std::vector<std::vector<float>> sample = {{1, -5, 3}, {2, 5, 3}, {-1, 0, 3}};
    Ranges r = Train(sample, 3);
    EXPECT_EQ(r.lo[0], -1.0f);
    EXPECT_FLOAT_EQ(r.step[0], 3.0f / 255.0f);
    EXPECT_EQ(r.lo[1], -5.0f);
    EXPECT_FLOAT_EQ(r.step[1], 10.0f / 255.0f);
    EXPECT_EQ(r.lo[2], 3.0f);
    EXPECT_EQ(r.step[2], 0.0f);  // constant: coded exactly
    EXPECT_EQ(RoundTrip(r, {2, 5, 3})[2], 3.0f);
}

TEST(Sq8, EmptyTrainerGivesZeroRanges) {
    std::vector<float> lo(4), hi(4), step(4);
    gv::Sq8Trainer t(4, lo.data(), hi.data());
    t.Finish(lo.data(), step.data());
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(lo[i], 0.0f);
        EXPECT_EQ(step[i], 0.0f);
    }
}

TEST(Sq8, EncodeErrorIsWithinHalfStepAndOutsideValuesClamp) {
    std::mt19937 rng(1);
    for (std::size_t n : {1u, 2u, 7u, 100u, 1536u}) {
        std::vector<std::vector<float>> sample;
        for (int i = 0; i < 200; i++) sample.push_back(RandomVector(rng, n, 3.0f));
        Ranges r = Train(sample, n);
        for (int k = 0; k < 20; k++) {
            const std::vector<float> &v = sample[k];
            std::vector<float> back = RoundTrip(r, v);
            for (std::size_t i = 0; i < n; i++)
                EXPECT_LE(std::fabs(back[i] - v[i]), r.step[i] * 0.5f + 1e-5f) << "n " << n;
        }
        // beyond the trained range: the nearest end of the range
        std::vector<float> far(n, 1e6f), back = RoundTrip(r, far);
        for (std::size_t i = 0; i < n; i++)
            EXPECT_NEAR(back[i], r.lo[i] + 255.0f * r.step[i], 1e-3f);
        std::vector<float> below(n, -1e6f);
        back = RoundTrip(r, below);
        for (std::size_t i = 0; i < n; i++) EXPECT_EQ(back[i], r.lo[i]);
    }
}

// Encode says whether the codes stand for the vector: every training vector
// does; one clamped by less than rounding errs at worst does; one a trained
// range misses by far does not (its node is traversed with the exact vector).
TEST(Sq8, EncodeReportsVectorsTheRangesMiss) {
    std::mt19937 rng(2);
    for (std::size_t n : {1u, 7u, 100u, 784u}) {
        std::vector<std::vector<float>> sample;
        for (int i = 0; i < 300; i++) sample.push_back(RandomVector(rng, n, 1.0f));
        Ranges r = Train(sample, n);
        std::vector<uint8_t> codes(n);
        for (const auto &v : sample)
            EXPECT_TRUE(gv::Sq8Encode(v.data(), r.View(), codes.data())) << n;
        // one dimension a quarter step past its maximum: within the bound
        std::vector<float> v = sample[0];
        v[0] = r.lo[0] + 255.25f * r.step[0];
        EXPECT_TRUE(gv::Sq8Encode(v.data(), r.View(), codes.data())) << n;
        // every dimension a step below its minimum: clamping is the error now
        for (std::size_t i = 0; i < n; i++) v[i] = r.lo[i] - r.step[i];
        EXPECT_FALSE(gv::Sq8Encode(v.data(), r.View(), codes.data())) << n;
        // one dimension far out, the rest in range: also missed
        v = sample[1];
        v[n / 2] = r.lo[n / 2] + 255.0f * r.step[n / 2] + 50.0f * r.step[0] * std::sqrt((float)n);
        EXPECT_FALSE(gv::Sq8Encode(v.data(), r.View(), codes.data())) << n;
        std::vector<float> nan(n, std::nanf(""));
        EXPECT_FALSE(gv::Sq8Encode(nan.data(), r.View(), codes.data()));
    }
    // a constant dimension (step 0) represents only its one value
    Ranges r = Train({{1.0f, 0.0f}, {1.0f, 25.5f}}, 2);
    ASSERT_EQ(r.dims.size(), 1u);
    uint8_t c[2];
    float same[2] = {1.0f, 3.0f}, other[2] = {1.5f, 3.0f};
    EXPECT_TRUE(gv::Sq8Encode(same, r.View(), c));
    EXPECT_FALSE(gv::Sq8Encode(other, r.View(), c));
}

TEST(Sq8, HugeRangesStayFinite) {
    std::vector<std::vector<float>> sample = {{-3.4e38f, 0.0f}, {3.4e38f, 1.0f}};
    Ranges r = Train(sample, 2);
    EXPECT_TRUE(std::isfinite(r.step[0]));
    std::vector<float> back = RoundTrip(r, {3.4e38f, 1.0f});
    EXPECT_TRUE(std::isfinite(back[0]));
    EXPECT_GT(back[0], 3.3e38f);
}

// The defect per-vector ranges had: one element of 1000 among values in
// -1..1 gave all the others one code. Per-dimension ranges keep each
// dimension's own resolution.
TEST(Sq8, NoDimensionSwampsAnother) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> small(-1.0f, 1.0f);
    const std::size_t n = 32;
    std::vector<std::vector<float>> outliers, offsets, spreads;
    for (int k = 0; k < 500; k++) {
        std::vector<float> a(n), b(n), c(n);
        for (std::size_t i = 0; i < n; i++) {
            a[i] = i == 0 ? 1000.0f : small(rng);                     // one outlier dimension
            b[i] = 100.0f * (float)i + small(rng);                    // an offset per dimension
            c[i] = small(rng) * std::pow(10.0f, (float)(i % 7) - 3);  // spreads 1e-3 .. 1e3
        }
        outliers.push_back(a);
        offsets.push_back(b);
        spreads.push_back(c);
    }
    for (const auto *set : {&outliers, &offsets, &spreads}) {
        Ranges r = Train(*set, n);
        for (int k = 0; k < 50; k++) {
            std::vector<float> back = RoundTrip(r, (*set)[k]);
            for (std::size_t i = 0; i < n; i++) {
                // within half a step of the dimension's own range (a 510th of
                // it), plus float rounding at the value's magnitude
                double spread = 255.0 * r.step[i];
                double rounding = 4.0 * std::fabs((*set)[k][i]) * 6e-8;
                EXPECT_LE(std::fabs((double)back[i] - (*set)[k][i]),
                          spread / 510.0 + rounding + 1e-9)
                    << "dimension " << i;
            }
        }
    }
}

class Sq8Levels : public ::testing::TestWithParam<gv::SimdLevel> {};

TEST_P(Sq8Levels, DistanceMatchesDecodedVector) {
    if (GetParam() > gv::DetectSimdLevel()) GTEST_SKIP() << "CPU lacks this level";
    ASSERT_TRUE(gv::SetActiveSimdLevel(GetParam()));
    std::mt19937 rng(2);
    for (gv::Metric m :
         {gv::Metric::kL2, gv::Metric::kInnerProduct, gv::Metric::kCosine, gv::Metric::kL1}) {
        for (std::size_t n : {1u, 3u, 8u, 15u, 16u, 17u, 31u, 33u, 100u, 768u, 1000u}) {
            std::vector<std::vector<float>> sample;
            for (int k = 0; k < 64; k++) {
                std::vector<float> v = RandomVector(rng, n, 1.0f);
                gv::PrepareForMetric(m, v.data(), n);
                sample.push_back(v);
            }
            Ranges r = Train(sample, n);
            std::vector<float> q = RandomVector(rng, n, 1.0f);
            gv::PrepareForMetric(m, q.data(), n);
            std::vector<float> scratch(2 * n);
            gv::Sq8Query query;
            query.Prepare(q.data(), m, r.View(), scratch.data());
            for (int k = 0; k < 4; k++) {
                const std::vector<float> &x = sample[k];
                std::vector<uint8_t> codes(n);
                gv::Sq8Encode(x.data(), r.View(), codes.data());
                std::vector<float> back(n);
                gv::Sq8Decode(codes.data(), r.View(), back.data());
                double got = query.Distance(codes.data());
                double want = ExactIndexDistance(m, q, back);
                EXPECT_NEAR(got, want, 1e-4 * (1.0 + std::fabs(want)) + 1e-4 * n / 100.0)
                    << "metric " << (int)m << " n " << n;
                // and close to the distance to the original vector
                double orig = ExactIndexDistance(m, q, x);
                EXPECT_NEAR(got, orig, 0.05 * (1.0 + std::fabs(orig)))
                    << "metric " << (int)m << " n " << n;
            }
        }
    }
    gv::SetActiveSimdLevel(gv::DetectSimdLevel());
}

// Dimensions constant over the sample take no code byte, and quantized
// distances still equal the distances to the decoded vector (which holds the
// constant value there), for every metric: the constant share is kept.
TEST_P(Sq8Levels, ConstantDimensionsTakeNoCodeByte) {
    if (GetParam() > gv::DetectSimdLevel()) GTEST_SKIP() << "CPU lacks this level";
    ASSERT_TRUE(gv::SetActiveSimdLevel(GetParam()));
    std::mt19937 rng(7);
    for (gv::Metric m : {gv::Metric::kL2, gv::Metric::kInnerProduct, gv::Metric::kL1}) {
        for (std::size_t n : {2u, 17u, 100u, 784u}) {
            // every third dimension constant (0.5 at i % 3 == 0), like blank pixels
            std::vector<std::vector<float>> sample;
            for (int k = 0; k < 64; k++) {
                std::vector<float> v = RandomVector(rng, n, 1.0f);
                for (std::size_t i = 0; i < n; i += 3) v[i] = 0.5f;
                sample.push_back(v);
            }
            Ranges r = Train(sample, n);
            ASSERT_EQ(r.dims.size(), n - (n + 2) / 3) << n;
            for (uint32_t d : r.dims) EXPECT_NE(d % 3, 0u);
            std::vector<float> q = RandomVector(rng, n, 1.0f);
            std::vector<float> scratch(2 * n);
            gv::Sq8Query query;
            query.Prepare(q.data(), m, r.View(), scratch.data());
            EXPECT_EQ(query.n, r.dims.size());
            for (int k = 0; k < 8; k++) {
                // a guard byte past the coded ones must stay untouched
                std::vector<uint8_t> codes(r.dims.size() + 1, 0xa5);
                EXPECT_TRUE(gv::Sq8Encode(sample[k].data(), r.View(), codes.data()));
                EXPECT_EQ(codes.back(), 0xa5);
                std::vector<float> back(n);
                gv::Sq8Decode(codes.data(), r.View(), back.data());
                for (std::size_t i = 0; i < n; i += 3) EXPECT_EQ(back[i], 0.5f);
                double want = ExactIndexDistance(m, q, back);
                EXPECT_NEAR(query.Distance(codes.data()), want, 1e-4 * (1.0 + std::fabs(want)))
                    << "metric " << (int)m << " n " << n;
            }
            // a vector off a constant dimension is not represented
            std::vector<float> off = sample[0];
            off[0] = 0.75f;
            std::vector<uint8_t> codes(n);
            EXPECT_FALSE(gv::Sq8Encode(off.data(), r.View(), codes.data()));
        }
    }
    gv::SetActiveSimdLevel(gv::DetectSimdLevel());
}

// L2 on residuals: with norms of 1e5 and distances of 1, expanding the
// square (|q|^2 - 2 q.x + |x|^2) in float loses every digit.
TEST_P(Sq8Levels, L2StaysPreciseUnderLargeOffsets) {
    if (GetParam() > gv::DetectSimdLevel()) GTEST_SKIP() << "CPU lacks this level";
    ASSERT_TRUE(gv::SetActiveSimdLevel(GetParam()));
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> small(-1.0f, 1.0f);
    const std::size_t n = 32;
    std::vector<std::vector<float>> sample;
    for (int k = 0; k < 100; k++) {
        std::vector<float> v(n);
        for (std::size_t i = 0; i < n; i++) v[i] = 100.0f * (float)i + small(rng);
        sample.push_back(v);
    }
    Ranges r = Train(sample, n);
    std::vector<float> scratch(2 * n);
    gv::Sq8Query query;
    query.Prepare(sample[0].data(), gv::Metric::kL2, r.View(), scratch.data());
    for (int k = 1; k < 20; k++) {
        std::vector<uint8_t> codes(n);
        gv::Sq8Encode(sample[k].data(), r.View(), codes.data());
        std::vector<float> back(n);
        gv::Sq8Decode(codes.data(), r.View(), back.data());
        double want = ExactIndexDistance(gv::Metric::kL2, sample[0], back);
        EXPECT_NEAR(query.Distance(codes.data()), want, 1e-3 * want);
    }
    gv::SetActiveSimdLevel(gv::DetectSimdLevel());
}

INSTANTIATE_TEST_SUITE_P(AllLevels, Sq8Levels, simd_level_params::AllLevels(),
                         simd_level_params::LevelName);

}  // namespace
