// Distance kernels: one implementation per SIMD level, all in this file.
//
// The file is compiled without any -m flag; each SIMD function carries a GCC
// target attribute instead, so one binary holds every level and runs on any
// x86-64. Only the level chosen at run time (never above DetectSimdLevel())
// is ever called.
//
// No kernel allocates, throws, or reads outside a[0..n) and b[0..n): the
// SSE and AVX2 kernels finish with a scalar loop, the AVX-512 ones with a
// masked load (masked-off lanes are not read, so they cannot fault).
#include "gigavector/distance.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>

#if defined(__x86_64__) || defined(__i386__)
#define GV_X86 1
#include <immintrin.h>
#else
#define GV_X86 0
#endif

namespace gigavector {
namespace {

// ---------------------------------------------------------------------------
// Scalar: one float accumulator per quantity, summed in order. Without
// -ffast-math GCC cannot reassociate these reductions, but at -O3 it would
// still vectorise the subtractions and products and add the lanes one by
// one (an "in-order" reduction); vectorisation is switched off here so this
// stays the plain scalar baseline and the fallback for any CPU.
// ---------------------------------------------------------------------------

#if defined(__GNUC__) && !defined(__clang__)
#define GV_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define GV_SCALAR
#endif

GV_SCALAR float L2SquaredScalar(const float *a, const float *b, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        sum += d * d;
    }
    return sum;
}

GV_SCALAR float InnerProductScalar(const float *a, const float *b, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

GV_SCALAR float L1Scalar(const float *a, const float *b, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += std::fabs(a[i] - b[i]);
    return sum;
}

GV_SCALAR void DotAndNormsScalar(const float *a, const float *b, std::size_t n, float *dot,
                                 float *norm_a_sq, float *norm_b_sq) {
    float ab = 0.0f, aa = 0.0f, bb = 0.0f;
    for (std::size_t i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    *dot = ab;
    *norm_a_sq = aa;
    *norm_b_sq = bb;
}

GV_SCALAR float NormSquaredScalar(const float *a, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += a[i] * a[i];
    return sum;
}

constexpr DistanceKernels kScalarKernels = {SimdLevel::kScalar, "scalar", L2SquaredScalar,
                                            InnerProductScalar, L1Scalar, DotAndNormsScalar,
                                            NormSquaredScalar};

#if GV_X86

#define GV_TARGET_SSE __attribute__((target("sse4.2")))
#define GV_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define GV_TARGET_AVX512 __attribute__((target("avx512f")))

// ---------------------------------------------------------------------------
// SSE4.2: 128-bit, four accumulators of four lanes (16 floats a step), no FMA.
// ---------------------------------------------------------------------------

GV_TARGET_SSE inline float HorizontalSum128(__m128 v) {
    __m128 hi = _mm_movehl_ps(v, v);                // lanes 2,3
    __m128 sum2 = _mm_add_ps(v, hi);                // 0+2, 1+3
    __m128 odd = _mm_shuffle_ps(sum2, sum2, 0x55);  // lane 1
    return _mm_cvtss_f32(_mm_add_ss(sum2, odd));
}

GV_TARGET_SSE float L2SquaredSse(const float *a, const float *b, std::size_t n) {
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(),
           s3 = _mm_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128 d0 = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
        __m128 d1 = _mm_sub_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4));
        __m128 d2 = _mm_sub_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8));
        __m128 d3 = _mm_sub_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12));
        s0 = _mm_add_ps(s0, _mm_mul_ps(d0, d0));
        s1 = _mm_add_ps(s1, _mm_mul_ps(d1, d1));
        s2 = _mm_add_ps(s2, _mm_mul_ps(d2, d2));
        s3 = _mm_add_ps(s3, _mm_mul_ps(d3, d3));
    }
    for (; i + 4 <= n; i += 4) {
        __m128 d = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
        s0 = _mm_add_ps(s0, _mm_mul_ps(d, d));
    }
    float sum = HorizontalSum128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        sum += d * d;
    }
    return sum;
}

