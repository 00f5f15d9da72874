// SSE4.2 kernels: 128-bit, four accumulators of four lanes, no FMA. sq8
// codes run the scalar kernels at this level.
#include "simd_backends.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

#if GV_X86

namespace gigavector {
namespace simd {
namespace {

// ---------------------------------------------------------------------------
// SSE4.2: 128-bit, four accumulators of four lanes (16 floats a step), no FMA.
// ---------------------------------------------------------------------------

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
    float sum = ReduceAdd128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
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
    float sum = ReduceAdd128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
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
    float sum = ReduceAdd128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
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
    float ab = ReduceAdd128(_mm_add_ps(ab0, ab1));
    float aa = ReduceAdd128(_mm_add_ps(aa0, aa1));
    float bb = ReduceAdd128(_mm_add_ps(bb0, bb1));
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
    float sum = ReduceAdd128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * a[i];
    return sum;
}

}  // namespace

const DistanceKernels kSseDistance = {SimdLevel::kSse, "sse4.2", L2SquaredSse,
                                      InnerProductSse, L1Sse,    DotAndNormsSse,
                                      NormSquaredSse};

}  // namespace simd
}  // namespace gigavector

#endif  // GV_X86
