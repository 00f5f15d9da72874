// Unit tests of the distance kernels: every SIMD level the CPU has, every
// kernel, against a double-precision reference, over lengths that exercise
// every main-loop / remainder / tail combination; zero length, unaligned
// pointers, reads past the end (guard pages and exact-size heap buffers for
// ASan); level selection, parsing and the cosine helper.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "gigavector/simd/distance_kernels.h"

namespace gv = gigavector;

namespace gigavector {
// Found by gtest through ADL: failure messages name the level, not its bytes.
static void PrintTo(SimdLevel level, std::ostream *os) {
    *os << SimdLevelName(level);
}
}  // namespace gigavector

namespace {

const gv::SimdLevel kAllLevels[] = {gv::SimdLevel::kScalar, gv::SimdLevel::kSse,
                                    gv::SimdLevel::kAvx2, gv::SimdLevel::kAvx512};

// 1..64 covers every remainder of every width and unroll factor; the rest
// are around the common embedding sizes and powers of two.
std::vector<std::size_t> TestDims() {
    std::vector<std::size_t> dims;
    for (std::size_t n = 1; n <= 64; n++) dims.push_back(n);
    for (std::size_t n : {100, 127, 128, 129, 255, 256, 257, 511, 768, 1000, 1023, 1536, 2047, 2048,
                          3072, 4095, 4096})
        dims.push_back(n);
    return dims;
}
constexpr std::size_t kMaxDim = 4096;

std::vector<float> RandomVector(std::mt19937 &rng, std::size_t n, float scale = 1.0f) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(n);
    for (float &x : v) x = dist(rng);
    return v;
}

// A reference value and the sum of the absolute values of its terms, which
// bounds the rounding error of any float summation order.
struct Ref {
    double value;
    double magnitude;
};

Ref RefL2(const float *a, const float *b, std::size_t n) {
    Ref r{0, 0};
    for (std::size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        r.value += d * d;
    }
    r.magnitude = r.value;
    return r;
}

Ref RefDot(const float *a, const float *b, std::size_t n) {
    Ref r{0, 0};
    for (std::size_t i = 0; i < n; i++) {
        double t = (double)a[i] * (double)b[i];
        r.value += t;
        r.magnitude += std::fabs(t);
    }
    return r;
}

Ref RefL1(const float *a, const float *b, std::size_t n) {
    Ref r{0, 0};
    for (std::size_t i = 0; i < n; i++) r.value += std::fabs((double)a[i] - (double)b[i]);
    r.magnitude = r.value;
    return r;
}

// Float accumulation of up to 4096 terms in any order stays well inside
// 1e-5 of the term magnitude, while a missing or doubled term (about
// magnitude / n >= 2.4e-4 * magnitude here) does not.
bool WithinTolerance(double got, const Ref &ref) {
    return std::fabs(got - ref.value) <= 1e-5 * ref.magnitude + 1e-6;
}