GV_TARGET_SSE float InnerProductSse(const float *a, const float *b, std::size_t n) {
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(),
           s3 = _mm_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
        s2 = _mm_add_ps(s2, _mm_mul_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8)));
        s3 = _mm_add_ps(s3, _mm_mul_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12)));
    }
    for (; i + 4 <= n; i += 4)
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
    float sum = HorizontalSum128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

GV_TARGET_SSE float L1Sse(const float *a, const float *b, std::size_t n) {
    const __m128 sign = _mm_set1_ps(-0.0f);
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(),
           s3 = _mm_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128 d0 = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
        __m128 d1 = _mm_sub_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4));
        __m128 d2 = _mm_sub_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8));
        __m128 d3 = _mm_sub_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12));
        s0 = _mm_add_ps(s0, _mm_andnot_ps(sign, d0));
        s1 = _mm_add_ps(s1, _mm_andnot_ps(sign, d1));
        s2 = _mm_add_ps(s2, _mm_andnot_ps(sign, d2));
        s3 = _mm_add_ps(s3, _mm_andnot_ps(sign, d3));
    }
    for (; i + 4 <= n; i += 4) {
        __m128 d = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
        s0 = _mm_add_ps(s0, _mm_andnot_ps(sign, d));
    }
    float sum = HorizontalSum128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
    for (; i < n; i++) sum += std::fabs(a[i] - b[i]);
    return sum;
}

GV_TARGET_SSE void DotAndNormsSse(const float *a, const float *b, std::size_t n, float *dot,
                                  float *norm_a_sq, float *norm_b_sq) {
    __m128 ab0 = _mm_setzero_ps(), ab1 = _mm_setzero_ps();
    __m128 aa0 = _mm_setzero_ps(), aa1 = _mm_setzero_ps();
    __m128 bb0 = _mm_setzero_ps(), bb1 = _mm_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128 x0 = _mm_loadu_ps(a + i), y0 = _mm_loadu_ps(b + i);
        __m128 x1 = _mm_loadu_ps(a + i + 4), y1 = _mm_loadu_ps(b + i + 4);
        ab0 = _mm_add_ps(ab0, _mm_mul_ps(x0, y0));
        aa0 = _mm_add_ps(aa0, _mm_mul_ps(x0, x0));
        bb0 = _mm_add_ps(bb0, _mm_mul_ps(y0, y0));
        ab1 = _mm_add_ps(ab1, _mm_mul_ps(x1, y1));
        aa1 = _mm_add_ps(aa1, _mm_mul_ps(x1, x1));
        bb1 = _mm_add_ps(bb1, _mm_mul_ps(y1, y1));
    }
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(a + i), y = _mm_loadu_ps(b + i);
        ab0 = _mm_add_ps(ab0, _mm_mul_ps(x, y));
        aa0 = _mm_add_ps(aa0, _mm_mul_ps(x, x));
        bb0 = _mm_add_ps(bb0, _mm_mul_ps(y, y));
    }
    float ab = HorizontalSum128(_mm_add_ps(ab0, ab1));
    float aa = HorizontalSum128(_mm_add_ps(aa0, aa1));
    float bb = HorizontalSum128(_mm_add_ps(bb0, bb1));
    for (; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    *dot = ab;
    *norm_a_sq = aa;
    *norm_b_sq = bb;
}

GV_TARGET_SSE float NormSquaredSse(const float *a, std::size_t n) {
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(),
           s3 = _mm_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128 x0 = _mm_loadu_ps(a + i), x1 = _mm_loadu_ps(a + i + 4);
        __m128 x2 = _mm_loadu_ps(a + i + 8), x3 = _mm_loadu_ps(a + i + 12);
        s0 = _mm_add_ps(s0, _mm_mul_ps(x0, x0));
        s1 = _mm_add_ps(s1, _mm_mul_ps(x1, x1));
        s2 = _mm_add_ps(s2, _mm_mul_ps(x2, x2));
        s3 = _mm_add_ps(s3, _mm_mul_ps(x3, x3));
    }
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(a + i);
        s0 = _mm_add_ps(s0, _mm_mul_ps(x, x));
    }
    float sum = HorizontalSum128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * a[i];
    return sum;
}

constexpr DistanceKernels kSseKernels = {SimdLevel::kSse, "sse4.2", L2SquaredSse,
                                         InnerProductSse, L1Sse,    DotAndNormsSse,
                                         NormSquaredSse};

