// Distance kernels for float32 vectors: one table of functions per SIMD
// level (scalar, SSE4.2, AVX2+FMA, AVX-512F), all in the same binary, the
// active one chosen at run time (simd_level.h).
//
// Every kernel works on any length n >= 0, including tails that are not a
// multiple of the vector width, reads only a[0..n) and b[0..n), and never
// allocates or throws.
//
// No Postgres headers: the same kernels serve the SQL operators and every
// index access method.
#pragma once

#include <cstddef>

#include "gigavector/simd/simd_level.h"

namespace gigavector {

// The distance functions a metric needs, all for one SIMD level.
struct DistanceKernels {
    SimdLevel level;
    const char *name;  // "scalar", "sse4.2", "avx2", "avx512"
    // sum (a_i - b_i)^2
    float (*l2_squared)(const float *a, const float *b, std::size_t n);
    // sum a_i * b_i
    float (*inner_product)(const float *a, const float *b, std::size_t n);
    // sum |a_i - b_i|
    float (*l1)(const float *a, const float *b, std::size_t n);
    // One pass computing sum a_i*b_i, sum a_i^2 and sum b_i^2 (for cosine).
    void (*dot_and_norms)(const float *a, const float *b, std::size_t n, float *dot,
                          float *norm_a_sq, float *norm_b_sq);
    // sum a_i^2
    float (*norm_squared)(const float *a, std::size_t n);
};

// Kernels of a given level. Asking for a level above DetectSimdLevel() is
// allowed (tests use it only after checking), but calling them would fault.
const DistanceKernels &KernelsFor(SimdLevel level) noexcept;

// The kernels in use by default. Starts at DetectSimdLevel().
const DistanceKernels &ActiveKernels() noexcept;

// Cosine distance 1 - dot / (|a| |b|), computed from dot_and_norms in double;
// returns NaN when either vector has norm zero (callers decide what that means).
double CosineDistanceFromParts(float dot, float norm_a_sq, float norm_b_sq) noexcept;

// Cosine distance of two vectors with the given kernels, exact in range: when
// a norm underflows or overflows the float sums (elements below ~1e-19 or
// above ~1e19), the sums are taken again in double. NaN only when a vector is
// all zeros.
double CosineDistance(const DistanceKernels &k, const float *a, const float *b,
                      std::size_t n) noexcept;

}  // namespace gigavector
