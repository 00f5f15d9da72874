// AVX-512F kernels: distances and sq8 codes.
#include "simd_backends.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

#if GV_X86

namespace gigavector {
namespace simd {
namespace {

// ---------------------------------------------------------------------------
// AVX-512F: 512-bit, four accumulators of sixteen lanes (64 floats a step),
// then whole 16-lane blocks, then one masked block for the last n % 16.
// ---------------------------------------------------------------------------

// Sum of the 16 lanes. (_mm512_reduce_add_ps would do, but with GCC 12 its
// use of _mm256_undefined_pd trips -Wuninitialized; a zero-masked extract
// of the high half avoids that and compiles to the same instructions.)

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
        __mmask16 m = TailMask512(n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return ReduceAdd512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
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
        __mmask16 m = TailMask512(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return ReduceAdd512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
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
        __mmask16 m = TailMask512(n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_add_ps(s1, Abs512(d));
    }
    return ReduceAdd512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
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
        __mmask16 m = TailMask512(n - i);
        __m512 x = _mm512_maskz_loadu_ps(m, a + i), y = _mm512_maskz_loadu_ps(m, b + i);
        ab1 = _mm512_fmadd_ps(x, y, ab1);
        aa1 = _mm512_fmadd_ps(x, x, aa1);
        bb1 = _mm512_fmadd_ps(y, y, bb1);
    }
    *dot = ReduceAdd512(_mm512_add_ps(ab0, ab1));
    *norm_a_sq = ReduceAdd512(_mm512_add_ps(aa0, aa1));
    *norm_b_sq = ReduceAdd512(_mm512_add_ps(bb0, bb1));
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
        __m512 x = _mm512_maskz_loadu_ps(TailMask512(n - i), a + i);
        s1 = _mm512_fmadd_ps(x, x, s1);
    }
    return ReduceAdd512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// ---- sq8 codes (see quant/sq8.h) ----

GV_TARGET_AVX512 float Sq8DotAvx512(const float *q, const uint8_t *c, std::size_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        __m128i c1 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i + 16));
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0)),
                               acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16),
                               _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c1)), acc1);
    }
    for (; i + 16 <= n; i += 16) {
        __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0)),
                               acc0);
    }
    float sum = ReduceAdd512(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++) sum += q[i] * (float)c[i];
    return sum;
}

GV_TARGET_AVX512 float Sq8L2Avx512(const float *d, const float *step, const uint8_t *c,
                                   std::size_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        __m128i c1 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i + 16));
        __m512 t0 =
            _mm512_fnmadd_ps(_mm512_loadu_ps(step + i),
                             _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0)), _mm512_loadu_ps(d + i));
        __m512 t1 = _mm512_fnmadd_ps(_mm512_loadu_ps(step + i + 16),
                                     _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c1)),
                                     _mm512_loadu_ps(d + i + 16));
        acc0 = _mm512_fmadd_ps(t0, t0, acc0);
        acc1 = _mm512_fmadd_ps(t1, t1, acc1);
    }
    for (; i + 16 <= n; i += 16) {
        __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        __m512 t =
            _mm512_fnmadd_ps(_mm512_loadu_ps(step + i),
                             _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0)), _mm512_loadu_ps(d + i));
        acc0 = _mm512_fmadd_ps(t, t, acc0);
    }
    float sum = ReduceAdd512(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++) {
        float t = d[i] - step[i] * (float)c[i];
        sum += t * t;
    }
    return sum;
}

GV_TARGET_AVX512 float Sq8L1Avx512(const float *d, const float *step, const uint8_t *c,
                                   std::size_t n) {
    __m512 acc = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        __m512 cf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0));
        __m512 diff = _mm512_fnmadd_ps(_mm512_loadu_ps(step + i), cf, _mm512_loadu_ps(d + i));
        acc = _mm512_add_ps(acc, Abs512(diff));
    }
    float sum = ReduceAdd512(acc);
    for (; i < n; i++) sum += std::fabs(d[i] - step[i] * (float)c[i]);
    return sum;
}

// ---- 4-bit PQ fast scan: four subquantizers per 512-bit byte shuffle (one
// per 128-bit lane), widened 32 bytes at a time: the low 16 lanes of acc_lo
// gather rows j, j + 2, ..., the high 16 rows j + 1, j + 3, ... of vectors
// 0..15 (acc_hi: 16..31), added together at the end (needs AVX-512BW) ----

GV_TARGET_AVX512BW void FastScanAvx512(const uint8_t *block, const uint8_t *table, int padded_m,
                                       uint16_t *out) {
    const __m512i nibble = _mm512_set1_epi8(0x0f);
    __m512i acc_lo = _mm512_setzero_si512(), acc_hi = _mm512_setzero_si512();
    for (int j = 0; j < padded_m; j += 4) {
        __m512i c = _mm512_loadu_si512((const void *)(block + 16 * j));
        __m512i t = _mm512_loadu_si512((const void *)(table + 16 * j));
        __m512i vlo = _mm512_shuffle_epi8(t, _mm512_and_si512(c, nibble));
        __m512i vhi = _mm512_shuffle_epi8(t, _mm512_and_si512(_mm512_srli_epi16(c, 4), nibble));
        acc_lo = _mm512_add_epi16(acc_lo, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(vlo)));
        acc_lo = _mm512_add_epi16(acc_lo, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(vlo, 1)));
        acc_hi = _mm512_add_epi16(acc_hi, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(vhi)));
        acc_hi = _mm512_add_epi16(acc_hi, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(vhi, 1)));
    }
    __m256i lo =
        _mm256_add_epi16(_mm512_castsi512_si256(acc_lo), _mm512_extracti64x4_epi64(acc_lo, 1));
    __m256i hi =
        _mm256_add_epi16(_mm512_castsi512_si256(acc_hi), _mm512_extracti64x4_epi64(acc_hi, 1));
    _mm256_storeu_si256((__m256i *)out, lo);
    _mm256_storeu_si256((__m256i *)(out + 16), hi);
}

}  // namespace

const FastScanKernels kAvx512FastScan = {"avx512", FastScanAvx512};
const DistanceKernels kAvx512Distance = {SimdLevel::kAvx512, "avx512", L2SquaredAvx512,
                                         InnerProductAvx512, L1Avx512, DotAndNormsAvx512,
                                         NormSquaredAvx512};
const Sq8Kernels kAvx512Sq8 = {Sq8DotAvx512, Sq8L2Avx512, Sq8L1Avx512};

}  // namespace simd
}  // namespace gigavector

#endif  // GV_X86