// ---------------------------------------------------------------------------
// AVX2 + FMA: 256-bit, four independent accumulators of eight lanes (32
// floats a step) so several FMAs are in flight; dot_and_norms keeps three
// quantities and uses two accumulators each to stay within 16 registers.
// ---------------------------------------------------------------------------

GV_TARGET_AVX2 inline float HorizontalSum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

GV_TARGET_AVX2 float L2SquaredAvx2(const float *a, const float *b, std::size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
           s3 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float sum = HorizontalSum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        sum += d * d;
    }
    return sum;
}

GV_TARGET_AVX2 float InnerProductAvx2(const float *a, const float *b, std::size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
           s3 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float sum = HorizontalSum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

GV_TARGET_AVX2 float L1Avx2(const float *a, const float *b, std::size_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
           s3 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d0));
        s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, d1));
        s2 = _mm256_add_ps(s2, _mm256_andnot_ps(sign, d2));
        s3 = _mm256_add_ps(s3, _mm256_andnot_ps(sign, d3));
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d));
    }
    float sum = HorizontalSum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) sum += std::fabs(a[i] - b[i]);
    return sum;
}

GV_TARGET_AVX2 void DotAndNormsAvx2(const float *a, const float *b, std::size_t n, float *dot,
                                    float *norm_a_sq, float *norm_b_sq) {
    __m256 ab0 = _mm256_setzero_ps(), ab1 = _mm256_setzero_ps();
    __m256 aa0 = _mm256_setzero_ps(), aa1 = _mm256_setzero_ps();
    __m256 bb0 = _mm256_setzero_ps(), bb1 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_loadu_ps(a + i), y0 = _mm256_loadu_ps(b + i);
        __m256 x1 = _mm256_loadu_ps(a + i + 8), y1 = _mm256_loadu_ps(b + i + 8);
        ab0 = _mm256_fmadd_ps(x0, y0, ab0);
        aa0 = _mm256_fmadd_ps(x0, x0, aa0);
        bb0 = _mm256_fmadd_ps(y0, y0, bb0);
        ab1 = _mm256_fmadd_ps(x1, y1, ab1);
        aa1 = _mm256_fmadd_ps(x1, x1, aa1);
        bb1 = _mm256_fmadd_ps(y1, y1, bb1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);
        ab0 = _mm256_fmadd_ps(x, y, ab0);
        aa0 = _mm256_fmadd_ps(x, x, aa0);
        bb0 = _mm256_fmadd_ps(y, y, bb0);
    }
    float ab = HorizontalSum256(_mm256_add_ps(ab0, ab1));
    float aa = HorizontalSum256(_mm256_add_ps(aa0, aa1));
    float bb = HorizontalSum256(_mm256_add_ps(bb0, bb1));
    for (; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    *dot = ab;
    *norm_a_sq = aa;
    *norm_b_sq = bb;
}

GV_TARGET_AVX2 float NormSquaredAvx2(const float *a, std::size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
           s3 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 x0 = _mm256_loadu_ps(a + i), x1 = _mm256_loadu_ps(a + i + 8);
        __m256 x2 = _mm256_loadu_ps(a + i + 16), x3 = _mm256_loadu_ps(a + i + 24);
        s0 = _mm256_fmadd_ps(x0, x0, s0);
        s1 = _mm256_fmadd_ps(x1, x1, s1);
        s2 = _mm256_fmadd_ps(x2, x2, s2);
        s3 = _mm256_fmadd_ps(x3, x3, s3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i);
        s0 = _mm256_fmadd_ps(x, x, s0);
    }
    float sum = HorizontalSum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * a[i];
    return sum;
}

constexpr DistanceKernels kAvx2Kernels = {SimdLevel::kAvx2, "avx2", L2SquaredAvx2,
                                          InnerProductAvx2, L1Avx2, DotAndNormsAvx2,
                                          NormSquaredAvx2};

// ---------------------------------------------------------------------------
// AVX-512F: 512-bit, four accumulators of sixteen lanes (64 floats a step),
// then whole 16-lane blocks, then one masked block for the last n % 16.
// ---------------------------------------------------------------------------

