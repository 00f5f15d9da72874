// Per-vector 8-bit scalar quantization: encoding, decoding and the
// float-by-code kernels (scalar, AVX2+FMA, AVX-512F), chosen like the
// distance kernels from the active SIMD level.
#include "gigavector/sq8.h"

#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include "simd_reduce.h"
#define GV_SQ8_X86 1
#endif

namespace gigavector {

void Sq8Encode(const float *v, std::size_t n, Sq8Header *header, uint8_t *codes) {
    double lo = n ? v[0] : 0.0, hi = lo;
    for (std::size_t i = 1; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    double step = (hi - lo) / 255.0;
    double code_sum = 0.0, code_sq_sum = 0.0;
    for (std::size_t i = 0; i < n; i++) {
        double c = step > 0.0 ? std::nearbyint((v[i] - lo) / step) : 0.0;
        if (c < 0.0) c = 0.0;
        if (c > 255.0) c = 255.0;
        codes[i] = (uint8_t)c;
        code_sum += c;
        code_sq_sum += c * c;
    }
    header->offset = (float)lo;
    header->step = (float)step;
    header->code_sum = (float)code_sum;
    header->code_sq_sum = (float)code_sq_sum;
}

void Sq8Decode(const Sq8Header &header, const uint8_t *codes, std::size_t n, float *out) {
    for (std::size_t i = 0; i < n; i++) out[i] = header.offset + header.step * (float)codes[i];
}

namespace {

float DotScalar(const float *q, const uint8_t *c, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += q[i] * (float)c[i];
    return sum;
}

float L1Scalar(const float *q, float a, float b, const uint8_t *c, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += std::fabs(q[i] - a - b * (float)c[i]);
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

__attribute__((target("avx2,fma"))) float L1Avx2(const float *q, float a, float b, const uint8_t *c,
                                                 std::size_t n) {
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 acc = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(c + i));
        __m256 cf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8));
        __m256 d = _mm256_fnmadd_ps(vb, cf, _mm256_sub_ps(_mm256_loadu_ps(q + i), va));
        acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, d));
    }
    float sum = simd::ReduceAdd256(acc);
    for (; i < n; i++) sum += std::fabs(q[i] - a - b * (float)c[i]);
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

__attribute__((target("avx512f"))) float L1Avx512(const float *q, float a, float b,
                                                  const uint8_t *c, std::size_t n) {
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    __m512 acc = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(c + i));
        __m512 cf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0));
        __m512 d = _mm512_fnmadd_ps(vb, cf, _mm512_sub_ps(_mm512_loadu_ps(q + i), va));
        acc = _mm512_add_ps(acc, simd::Abs512(d));
    }
    float sum = simd::ReduceAdd512(acc);
    for (; i < n; i++) sum += std::fabs(q[i] - a - b * (float)c[i]);
    return sum;
}

#endif  // GV_SQ8_X86

const Sq8Kernels kScalarSq8 = {DotScalar, L1Scalar};
#ifdef GV_SQ8_X86
const Sq8Kernels kAvx2Sq8 = {DotAvx2, L1Avx2};
const Sq8Kernels kAvx512Sq8 = {DotAvx512, L1Avx512};
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

Sq8Query::Sq8Query(const float *query, std::size_t dim, Metric m)
    : q(query),
      n(dim),
      metric(m),
      norm_sq(0.0f),
      sum(0.0f),
      kernels(&Sq8KernelsFor(ActiveKernels().level)) {
    double s = 0.0, s2 = 0.0;
    for (std::size_t i = 0; i < n; i++) {
        s += query[i];
        s2 += (double)query[i] * query[i];
    }
    sum = (float)s;
    norm_sq = (float)s2;
}

float Sq8Query::Distance(const Sq8Header &h, const uint8_t *codes) const {
    if (metric == Metric::kL1) return kernels->l1(q, h.offset, h.step, codes, n);
    // q.x^ = a sum(q) + b q.c
    double dot = (double)h.offset * sum + (double)h.step * kernels->dot(q, codes, n);
    switch (metric) {
        case Metric::kInnerProduct:
            return (float)-dot;
        case Metric::kCosine:
            return (float)(1.0 - dot);
        default: {
            // |x^|^2 = n a^2 + 2ab sum c + b^2 sum c^2
            double a = h.offset, b = h.step;
            double x_sq = (double)n * a * a + 2.0 * a * b * h.code_sum + b * b * h.code_sq_sum;
            double d = (double)norm_sq - 2.0 * dot + x_sq;
            return (float)(d < 0.0 ? 0.0 : d);
        }
    }
}

}  // namespace gigavector
