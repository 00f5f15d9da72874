// AVX2 + FMA kernels: distances and sq8 codes.
#include "simd_backends.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

#if GV_X86

namespace gigavector {
namespace simd {
namespace {

// ---------------------------------------------------------------------------
// AVX2 + FMA: 256-bit, four independent accumulators of eight lanes (32
// floats a step) so several FMAs are in flight; dot_and_norms keeps three
// quantities and uses two accumulators each to stay within 16 registers.
// ---------------------------------------------------------------------------

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
    float sum = ReduceAdd256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
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
    float sum = ReduceAdd256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
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
    float sum = ReduceAdd256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
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
    float ab = ReduceAdd256(_mm256_add_ps(ab0, ab1));
    float aa = ReduceAdd256(_mm256_add_ps(aa0, aa1));
    float bb = ReduceAdd256(_mm256_add_ps(bb0, bb1));
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
    float sum = ReduceAdd256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * a[i];
    return sum;
}

// ---- sq8 codes (see quant/sq8.h) ----

GV_TARGET_AVX2 float Sq8DotAvx2(const float *q, const uint8_t *c, std::size_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i c8 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8));
        __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(c8, 8)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), lo, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), hi, acc1);
    }
    for (; i + 8 <= n; i += 8) {
        __m128i c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(c + i));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8)),
                               acc0);
    }
    float sum = ReduceAdd256(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) sum += q[i] * (float)c[i];
    return sum;
}

GV_TARGET_AVX2 float Sq8L2Avx2(const float *d, const float *step, const uint8_t *c, std::size_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i c8 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8));
        __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(c8, 8)));
        __m256 t0 = _mm256_fnmadd_ps(_mm256_loadu_ps(step + i), lo, _mm256_loadu_ps(d + i));
        __m256 t1 = _mm256_fnmadd_ps(_mm256_loadu_ps(step + i + 8), hi, _mm256_loadu_ps(d + i + 8));
        acc0 = _mm256_fmadd_ps(t0, t0, acc0);
        acc1 = _mm256_fmadd_ps(t1, t1, acc1);
    }
    for (; i + 8 <= n; i += 8) {
        __m128i c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(c + i));
        __m256 cf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8));
        __m256 t = _mm256_fnmadd_ps(_mm256_loadu_ps(step + i), cf, _mm256_loadu_ps(d + i));
        acc0 = _mm256_fmadd_ps(t, t, acc0);
    }
    float sum = ReduceAdd256(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) {
        float t = d[i] - step[i] * (float)c[i];
        sum += t * t;
    }
    return sum;
}

GV_TARGET_AVX2 float Sq8L1Avx2(const float *d, const float *step, const uint8_t *c, std::size_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 acc = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(c + i));
        __m256 cf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8));
        __m256 diff = _mm256_fnmadd_ps(_mm256_loadu_ps(step + i), cf, _mm256_loadu_ps(d + i));
        acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, diff));
    }
    float sum = ReduceAdd256(acc);
    for (; i < n; i++) sum += std::fabs(d[i] - step[i] * (float)c[i]);
    return sum;
}

// ---- 4-bit PQ fast scan: two subquantizers per 256-bit byte shuffle (the
// low 128-bit lane looks up row j, the high one row j + 1), sums widened to
// 16 bits: acc_lo holds vectors 0..15, acc_hi vectors 16..31 ----

GV_TARGET_AVX2 void FastScanAvx2(const uint8_t *block, const uint8_t *table, int padded_m,
                                 uint16_t *out) {
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    __m256i acc_lo = _mm256_setzero_si256(), acc_hi = _mm256_setzero_si256();
    for (int j = 0; j < padded_m; j += 2) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(block + 16 * j));
        __m256i t = _mm256_loadu_si256((const __m256i *)(table + 16 * j));
        __m256i vlo = _mm256_shuffle_epi8(t, _mm256_and_si256(c, nibble));
        __m256i vhi = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), nibble));
        acc_lo = _mm256_add_epi16(acc_lo, _mm256_cvtepu8_epi16(_mm256_castsi256_si128(vlo)));
        acc_lo = _mm256_add_epi16(acc_lo, _mm256_cvtepu8_epi16(_mm256_extracti128_si256(vlo, 1)));
        acc_hi = _mm256_add_epi16(acc_hi, _mm256_cvtepu8_epi16(_mm256_castsi256_si128(vhi)));
        acc_hi = _mm256_add_epi16(acc_hi, _mm256_cvtepu8_epi16(_mm256_extracti128_si256(vhi, 1)));
    }
    _mm256_storeu_si256((__m256i *)out, acc_lo);
    _mm256_storeu_si256((__m256i *)(out + 16), acc_hi);
}

}  // namespace

const FastScanKernels kAvx2FastScan = {"avx2", FastScanAvx2};
const DistanceKernels kAvx2Distance = {SimdLevel::kAvx2, "avx2", L2SquaredAvx2,
                                       InnerProductAvx2, L1Avx2, DotAndNormsAvx2,
                                       NormSquaredAvx2};
const Sq8Kernels kAvx2Sq8 = {Sq8DotAvx2, Sq8L2Avx2, Sq8L1Avx2};

}  // namespace simd
}  // namespace gigavector

#endif  // GV_X86
