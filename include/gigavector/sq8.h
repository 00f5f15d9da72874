// Per-vector 8-bit scalar quantization, for graph traversal.
//
// Each vector x is stored as codes c_i in 0..255 with its own offset a and
// step b, x_i ~ a + b c_i (a = min x, b = (max x - min x) / 255). Because the
// range is per vector, nothing has to be trained: an index built on an empty
// table and filled by inserts quantizes as well as one built in bulk, and no
// value is ever clipped.
//
// Distances from a float query q are asymmetric (q stays exact). Expanding
// the square, every metric but L1 needs one dot product q.c per pair:
//   q.x^          = a sum(q) + b q.c
//   |q - x^|^2    = |q|^2 - 2 q.x^ + |x^|^2,   |x^|^2 from a, b, sum c, sum c^2
// so the header keeps sum c and sum c^2, and a query keeps |q|^2 and sum q.
// L1 has its own kernel. Results are approximate; indexes re-rank their final
// candidates with full-precision vectors.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gigavector/distance.h"
#include "gigavector/metric.h"

namespace gigavector {

// Stored before each vector's codes.
struct Sq8Header {
    float offset;       // a
    float step;         // b
    float code_sum;     // sum c_i
    float code_sq_sum;  // sum c_i^2
};

// Encodes n floats into codes[0..n) and the header.
void Sq8Encode(const float *v, std::size_t n, Sq8Header *header, uint8_t *codes);

// Reconstructs x^ (for tests and neighbour pruning on pages).
void Sq8Decode(const Sq8Header &header, const uint8_t *codes, std::size_t n, float *out);

// Kernels over codes, one implementation per SIMD level.
struct Sq8Kernels {
    // sum q_i * c_i
    float (*dot)(const float *q, const uint8_t *codes, std::size_t n);
    // sum |q_i - a - b c_i|
    float (*l1)(const float *q, float a, float b, const uint8_t *codes, std::size_t n);
};

const Sq8Kernels &Sq8KernelsFor(SimdLevel level);

// A query prepared for quantized distances (the vector must outlive it and
// already be prepared for the metric, e.g. normalised for cosine).
struct Sq8Query {
    const float *q;
    std::size_t n;
    Metric metric;
    float norm_sq;  // |q|^2
    float sum;      // sum q_i
    const Sq8Kernels *kernels;

    Sq8Query(const float *query, std::size_t dim, Metric m);

    // Approximate index distance (see metric.h) to a quantized vector.
    float Distance(const Sq8Header &h, const uint8_t *codes) const;
};

}  // namespace gigavector
