// Unit tests of the 4-bit fast scan (quant/pq_fastscan.h): packing round
// trips, every SIMD level's kernel gives the scalar reference's sums bit
// for bit (any m, padded blocks), and the quantized table stays within its
// error bound and never overflows 16 bits, even for extreme tables.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gigavector/quant/pq_fastscan.h"
#include "simd_level_params.h"

namespace gv = gigavector;

namespace {

std::vector<uint8_t> RandomCodes(int n, int m, std::mt19937 &rng) {
    std::vector<uint8_t> codes((std::size_t)n * m);
    for (uint8_t &c : codes) c = (uint8_t)(rng() & 15);
    return codes;
}

}  // namespace

TEST(PqFastScan, PackingRoundTrips) {
    std::mt19937 rng(1);
    for (int m : {1, 2, 3, 4, 5, 16, 25, 49}) {
        for (int n : {1, 15, 16, 17, 32}) {
            std::vector<uint8_t> codes = RandomCodes(n, m, rng);
            std::vector<uint8_t> block(gv::FastScanBlockBytes(m), 0xee);
            gv::PackFastScanBlock(codes.data(), n, m, block.data());
            for (int v = 0; v < gv::kFastScanBlock; v++)
                for (int j = 0; j < gv::FastScanPaddedM(m); j++) {
                    uint8_t want = v < n && j < m ? codes[(std::size_t)v * m + j] : 0;
                    ASSERT_EQ(gv::FastScanCode(block.data(), v, j), want)
                        << "m " << m << " n " << n << " v " << v << " j " << j;
                }
        }
    }
}

class FastScanLevels : public ::testing::TestWithParam<gv::SimdLevel> {};

TEST_P(FastScanLevels, SumsEqualTheScalarReference) {
    if (GetParam() > gv::DetectSimdLevel()) GTEST_SKIP() << "CPU lacks this level";
    const gv::FastScanKernels &k = gv::FastScanKernelsFor(GetParam());
    const gv::FastScanKernels &ref = gv::FastScanKernelsFor(gv::SimdLevel::kScalar);
    std::mt19937 rng(2);
    for (int m : {1, 2, 3, 4, 7, 8, 25, 32, 49, 98, 200}) {
        int pm = gv::FastScanPaddedM(m);
        for (int rep = 0; rep < 20; rep++) {
            int n = rep == 0 ? 32 : (int)(1 + rng() % 32);
            std::vector<uint8_t> codes = RandomCodes(n, m, rng);
            std::vector<uint8_t> block(gv::FastScanBlockBytes(m));
            gv::PackFastScanBlock(codes.data(), n, m, block.data());
            std::vector<uint8_t> table((std::size_t)16 * pm, 0);
            // the largest entries the quantizer gives on the first rep (the
            // largest sums, up to 65535); random bytes on the others
            for (int j = 0; j < m; j++)
                for (int c = 0; c < 16; c++)
                    table[16 * j + c] =
                        rep == 0 ? (uint8_t)std::min(255, 65535 / m) : (uint8_t)(rng() & 255);
            std::vector<uint16_t> got(32), want(32);
            k.scan_block(block.data(), table.data(), pm, got.data());
            ref.scan_block(block.data(), table.data(), pm, want.data());
            ASSERT_EQ(got, want) << k.name << " m " << m << " n " << n;
            // the reference itself: vector v's sum of its codes' entries
            for (int v = 0; v < n; v++) {
                unsigned s = 0;
                for (int j = 0; j < m; j++) s += table[16 * j + codes[(std::size_t)v * m + j]];
                ASSERT_EQ(want[v], (uint16_t)s) << "m " << m << " v " << v;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, FastScanLevels, simd_level_params::AllLevels(),
                         simd_level_params::LevelName);

// bias + scale * sum is within m * scale / 2 of the float sum, and the sum
// of the table's row maxima fits 16 bits, for ordinary, skewed (one row
// spans 10^6 times the others) and constant tables.
TEST(PqFastScan, QuantizedTableBoundsItsError) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (int kind = 0; kind < 3; kind++) {
        for (int m : {1, 4, 25, 64, 256}) {
            std::vector<float> t((std::size_t)16 * m);
            for (int j = 0; j < m; j++)
                for (int c = 0; c < 16; c++)
                    t[16 * j + c] =
                        kind == 2 ? 3.0f : u(rng) * (kind == 1 && j == 0 ? 1e6f : 1.0f) - 0.5f;
            int pm = gv::FastScanPaddedM(m);
            std::vector<uint8_t> q((std::size_t)16 * pm, 0xee);
            float bias = 0, scale = 0;
            gv::QuantizeFastScanTable(t.data(), m, q.data(), &bias, &scale);
            ASSERT_GT(scale, 0.0f);
            unsigned max_sum = 0;
            for (int j = 0; j < pm; j++) {
                unsigned mx = 0;
                for (int c = 0; c < 16; c++) {
                    if (j >= m) {
                        EXPECT_EQ(q[16 * j + c], 0);
                    }
                    mx = std::max<unsigned>(mx, q[16 * j + c]);
                }
                max_sum += mx;
            }
            EXPECT_LE(max_sum, 65535u) << "kind " << kind << " m " << m;
            for (int rep = 0; rep < 50; rep++) {
                double exact = 0;
                unsigned sum = 0;
                for (int j = 0; j < m; j++) {
                    int c = (int)(rng() & 15);
                    exact += t[16 * j + c];
                    sum += q[16 * j + c];
                }
                double approx = (double)bias + (double)scale * sum;
                EXPECT_LE(std::fabs(approx - exact),
                          m * scale * 0.5 + 1e-3 * (1 + std::fabs(exact)))
                    << "kind " << kind << " m " << m;
            }
        }
    }
}
