// Metrics as the indexes see them.
//
// An index orders candidates by an "index distance" that is monotone in the
// SQL operator's value, and cheaper to compute:
//   L2            squared Euclidean distance        (SQL value: sqrt)
//   inner product negative inner product            (SQL value: same)
//   cosine        1 - a.b on unit vectors           (SQL value: same; vectors
//                 are normalised when stored, the query when a scan starts)
//   L1            taxicab distance                  (SQL value: same)
//
// gv_hnsw and gv_ivfpq share this file, the kernels in distance.h and the
// quantizers, so both access methods agree on every distance.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "gigavector/simd/distance_kernels.h"

namespace gigavector {

enum class Metric : uint8_t { kL2 = 0, kInnerProduct = 1, kCosine = 2, kL1 = 3 };

// Index distance between two full-precision vectors of n elements.
inline float IndexDistance(Metric metric, const DistanceKernels &k, const float *a, const float *b,
                           std::size_t n) {
    switch (metric) {
        case Metric::kL2:
            return k.l2_squared(a, b, n);
        case Metric::kInnerProduct:
            return -k.inner_product(a, b, n);
        case Metric::kCosine:
            return 1.0f - k.inner_product(a, b, n);
        case Metric::kL1:
            return k.l1(a, b, n);
    }
    return 0.0f;
}

// Index distance at or below which two vectors count as identical (for the
// neighbour heuristic's handling of duplicates). Cosine allows for rounding
// of 1 - a.b on unit vectors; inner product has no such value.
inline float DuplicateDistance(Metric metric) {
    switch (metric) {
        case Metric::kCosine:
            return 1e-6f;
        case Metric::kInnerProduct:
            return -INFINITY;
        default:
            return 0.0f;
    }
}

// The SQL operator's value for an index distance.
inline double SqlDistance(Metric metric, float index_distance) {
    if (metric == Metric::kL2) return std::sqrt((double)(index_distance < 0 ? 0 : index_distance));
    return (double)index_distance;
}

// Prepares a vector for storage or as a query: cosine normalises it in place.
// Returns false when the vector cannot be placed (cosine of a zero vector);
// such vectors have no direction and sort last, as NaN does in SQL.
// The norm is accumulated in double so large elements cannot overflow it.
inline bool PrepareForMetric(Metric metric, float *v, std::size_t n) {
    if (metric != Metric::kCosine) return true;
    double sum = 0.0;
    for (std::size_t i = 0; i < n; i++) sum += (double)v[i] * (double)v[i];
    double norm = std::sqrt(sum);
    if (!(norm > 0.0) || !std::isfinite(norm)) return false;
    for (std::size_t i = 0; i < n; i++) v[i] = (float)(v[i] / norm);
    return true;
}

}  // namespace gigavector
