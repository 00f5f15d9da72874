// Scalar kernels: the baseline every CPU runs, and the reference the SIMD
// backends are tested against.
#include "simd_backends.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace gigavector {
namespace simd {
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

}  // namespace

const DistanceKernels kScalarDistance = {SimdLevel::kScalar, "scalar", L2SquaredScalar,
                                         InnerProductScalar, L1Scalar, DotAndNormsScalar,
                                         NormSquaredScalar};

namespace {

// ---- sq8 codes (see quant/sq8.h) ----

GV_SCALAR float Sq8DotScalar(const float *q, const uint8_t *c, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += q[i] * (float)c[i];
    return sum;
}

GV_SCALAR float Sq8L2Scalar(const float *d, const float *step, const uint8_t *c, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) {
        float t = d[i] - step[i] * (float)c[i];
        sum += t * t;
    }
    return sum;
}

GV_SCALAR float Sq8L1Scalar(const float *d, const float *step, const uint8_t *c, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; i++) sum += std::fabs(d[i] - step[i] * (float)c[i]);
    return sum;
}

// ---- 4-bit PQ fast scan (see quant/pq_fastscan.h): the reference ----

GV_SCALAR void FastScanScalar(const uint8_t *block, const uint8_t *table, int padded_m,
                              uint16_t *out) {
    for (int v = 0; v < kFastScanBlock; v++) {
        unsigned sum = 0;
        for (int j = 0; j < padded_m; j++) sum += table[16 * j + FastScanCode(block, v, j)];
        out[v] = (uint16_t)sum;
    }
}

}  // namespace

const Sq8Kernels kScalarSq8 = {Sq8DotScalar, Sq8L2Scalar, Sq8L1Scalar};
const FastScanKernels kScalarFastScan = {"scalar", FastScanScalar};

}  // namespace simd
}  // namespace gigavector
