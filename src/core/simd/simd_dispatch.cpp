// SIMD dispatch: which CPU features there are, which backend runs the
// kernels (the gigavector.simd setting can force a lower one), and the
// distance helpers built on the kernels.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "simd_backends.h"

namespace gigavector {
namespace {

SimdLevel DetectOnce() {
#if GV_X86
    // libgcc's feature bits also check, through XGETBV, that the OS saves
    // the AVX and AVX-512 register state.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SimdLevel::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::kAvx2;
    if (__builtin_cpu_supports("sse4.2")) return SimdLevel::kSse;
#endif
    return SimdLevel::kScalar;
}

// The active kernels. Null until first use, so no static-initialisation
// order matters; afterwards every read is one relaxed load (the tables are
// constant-initialised, so there is nothing else to synchronise).
std::atomic<const DistanceKernels *> g_active{nullptr};

}  // namespace

SimdLevel DetectSimdLevel() noexcept {
    static const SimdLevel level = DetectOnce();
    return level;
}

const DistanceKernels &KernelsFor(SimdLevel level) noexcept {
#if GV_X86
    switch (level) {
        case SimdLevel::kScalar:
            return simd::kScalarDistance;
        case SimdLevel::kSse:
            return simd::kSseDistance;
        case SimdLevel::kAvx2:
            return simd::kAvx2Distance;
        case SimdLevel::kAvx512:
            return simd::kAvx512Distance;
    }
#else
    (void)level;  // only the scalar backend exists off x86
#endif
    return simd::kScalarDistance;
}

const Sq8Kernels &Sq8KernelsFor(SimdLevel level) noexcept {
#if GV_X86
    if (level >= SimdLevel::kAvx512) return simd::kAvx512Sq8;
    if (level >= SimdLevel::kAvx2) return simd::kAvx2Sq8;
#else
    (void)level;
#endif
    return simd::kScalarSq8;  // (sse runs the scalar code kernels)
}

const DistanceKernels &ActiveKernels() noexcept {
    const DistanceKernels *k = g_active.load(std::memory_order_relaxed);
    if (__builtin_expect(k == nullptr, 0)) {
        // Several threads may race here; they all store the same pointer,
        // and a concurrent SetActiveSimdLevel wins over this default.
        const DistanceKernels *detected = &KernelsFor(DetectSimdLevel());
        if (g_active.compare_exchange_strong(k, detected, std::memory_order_relaxed)) k = detected;
    }
    return *k;
}

bool SetActiveSimdLevel(SimdLevel level) noexcept {
    if (static_cast<int>(level) < static_cast<int>(SimdLevel::kScalar) ||
        static_cast<int>(level) > static_cast<int>(DetectSimdLevel()))
        return false;
    g_active.store(&KernelsFor(level), std::memory_order_relaxed);
    return true;
}

bool ParseSimdLevel(const char *name, SimdLevel *out) noexcept {
    if (name == nullptr) return false;
    static const struct {
        const char *name;
        SimdLevel level;
    } kNames[] = {{"scalar", SimdLevel::kScalar},
                  {"sse", SimdLevel::kSse},
                  {"sse4.2", SimdLevel::kSse},
                  {"avx2", SimdLevel::kAvx2},
                  {"avx512", SimdLevel::kAvx512}};
    for (const auto &entry : kNames) {
        const char *p = name;
        const char *q = entry.name;
        // ASCII case-insensitive compare, independent of the locale.
        while (*p != '\0' && *q != '\0') {
            char c = *p;
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (c != *q) break;
            p++;
            q++;
        }
        if (*p == '\0' && *q == '\0') {
            if (out != nullptr) *out = entry.level;
            return true;
        }
    }
    return false;
}

const char *SimdLevelName(SimdLevel level) noexcept {
    switch (level) {
        case SimdLevel::kScalar:
        case SimdLevel::kSse:
        case SimdLevel::kAvx2:
        case SimdLevel::kAvx512:
            return KernelsFor(level).name;
    }
    return "unknown";
}

std::string CpuFeatureString() {
    std::string out;
#if GV_X86
    __builtin_cpu_init();
    auto add = [&out](bool present, const char *name) {
        if (!present) return;
        if (!out.empty()) out += ' ';
        out += name;
    };
    // __builtin_cpu_supports needs a string literal, hence no loop.
    add(__builtin_cpu_supports("sse4.2"), "sse4.2");
    add(__builtin_cpu_supports("avx"), "avx");
    add(__builtin_cpu_supports("avx2"), "avx2");
    add(__builtin_cpu_supports("fma"), "fma");
    add(__builtin_cpu_supports("avx512f"), "avx512f");
    add(__builtin_cpu_supports("avx512bw"), "avx512bw");
    add(__builtin_cpu_supports("avx512vl"), "avx512vl");
    add(__builtin_cpu_supports("avx512dq"), "avx512dq");
#endif
    return out;
}

double CosineDistanceFromParts(float dot, float norm_a_sq, float norm_b_sq) noexcept {
    if (norm_a_sq == 0.0f || norm_b_sq == 0.0f) return std::numeric_limits<double>::quiet_NaN();
    double similarity =
        static_cast<double>(dot) / std::sqrt(static_cast<double>(norm_a_sq) * norm_b_sq);
    // Rounding in the float sums can push |similarity| a hair past 1. NaN
    // (from NaN or infinite inputs) passes through the clamp unchanged.
    if (similarity > 1.0) similarity = 1.0;
    if (similarity < -1.0) similarity = -1.0;
    return 1.0 - similarity;
}

double CosineDistance(const DistanceKernels &k, const float *a, const float *b,
                      std::size_t n) noexcept {
    float dot, na, nb;
    k.dot_and_norms(a, b, n, &dot, &na, &nb);
    // Squares of float elements under about 1e-19 underflow, and over about
    // 1.8e19 overflow, the float sums: a norm near zero or infinite means the
    // float result cannot be trusted, so such pairs (rare) are summed again
    // in double, whose range holds the square of any float.
    constexpr float kTiny = 1e-30f, kHuge = 1e30f;
    bool trusted = na >= kTiny && nb >= kTiny && na <= kHuge && nb <= kHuge && std::isfinite(dot);
    if (trusted) return CosineDistanceFromParts(dot, na, nb);
    double d = 0.0, sa = 0.0, sb = 0.0;
    for (std::size_t i = 0; i < n; i++) {
        d += (double)a[i] * b[i];
        sa += (double)a[i] * a[i];
        sb += (double)b[i] * b[i];
    }
    if (sa == 0.0 || sb == 0.0) return std::numeric_limits<double>::quiet_NaN();
    double similarity = d / std::sqrt(sa * sb);  // at most ~1e163: no overflow
    if (similarity > 1.0) similarity = 1.0;
    if (similarity < -1.0) similarity = -1.0;
    return 1.0 - similarity;
}

}  // namespace gigavector
