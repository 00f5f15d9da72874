// 8-bit scalar quantization with per-dimension ranges: training, encoding,
// decoding and the float-by-code kernels (scalar, AVX2+FMA, AVX-512F), chosen like the
// distance kernels from the active SIMD level.
#include "gigavector/sq8.h"

#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include "simd_reduce.h"
#define GV_SQ8_X86 1
#endif

namespace gigavector {

void Sq8Trainer::Add(const float *v) {
    if (count_ == 0) {
        for (std::size_t i = 0; i < dim_; i++) lo_[i] = hi_[i] = v[i];
    } else {
        for (std::size_t i = 0; i < dim_; i++) {
            if (v[i] < lo_[i]) lo_[i] = v[i];
            if (v[i] > hi_[i]) hi_[i] = v[i];
        }
    }
    count_++;
}

void Sq8Trainer::Finish(float *lo, float *step) const {
    for (std::size_t i = 0; i < dim_; i++) {
        double l = count_ ? lo_[i] : 0.0, h = count_ ? hi_[i] : 0.0;
        lo[i] = (float)l;
        // in double: h - l can exceed the float range (-3e38 .. 3e38)
        step[i] = (float)((h - l) / 255.0);
    }
}

void Sq8Encode(const float *v, std::size_t n, const float *lo, const float *step, uint8_t *codes) {
    for (std::size_t i = 0; i < n; i++) {
        double c = step[i] > 0.0f ? std::nearbyint(((double)v[i] - lo[i]) / step[i]) : 0.0;
        if (!(c >= 0.0)) c = 0.0;  // also catches NaN
        if (c > 255.0) c = 255.0;
        codes[i] = (uint8_t)c;
    }
}

void Sq8Decode(const uint8_t *codes, std::size_t n, const float *lo, const float *step,
               float *out) {
    // in double: with a range as wide as the float range, step * 255 overflows
    for (std::size_t i = 0; i < n; i++)
        out[i] = (float)((double)lo[i] + (double)step[i] * codes[i]);
}

namespace {

float DotScalar(const float *q, const uint8_t *c, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += q[i] * (float)c[i];
    return sum;
}

float L2Scalar(const float *d, const float *step, const uint8_t *c, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) {
        float t = d[i] - step[i] * (float)c[i];
        sum += t * t;
    }
    return sum;
}

float L1Scalar(const float *d, const float *step, const uint8_t *c, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += std::fabs(d[i] - step[i] * (float)c[i]);
    return sum;
}

#ifdef GV_SQ8_X86

__attribute__((target("avx2,fma"))) float DotAvx2(const float *q, const uint8_t *c, std::size_t n) {
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
    float sum = simd::ReduceAdd256(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) sum += q[i] * (float)c[i];
    return sum;
}

__attribute__((target("avx2,fma"))) float L2Avx2(const float *d, const float *step,
                                                 const uint8_t *c, std::size_t n) {
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
    float sum = simd::ReduceAdd256(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) {
        float t = d[i] - step[i] * (float)c[i];
        sum += t * t;
    }
    return sum;
}

__attribute__((target("avx2,fma"))) float L1Avx2(const float *d, const float *step,
                                                 const uint8_t *c, std::size_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 acc = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(c + i));
        __m256 cf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8));
        __m256 diff = _mm256_fnmadd_ps(_mm256_loadu_ps(step + i), cf, _mm256_loadu_ps(d + i));
        acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, diff));
    }
    float sum = simd::ReduceAdd256(acc);
    for (; i < n; i++) sum += std::fabs(d[i] - step[i] * (float)c[i]);
    return sum;
}

__attribute__((target("avx512f"))) float DotAvx512(const float *q, const uint8_t *c,
                                                   std::size_t n) {
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
    float sum = simd::ReduceAdd512(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++) sum += q[i] * (float)c[i];
    return sum;
}

__attribute__((target("avx512f"))) float L2Avx512(const float *d, const float *step,
                                                  const uint8_t *c, std::size_t n) {
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
    float sum = simd::ReduceAdd512(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++) {
        float t = d[i] - step[i] * (float)c[i];
        sum += t * t;
    }
    return sum;
}

__attribute__((target("avx512f"))) float L1Avx512(const float *d, const float *step,
                                                  const uint8_t *c, std::size_t n) {
    __m512 acc = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        __m512 cf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0));
        __m512 diff = _mm512_fnmadd_ps(_mm512_loadu_ps(step + i), cf, _mm512_loadu_ps(d + i));
        acc = _mm512_add_ps(acc, simd::Abs512(diff));
    }
    float sum = simd::ReduceAdd512(acc);
    for (; i < n; i++) sum += std::fabs(d[i] - step[i] * (float)c[i]);
    return sum;
}

#endif  // GV_SQ8_X86

const Sq8Kernels kScalarSq8 = {DotScalar, L2Scalar, L1Scalar};
#ifdef GV_SQ8_X86
const Sq8Kernels kAvx2Sq8 = {DotAvx2, L2Avx2, L1Avx2};
const Sq8Kernels kAvx512Sq8 = {DotAvx512, L2Avx512, L1Avx512};
#endif

}  // namespace

const Sq8Kernels &Sq8KernelsFor(SimdLevel level) {
#ifdef GV_SQ8_X86
    if (level >= SimdLevel::kAvx512) return kAvx512Sq8;
    if (level >= SimdLevel::kAvx2) return kAvx2Sq8;
#else
    (void)level;
#endif
    return kScalarSq8;
}

void Sq8Query::Prepare(const float *q, std::size_t dim, Metric m, const float *lo,
                       const float *steps, float *scratch) {
    metric = m;
    n = dim;
    kernels = &Sq8KernelsFor(ActiveKernels().level);
    step = steps;
    scaled = scratch;
    bool residual = m == Metric::kL2 || m == Metric::kL1;
    double b = 0.0;
    for (std::size_t i = 0; i < n; i++) {
        b += (double)q[i] * lo[i];
        scratch[i] = residual ? q[i] - lo[i] : q[i] * steps[i];
    }
    bias = b;
}

float Sq8Query::Distance(const uint8_t *codes) const {
    switch (metric) {
        case Metric::kL2:
            return kernels->l2(scaled, step, codes, n);
        case Metric::kL1:
            return kernels->l1(scaled, step, codes, n);
        case Metric::kInnerProduct:
            return (float)-(bias + (double)kernels->dot(scaled, codes, n));
        default:  // cosine
            return (float)(1.0 - (bias + (double)kernels->dot(scaled, codes, n)));
    }
}

}  // namespace gigavector