// Sum of the 16 lanes. (_mm512_reduce_add_ps would do, but with GCC 12 its
// use of _mm256_undefined_pd trips -Wuninitialized; a zero-masked extract
// of the high half avoids that and compiles to the same instructions.)
GV_TARGET_AVX512 inline float HorizontalSum512(__m512 v) {
    __m512d vd = _mm512_castps_pd(v);
    __m256 lo = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, vd, 0));
    __m256 hi = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, vd, 1));
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

GV_TARGET_AVX512 inline __mmask16 TailMask(std::size_t remaining) {
    return (__mmask16)((1u << remaining) - 1u);  // remaining < 16
}

GV_TARGET_AVX512 float L2SquaredAvx512(const float *a, const float *b, std::size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
           s3 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < n) {
        __mmask16 m = TailMask(n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

GV_TARGET_AVX512 float InnerProductAvx512(const float *a, const float *b, std::size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
           s3 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = TailMask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

GV_TARGET_AVX512 inline __m512 Abs512(__m512 v) {
    // andnot of the sign bit, on the integer view (AVX-512F has no
    // andnot_ps). The zero-masked form with a full mask is the same
    // instruction; the unmasked intrinsic trips GCC 12's -Wmaybe-uninitialized.
    const __m512i sign = _mm512_set1_epi32(INT32_MIN);
    return _mm512_castsi512_ps(_mm512_maskz_andnot_epi32(0xFFFF, sign, _mm512_castps_si512(v)));
}

GV_TARGET_AVX512 float L1Avx512(const float *a, const float *b, std::size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
           s3 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_add_ps(s0, Abs512(d0));
        s1 = _mm512_add_ps(s1, Abs512(d1));
        s2 = _mm512_add_ps(s2, Abs512(d2));
        s3 = _mm512_add_ps(s3, Abs512(d3));
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_add_ps(s0, Abs512(d));
    }
    if (i < n) {
        __mmask16 m = TailMask(n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_add_ps(s1, Abs512(d));
    }
    return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

GV_TARGET_AVX512 void DotAndNormsAvx512(const float *a, const float *b, std::size_t n, float *dot,
                                        float *norm_a_sq, float *norm_b_sq) {
    __m512 ab0 = _mm512_setzero_ps(), ab1 = _mm512_setzero_ps();
    __m512 aa0 = _mm512_setzero_ps(), aa1 = _mm512_setzero_ps();
    __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 x0 = _mm512_loadu_ps(a + i), y0 = _mm512_loadu_ps(b + i);
        __m512 x1 = _mm512_loadu_ps(a + i + 16), y1 = _mm512_loadu_ps(b + i + 16);
        ab0 = _mm512_fmadd_ps(x0, y0, ab0);
        aa0 = _mm512_fmadd_ps(x0, x0, aa0);
        bb0 = _mm512_fmadd_ps(y0, y0, bb0);
        ab1 = _mm512_fmadd_ps(x1, y1, ab1);
        aa1 = _mm512_fmadd_ps(x1, x1, aa1);
        bb1 = _mm512_fmadd_ps(y1, y1, bb1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(a + i), y = _mm512_loadu_ps(b + i);
        ab0 = _mm512_fmadd_ps(x, y, ab0);
        aa0 = _mm512_fmadd_ps(x, x, aa0);
        bb0 = _mm512_fmadd_ps(y, y, bb0);
    }
    if (i < n) {
        __mmask16 m = TailMask(n - i);
        __m512 x = _mm512_maskz_loadu_ps(m, a + i), y = _mm512_maskz_loadu_ps(m, b + i);
        ab1 = _mm512_fmadd_ps(x, y, ab1);
        aa1 = _mm512_fmadd_ps(x, x, aa1);
        bb1 = _mm512_fmadd_ps(y, y, bb1);
    }
    *dot = HorizontalSum512(_mm512_add_ps(ab0, ab1));
    *norm_a_sq = HorizontalSum512(_mm512_add_ps(aa0, aa1));
    *norm_b_sq = HorizontalSum512(_mm512_add_ps(bb0, bb1));
}

GV_TARGET_AVX512 float NormSquaredAvx512(const float *a, std::size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
           s3 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 x0 = _mm512_loadu_ps(a + i), x1 = _mm512_loadu_ps(a + i + 16);
        __m512 x2 = _mm512_loadu_ps(a + i + 32), x3 = _mm512_loadu_ps(a + i + 48);
        s0 = _mm512_fmadd_ps(x0, x0, s0);
        s1 = _mm512_fmadd_ps(x1, x1, s1);
        s2 = _mm512_fmadd_ps(x2, x2, s2);
        s3 = _mm512_fmadd_ps(x3, x3, s3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(a + i);
        s0 = _mm512_fmadd_ps(x, x, s0);
    }
    if (i < n) {
        __m512 x = _mm512_maskz_loadu_ps(TailMask(n - i), a + i);
        s1 = _mm512_fmadd_ps(x, x, s1);
    }
    return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

constexpr DistanceKernels kAvx512Kernels = {SimdLevel::kAvx512, "avx512", L2SquaredAvx512,
                                            InnerProductAvx512, L1Avx512, DotAndNormsAvx512,
                                            NormSquaredAvx512};

#else  // not x86: every level runs the scalar code, under its own name.

constexpr DistanceKernels kSseKernels = {SimdLevel::kSse,    "sse4.2", L2SquaredScalar,
                                         InnerProductScalar, L1Scalar, DotAndNormsScalar,
                                         NormSquaredScalar};
constexpr DistanceKernels kAvx2Kernels = {SimdLevel::kAvx2,   "avx2",   L2SquaredScalar,
                                          InnerProductScalar, L1Scalar, DotAndNormsScalar,
                                          NormSquaredScalar};
constexpr DistanceKernels kAvx512Kernels = {SimdLevel::kAvx512, "avx512", L2SquaredScalar,
                                            InnerProductScalar, L1Scalar, DotAndNormsScalar,
                                            NormSquaredScalar};

#endif  // GV_X86

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

SimdLevel DetectSimdLevel() {
    static const SimdLevel level = DetectOnce();
    return level;
}

const DistanceKernels &KernelsFor(SimdLevel level) {
    switch (level) {
        case SimdLevel::kScalar:
            return kScalarKernels;
        case SimdLevel::kSse:
            return kSseKernels;
        case SimdLevel::kAvx2:
            return kAvx2Kernels;
        case SimdLevel::kAvx512:
            return kAvx512Kernels;
    }
    return kScalarKernels;
}

const DistanceKernels &ActiveKernels() {
    const DistanceKernels *k = g_active.load(std::memory_order_relaxed);
    if (__builtin_expect(k == nullptr, 0)) {
        // Several threads may race here; they all store the same pointer,
        // and a concurrent SetActiveSimdLevel wins over this default.
        const DistanceKernels *detected = &KernelsFor(DetectSimdLevel());
        if (g_active.compare_exchange_strong(k, detected, std::memory_order_relaxed)) k = detected;
    }
    return *k;
}

bool SetActiveSimdLevel(SimdLevel level) {
    if (static_cast<int>(level) < static_cast<int>(SimdLevel::kScalar) ||
        static_cast<int>(level) > static_cast<int>(DetectSimdLevel()))
        return false;
    g_active.store(&KernelsFor(level), std::memory_order_relaxed);
    return true;
}

bool ParseSimdLevel(const char *name, SimdLevel *out) {
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

const char *SimdLevelName(SimdLevel level) {
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

double CosineDistanceFromParts(float dot, float norm_a_sq, float norm_b_sq) {
    if (norm_a_sq == 0.0f || norm_b_sq == 0.0f) return std::numeric_limits<double>::quiet_NaN();
    double similarity =
        static_cast<double>(dot) / std::sqrt(static_cast<double>(norm_a_sq) * norm_b_sq);
    // Rounding in the float sums can push |similarity| a hair past 1. NaN
    // (from NaN or infinite inputs) passes through the clamp unchanged.
    if (similarity > 1.0) similarity = 1.0;
    if (similarity < -1.0) similarity = -1.0;
    return 1.0 - similarity;
}

double CosineDistance(const DistanceKernels &k, const float *a, const float *b, std::size_t n) {
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
