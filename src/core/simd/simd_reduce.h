// Shared by the SIMD backends (kernels_*.cpp): target attributes, horizontal
// sums, absolute values and tail masks, one copy of each.
//
// The backends are compiled without -m flags; each function carries a GCC
// target attribute, so one binary holds every level and runs on any x86-64.
//
// GCC 12's AVX-512 intrinsics initialise their "undefined" operands with
// themselves (`__m512 __Y = __Y;`), and once inlined at -O2 that is reported
// as -W(maybe-)uninitialized in *our* functions, which -Werror turns into a
// build failure (GCC bug 105593). The warning is wrong for every intrinsic, so
// the backends that include this header switch it off for themselves: this is
// the one workaround for it.
#pragma once

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#if defined(__x86_64__) || defined(__i386__)
#define GV_X86 1
#include <immintrin.h>
#else
#define GV_X86 0
#endif

#include <cstddef>

// Scalar loops are built without auto-vectorisation, so "scalar" is the
// plain baseline (GCC would otherwise vectorise parts of them at -O3).
#if defined(__GNUC__) && !defined(__clang__)
#define GV_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define GV_SCALAR
#endif

#if GV_X86
#define GV_TARGET_SSE __attribute__((target("sse4.2")))
#define GV_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define GV_TARGET_AVX512 __attribute__((target("avx512f")))
#define GV_TARGET_AVX512BW __attribute__((target("avx512f,avx512bw")))

namespace gigavector {
namespace simd {

GV_TARGET_SSE inline float ReduceAdd128(__m128 v) {
    __m128 hi = _mm_movehl_ps(v, v);                // lanes 2,3
    __m128 sum2 = _mm_add_ps(v, hi);                // 0+2, 1+3
    __m128 odd = _mm_shuffle_ps(sum2, sum2, 0x55);  // lane 1
    return _mm_cvtss_f32(_mm_add_ss(sum2, odd));
}

GV_TARGET_AVX2 inline float ReduceAdd256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

GV_TARGET_AVX512 inline float ReduceAdd512(__m512 v) {
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

GV_TARGET_AVX512 inline __m512 Abs512(__m512 v) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
}

// Lanes 0 .. remaining-1 (remaining < 16) of a masked load.
GV_TARGET_AVX512 inline __mmask16 TailMask512(std::size_t remaining) {
    return (__mmask16)((1u << remaining) - 1u);
}

}  // namespace simd
}  // namespace gigavector
#endif