::testing::AssertionResult Close(const char *what, std::size_t n, double got, const Ref &ref) {
    if (WithinTolerance(got, ref)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << what << " n=" << n << ": got " << got << ", reference " << ref.value << ", |error| "
           << std::fabs(got - ref.value) << " > tolerance " << 1e-5 * ref.magnitude + 1e-6;
}

// Memory with an inaccessible page on either side: data placed to end at
// the upper guard faults on any read past its end, data starting at the
// lower guard faults on any read before its start.
class GuardedBuffer {
public:
    explicit GuardedBuffer(std::size_t max_floats) {
        page_ = (std::size_t)sysconf(_SC_PAGESIZE);
        data_bytes_ = (max_floats * sizeof(float) + page_ - 1) / page_ * page_;
        total_ = data_bytes_ + 2 * page_;
        void *p = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return;
        base_ = static_cast<unsigned char *>(p);
        if (mprotect(base_, page_, PROT_NONE) != 0 ||
            mprotect(base_ + page_ + data_bytes_, page_, PROT_NONE) != 0) {
            munmap(base_, total_);
            base_ = nullptr;
        }
    }
    ~GuardedBuffer() {
        if (base_ != nullptr) munmap(base_, total_);
    }
    GuardedBuffer(const GuardedBuffer &) = delete;
    GuardedBuffer &operator=(const GuardedBuffer &) = delete;

    bool ok() const { return base_ != nullptr; }
    // n floats ending exactly at the upper guard page.
    float *AtEnd(std::size_t n) {
        return reinterpret_cast<float *>(base_ + page_ + data_bytes_) - n;
    }
    // n floats starting exactly after the lower guard page.
    float *AtStart() { return reinterpret_cast<float *>(base_ + page_); }

private:
    std::size_t page_ = 0, data_bytes_ = 0, total_ = 0;
    unsigned char *base_ = nullptr;
};

// Runs every kernel of k on (a, b, n); results in a fixed order.
std::vector<float> RunAll(const gv::DistanceKernels &k, const float *a, const float *b,
                          std::size_t n) {
    float dot = NAN, na = NAN, nb = NAN;
    k.dot_and_norms(a, b, n, &dot, &na, &nb);
    return {k.l2_squared(a, b, n), k.inner_product(a, b, n), k.l1(a, b, n), dot, na, nb,
            k.norm_squared(a, n),  k.norm_squared(b, n)};
}

class DistanceLevelTest : public ::testing::TestWithParam<gv::SimdLevel> {
protected:
    void SetUp() override {
        if ((int)GetParam() > (int)gv::DetectSimdLevel())
            GTEST_SKIP() << "CPU lacks " << gv::SimdLevelName(GetParam()) << " (best is "
                         << gv::SimdLevelName(gv::DetectSimdLevel()) << ")";
    }
    const gv::DistanceKernels &K() const { return gv::KernelsFor(GetParam()); }
};

TEST_P(DistanceLevelTest, TableIsConsistent) {
    EXPECT_EQ(K().level, GetParam());
    EXPECT_STREQ(K().name, gv::SimdLevelName(GetParam()));
    EXPECT_NE(K().l2_squared, nullptr);
    EXPECT_NE(K().inner_product, nullptr);
    EXPECT_NE(K().l1, nullptr);
    EXPECT_NE(K().dot_and_norms, nullptr);
    EXPECT_NE(K().norm_squared, nullptr);
}

TEST_P(DistanceLevelTest, MatchesDoubleReference) {
    const gv::DistanceKernels &k = K();
    std::mt19937 rng(12345);
    int checked = 0;
    for (std::size_t n : TestDims()) {
        // Unit-range values, then large ones: the tolerance is relative.
        for (float scale : {1.0f, 1.0f, 300.0f}) {
            std::vector<float> a = RandomVector(rng, n, scale), b = RandomVector(rng, n, scale);
            const float *pa = a.data(), *pb = b.data();
            Ref l2 = RefL2(pa, pb, n), ip = RefDot(pa, pb, n), l1 = RefL1(pa, pb, n);
            Ref aa = RefDot(pa, pa, n), bb = RefDot(pb, pb, n);
            EXPECT_TRUE(Close("l2_squared", n, k.l2_squared(pa, pb, n), l2));
            EXPECT_TRUE(Close("inner_product", n, k.inner_product(pa, pb, n), ip));
            EXPECT_TRUE(Close("l1", n, k.l1(pa, pb, n), l1));
            EXPECT_TRUE(Close("norm_squared(a)", n, k.norm_squared(pa, n), aa));
            EXPECT_TRUE(Close("norm_squared(b)", n, k.norm_squared(pb, n), bb));
            float dot = NAN, na = NAN, nb = NAN;
            k.dot_and_norms(pa, pb, n, &dot, &na, &nb);
            EXPECT_TRUE(Close("dot_and_norms.dot", n, dot, ip));
            EXPECT_TRUE(Close("dot_and_norms.norm_a", n, na, aa));
            EXPECT_TRUE(Close("dot_and_norms.norm_b", n, nb, bb));
            checked++;
        }
    }
    EXPECT_EQ(checked, 3 * (int)TestDims().size());
}

// The tolerance above is tight enough to catch a kernel that drops the last
// element (the typical tail bug): evaluating n-1 elements against the n
// element reference must fail it.
TEST_P(DistanceLevelTest, ToleranceCatchesDroppedTail) {
    const gv::DistanceKernels &k = K();
    std::mt19937 rng(777);
    for (std::size_t n : TestDims()) {
        std::vector<float> a = RandomVector(rng, n), b = RandomVector(rng, n);
        a[n - 1] = 1.0f;
        b[n - 1] = -1.0f;
        std::vector<float> same = a;
        EXPECT_FALSE(
            WithinTolerance(k.l2_squared(a.data(), b.data(), n - 1), RefL2(a.data(), b.data(), n)))
            << n;
        EXPECT_FALSE(WithinTolerance(k.l1(a.data(), b.data(), n - 1), RefL1(a.data(), b.data(), n)))
            << n;
        EXPECT_FALSE(WithinTolerance(k.inner_product(a.data(), same.data(), n - 1),
                                     RefDot(a.data(), same.data(), n)))
            << n;
        EXPECT_FALSE(
            WithinTolerance(k.norm_squared(a.data(), n - 1), RefDot(a.data(), a.data(), n)))
            << n;
    }
}

TEST_P(DistanceLevelTest, ZeroLengthIsZeroAndReadsNothing) {
    GuardedBuffer ga(16), gb(16);
    ASSERT_TRUE(ga.ok() && gb.ok());
    // Both pointers point at a guard page: any read would fault.
    const float *a = ga.AtEnd(0), *b = gb.AtEnd(0);
    for (float v : RunAll(K(), a, b, 0)) EXPECT_EQ(v, 0.0f);
}

// The kernels do not peel for alignment, so an unaligned pointer gives the
// bit-identical result.
TEST_P(DistanceLevelTest, UnalignedMatchesAligned) {
    const gv::DistanceKernels &k = K();
    std::mt19937 rng(99);
    std::size_t stride = kMaxDim + 32;
    std::vector<float> storage(2 * stride + 64);
    // 64-byte aligned start inside storage.
    float *base = storage.data();
    while (reinterpret_cast<std::uintptr_t>(base) % 64 != 0) base++;
    for (std::size_t n : TestDims()) {
        std::vector<float> a = RandomVector(rng, n), b = RandomVector(rng, n);
        for (std::size_t offset : {0, 1, 3}) {
            float *pa = base + offset, *pb = base + stride + offset;
            std::copy(a.begin(), a.end(), pa);
            std::copy(b.begin(), b.end(), pb);
            std::vector<float> got = RunAll(k, pa, pb, n);
            std::vector<float> want = RunAll(k, a.data(), b.data(), n);
            for (std::size_t i = 0; i < got.size(); i++)
                EXPECT_EQ(got[i], want[i]) << "n=" << n << " offset=" << offset << " result " << i;
        }
    }
}

// Data placed flush against a guard page (after and before) and in
// exact-size heap blocks (ASan's redzones): a read outside [0, n) faults.
TEST_P(DistanceLevelTest, ReadsOnlyItsInput) {
    const gv::DistanceKernels &k = K();
    GuardedBuffer ga(kMaxDim), gb(kMaxDim);
    ASSERT_TRUE(ga.ok() && gb.ok());
    std::mt19937 rng(4242);
    for (std::size_t n : TestDims()) {
        std::vector<float> a = RandomVector(rng, n), b = RandomVector(rng, n);
        std::vector<float> want = RunAll(k, a.data(), b.data(), n);

        float *ea = ga.AtEnd(n), *eb = gb.AtEnd(n);
        std::copy(a.begin(), a.end(), ea);
        std::copy(b.begin(), b.end(), eb);
        EXPECT_EQ(RunAll(k, ea, eb, n), want) << "at page end, n=" << n;

        float *sa = ga.AtStart(), *sb = gb.AtStart();
        std::copy(a.begin(), a.end(), sa);
        std::copy(b.begin(), b.end(), sb);
        EXPECT_EQ(RunAll(k, sa, sb, n), want) << "at page start, n=" << n;

        std::unique_ptr<float[]> ha(new float[n]), hb(new float[n]);
        std::copy(a.begin(), a.end(), ha.get());
        std::copy(b.begin(), b.end(), hb.get());
        EXPECT_EQ(RunAll(k, ha.get(), hb.get(), n), want) << "exact heap block, n=" << n;
    }
}

TEST_P(DistanceLevelTest, CosineOfIdenticalVectorsIsZeroNotNegative) {
    const gv::DistanceKernels &k = K();
    std::mt19937 rng(5);
    for (std::size_t n : TestDims()) {
        std::vector<float> a = RandomVector(rng, n, 10.0f);
        float dot, na, nb;
        k.dot_and_norms(a.data(), a.data(), n, &dot, &na, &nb);
        double d = gv::CosineDistanceFromParts(dot, na, nb);
        EXPECT_GE(d, 0.0) << n;
        EXPECT_LE(d, 1e-6) << n;
        std::vector<float> neg(n);
        for (std::size_t i = 0; i < n; i++) neg[i] = -2.0f * a[i];
        k.dot_and_norms(a.data(), neg.data(), n, &dot, &na, &nb);
        d = gv::CosineDistanceFromParts(dot, na, nb);
        EXPECT_LE(d, 2.0) << n;
        EXPECT_GE(d, 2.0 - 1e-6) << n;
    }
}

std::string LevelParamName(const ::testing::TestParamInfo<gv::SimdLevel> &info) {
    // Names usable in a gtest filter, e.g. --gtest_filter=-*/avx512.
    switch (info.param) {
        case gv::SimdLevel::kScalar:
            return "scalar";
        case gv::SimdLevel::kSse:
            return "sse";
        case gv::SimdLevel::kAvx2:
            return "avx2";
        case gv::SimdLevel::kAvx512:
            return "avx512";
    }
    return "unknown";
}

INSTANTIATE_TEST_SUITE_P(Levels, DistanceLevelTest, ::testing::ValuesIn(kAllLevels),
                         LevelParamName);

// Levels above DetectSimdLevel() are never installed; the ones below are.
class ActiveLevelGuard {
public:
    ActiveLevelGuard() : saved_(gv::ActiveKernels().level) {}
    ~ActiveLevelGuard() { gv::SetActiveSimdLevel(saved_); }

private:
    gv::SimdLevel saved_;
};

TEST(SimdSelection, DefaultIsDetectedLevel) {
    // Every test that changes the level restores it (ActiveLevelGuard), so
    // the active level is still the one chosen at start: the detected one.
    EXPECT_EQ(gv::ActiveKernels().level, gv::DetectSimdLevel());
    ActiveLevelGuard guard;
    ASSERT_TRUE(gv::SetActiveSimdLevel(gv::DetectSimdLevel()));
    EXPECT_EQ(gv::ActiveKernels().level, gv::DetectSimdLevel());
    EXPECT_EQ(&gv::ActiveKernels(), &gv::KernelsFor(gv::DetectSimdLevel()));
}

TEST(SimdSelection, AcceptsEveryLevelUpToDetected) {
    ActiveLevelGuard guard;
    for (gv::SimdLevel level : kAllLevels) {
        bool supported = (int)level <= (int)gv::DetectSimdLevel();
        const gv::DistanceKernels *before = &gv::ActiveKernels();
        EXPECT_EQ(gv::SetActiveSimdLevel(level), supported) << gv::SimdLevelName(level);
        if (supported) {
            EXPECT_EQ(gv::ActiveKernels().level, level);
            EXPECT_STREQ(gv::ActiveKernels().name, gv::SimdLevelName(level));
        } else {
            EXPECT_EQ(&gv::ActiveKernels(), before) << "a refused level changed nothing";
        }
    }
}

TEST(SimdSelection, RefusesLevelAboveDetected) {
    if (gv::DetectSimdLevel() == gv::SimdLevel::kAvx512)
        GTEST_SKIP() << "CPU has the highest level; nothing above it to refuse";
    ActiveLevelGuard guard;
    const gv::DistanceKernels *before = &gv::ActiveKernels();
    gv::SimdLevel above = static_cast<gv::SimdLevel>((int)gv::DetectSimdLevel() + 1);
    EXPECT_FALSE(gv::SetActiveSimdLevel(above));
    EXPECT_FALSE(gv::SetActiveSimdLevel(gv::SimdLevel::kAvx512));
    EXPECT_EQ(&gv::ActiveKernels(), before);
}

TEST(SimdSelection, RefusesOutOfRangeValues) {
    ActiveLevelGuard guard;
    const gv::DistanceKernels *before = &gv::ActiveKernels();
    EXPECT_FALSE(gv::SetActiveSimdLevel(static_cast<gv::SimdLevel>(-1)));
    EXPECT_FALSE(gv::SetActiveSimdLevel(static_cast<gv::SimdLevel>(4)));
    EXPECT_FALSE(gv::SetActiveSimdLevel(static_cast<gv::SimdLevel>(1000)));
    EXPECT_EQ(&gv::ActiveKernels(), before);
}

TEST(SimdSelection, NamesAndFeatures) {
    EXPECT_STREQ(gv::SimdLevelName(gv::SimdLevel::kScalar), "scalar");
    EXPECT_STREQ(gv::SimdLevelName(gv::SimdLevel::kSse), "sse4.2");
    EXPECT_STREQ(gv::SimdLevelName(gv::SimdLevel::kAvx2), "avx2");
    EXPECT_STREQ(gv::SimdLevelName(gv::SimdLevel::kAvx512), "avx512");

    std::string features = gv::CpuFeatureString();
    std::vector<std::string> words;
    std::size_t start = 0;
    while (start < features.size()) {
        std::size_t end = features.find(' ', start);
        if (end == std::string::npos) end = features.size();
        EXPECT_GT(end, start) << "empty word in \"" << features << "\"";
        words.push_back(features.substr(start, end - start));
        start = end + 1;
    }
    EXPECT_TRUE(features.empty() || features.back() != ' ') << "\"" << features << "\"";
    auto has = [&words](const char *w) {
        return std::find(words.begin(), words.end(), w) != words.end();
    };
    const char *known[] = {"sse4.2",  "avx",      "avx2",     "fma",
                           "avx512f", "avx512bw", "avx512vl", "avx512dq"};
    for (const std::string &w : words)
        EXPECT_TRUE(std::find_if(std::begin(known), std::end(known),
                                 [&w](const char *k) { return w == k; }) != std::end(known))
            << "unexpected feature " << w;
    gv::SimdLevel level = gv::DetectSimdLevel();
    EXPECT_TRUE(level < gv::SimdLevel::kSse || has("sse4.2")) << features;
    EXPECT_TRUE(level < gv::SimdLevel::kAvx2 || (has("avx2") && has("fma"))) << features;
    EXPECT_EQ(level == gv::SimdLevel::kAvx512, has("avx512f")) << features;
}

TEST(ParseSimdLevel, KnownNamesAnyCase) {
    struct {
        const char *text;
        gv::SimdLevel level;
    } cases[] = {{"scalar", gv::SimdLevel::kScalar}, {"SCALAR", gv::SimdLevel::kScalar},
                 {"sse", gv::SimdLevel::kSse},       {"SSE", gv::SimdLevel::kSse},
                 {"sse4.2", gv::SimdLevel::kSse},    {"SSE4.2", gv::SimdLevel::kSse},
                 {"avx2", gv::SimdLevel::kAvx2},     {"AvX2", gv::SimdLevel::kAvx2},
                 {"avx512", gv::SimdLevel::kAvx512}, {"AVX512", gv::SimdLevel::kAvx512}};
    for (const auto &c : cases) {
        gv::SimdLevel out = static_cast<gv::SimdLevel>(-1);
        EXPECT_TRUE(gv::ParseSimdLevel(c.text, &out)) << c.text;
        EXPECT_EQ(out, c.level) << c.text;
    }
    // Every level's own name parses back to it.
    for (gv::SimdLevel level : kAllLevels) {
        gv::SimdLevel out = gv::SimdLevel::kScalar;
        EXPECT_TRUE(gv::ParseSimdLevel(gv::SimdLevelName(level), &out));
        EXPECT_EQ(out, level);
    }
}

TEST(ParseSimdLevel, RejectsOtherNames) {
    for (const char *bad : {"", "auto", "AUTO", "avx", "avx512f", "avx5", "sse4", "sse4.1",
                            "scalar ", " scalar", "avx2\n", "neon", "512"}) {
        gv::SimdLevel out = gv::SimdLevel::kAvx2;
        EXPECT_FALSE(gv::ParseSimdLevel(bad, &out)) << "\"" << bad << "\"";
        EXPECT_EQ(out, gv::SimdLevel::kAvx2) << "unchanged on failure";
    }
    gv::SimdLevel out = gv::SimdLevel::kAvx2;
    EXPECT_FALSE(gv::ParseSimdLevel(nullptr, &out));
}

TEST(CosineDistanceFromParts, BasicCases) {
    // identical: a.a = |a|^2
    EXPECT_DOUBLE_EQ(gv::CosineDistanceFromParts(14.0f, 14.0f, 14.0f), 0.0);
    // opposite
    EXPECT_DOUBLE_EQ(gv::CosineDistanceFromParts(-14.0f, 14.0f, 14.0f), 2.0);
    // orthogonal
    EXPECT_DOUBLE_EQ(gv::CosineDistanceFromParts(0.0f, 3.0f, 5.0f), 1.0);
    // scaled copies: a and 2a
    EXPECT_NEAR(gv::CosineDistanceFromParts(28.0f, 14.0f, 56.0f), 0.0, 1e-15);
    // 60 degrees: cos = 0.5
    EXPECT_NEAR(gv::CosineDistanceFromParts(0.5f, 1.0f, 1.0f), 0.5, 1e-15);
}

TEST(CosineDistanceFromParts, ZeroNormIsNaN) {
    EXPECT_TRUE(std::isnan(gv::CosineDistanceFromParts(0.0f, 0.0f, 1.0f)));
    EXPECT_TRUE(std::isnan(gv::CosineDistanceFromParts(0.0f, 1.0f, 0.0f)));
    EXPECT_TRUE(std::isnan(gv::CosineDistanceFromParts(0.0f, 0.0f, 0.0f)));
}

TEST(CosineDistanceFromParts, ClampedToZeroTwo) {
    // Rounding can make |dot| exceed |a||b| slightly; the distance still
    // stays in [0, 2].
    EXPECT_EQ(gv::CosineDistanceFromParts(1.0001f, 1.0f, 1.0f), 0.0);
    EXPECT_EQ(gv::CosineDistanceFromParts(-1.0001f, 1.0f, 1.0f), 2.0);
    EXPECT_EQ(gv::CosineDistanceFromParts(std::nextafter(9.0f, 10.0f), 9.0f, 9.0f), 0.0);
}

TEST(CosineDistanceFromParts, FromKernelsOfVectors) {
    const gv::DistanceKernels &k = gv::KernelsFor(gv::DetectSimdLevel());
    const float a[] = {1, 2, 3, 0}, b[] = {-1, -2, -3, 0}, c[] = {0, 0, 0, 7}, z[] = {0, 0, 0, 0};
    float dot, na, nb;
    k.dot_and_norms(a, a, 4, &dot, &na, &nb);
    EXPECT_EQ(gv::CosineDistanceFromParts(dot, na, nb), 0.0);
    k.dot_and_norms(a, b, 4, &dot, &na, &nb);
    EXPECT_EQ(gv::CosineDistanceFromParts(dot, na, nb), 2.0);
    k.dot_and_norms(a, c, 4, &dot, &na, &nb);
    EXPECT_EQ(gv::CosineDistanceFromParts(dot, na, nb), 1.0);
    k.dot_and_norms(a, z, 4, &dot, &na, &nb);
    EXPECT_TRUE(std::isnan(gv::CosineDistanceFromParts(dot, na, nb)));
    k.dot_and_norms(z, z, 4, &dot, &na, &nb);
    EXPECT_TRUE(std::isnan(gv::CosineDistanceFromParts(dot, na, nb)));
}

// CosineDistance: elements whose squares underflow or overflow the float
// sums are summed again in double, so tiny and huge vectors get their true
// distance; only an all-zero vector gives NaN.
TEST(CosineDistance, TinyAndHugeVectors) {
    for (gv::SimdLevel level : {gv::SimdLevel::kScalar, gv::DetectSimdLevel()}) {
        const gv::DistanceKernels &k = gv::KernelsFor(level);
        const float one[] = {1, 2, 3};
        const float tiny[] = {1e-25f, 2e-25f, 3e-25f}, huge[] = {1e19f, 2e19f, 3e19f};
        const float denormal[] = {1e-45f, 0, 0}, x[] = {1, 0, 0}, z[] = {0, 0, 0};
        EXPECT_NEAR(gv::CosineDistance(k, tiny, one, 3), 0.0, 1e-12);
        EXPECT_NEAR(gv::CosineDistance(k, huge, one, 3), 0.0, 1e-12);
        EXPECT_NEAR(gv::CosineDistance(k, huge, tiny, 3), 0.0, 1e-12);
        EXPECT_NEAR(gv::CosineDistance(k, denormal, x, 3), 0.0, 1e-12);
        const float neg_tiny[] = {-1e-25f, -2e-25f, -3e-25f};
        EXPECT_NEAR(gv::CosineDistance(k, neg_tiny, one, 3), 2.0, 1e-12);
        EXPECT_TRUE(std::isnan(gv::CosineDistance(k, z, one, 3)));
        // ordinary vectors take the float path and agree with the parts
        float dot, na, nb;
        k.dot_and_norms(one, x, 3, &dot, &na, &nb);
        EXPECT_EQ(gv::CosineDistance(k, one, x, 3), gv::CosineDistanceFromParts(dot, na, nb));
    }
}

}  // namespace
