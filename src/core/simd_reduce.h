// Shared by the x86 SIMD kernel files: horizontal sums and absolute values
// written with AVX-512F / AVX intrinsics only.
//
// GCC 12's AVX-512 intrinsics initialise their "undefined" operands with
// themselves (`__m512 __Y = __Y;`), and once inlined at -O2 that is reported
// as -W(maybe-)uninitialized in *our* functions, which -Werror turns into a
// build failure (GCC bug 105593). The warning is wrong for every intrinsic, so
// kernel files that include this header switch it off for themselves.
#pragma once

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace gigavector {
namespace simd {

__attribute__((target("avx2"))) inline float ReduceAdd256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx512f"))) inline float ReduceAdd512(__m512 v) {
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx512f"))) inline __m512 Abs512(__m512 v) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
}

}  // namespace simd
}  // namespace gigavector
#endif
