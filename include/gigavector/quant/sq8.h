// 8-bit scalar quantization with per-dimension ranges, for graph traversal.
//
// Dimension i of every vector is coded in 0..255 on its own range,
// x_i ~ lo_i + step_i c_i, with lo_i and step_i = (hi_i - lo_i) / 255 trained
// as the minimum and maximum of that dimension over a sample of the data
// (Sq8Trainer). A dimension's resolution depends only on its own spread, so
// no dimension can swamp another: an outlier dimension, a constant offset
// (step 0: exact, and no code byte) or dimensions with spreads 10^4 apart all keep
// their precision. (Ranges per vector, which the first version used, fail
// exactly there: one element of 1000 among values in -1..1 gave every other
// element the same code, and recall@10 fell to 0.06.) Values outside the
// trained range are clamped; the indexes re-rank their final candidates with
// the full vectors, so clamping costs traversal accuracy, never order.
//
// Min and max rather than quantiles: on GloVe-100 and MNIST, clipping even
// 0.1% of each tail lost more (recall@10 of quantized ranking 0.980 / 0.996)
// than the coarser step of the full range costs (0.985 / 1.000), because
// near neighbours are often the extreme values.
//
// Distances from a float query q are asymmetric (q stays exact). Inner
// product and cosine need one dot product of s_i = q_i step_i with the codes
// per pair: q.x^ = q.lo + s.c. L2 and L1 work on the residuals d_i = q_i - lo_i,
// sum (d_i - step_i c_i)^2 and sum |d_i - step_i c_i|: expanding the square
// instead (|q|^2 - 2 q.x^ + |x^|^2) cancels catastrophically in float when the
// norms dwarf the distances (a constant offset of 100 d on dimension d left
// recall@10 at 0.5).
#pragma once

#include <cstddef>
#include <cstdint>

#include "gigavector/simd/distance_kernels.h"
#include "gigavector/ann/metric.h"

namespace gigavector {

// Accumulates per-dimension minima and maxima over sample vectors, in
// caller-provided arrays (so it is trivially destructible and allocates
// nothing).
class Sq8Trainer {
public:
    // lo and hi: dim floats each, owned by the caller.
    Sq8Trainer(std::size_t dim, float *lo, float *hi) : dim_(dim), lo_(lo), hi_(hi) {}

    void Add(const float *v) noexcept;
    std::size_t count() const { return count_; }

    // Writes the ranges: lo (may be the trainer's own lo array) and step.
    // Without any sample every range is [0, 0].
    void Finish(float *lo, float *step) const noexcept;

private:
    std::size_t dim_;
    float *lo_;
    float *hi_;
    std::size_t count_ = 0;
};

// The trained ranges and the dimensions a code holds. A dimension whose
// range is a single value (step 0: constant over the training sample) has
// nothing to code and takes no byte: MNIST's 67 blank border pixels of 784
// made every slot 67 bytes larger, and its nodes 8 a page instead of 9.
// The distance to such a dimension is the same for every coded vector, so
// dropping it changes no ranking (Sq8Query keeps its share as a constant, so
// that quantized and exact distances stay comparable).
struct Sq8Ranges {
    std::size_t dim = 0;             // dimensions of the vectors
    const float *lo = nullptr;       // [dim]
    const float *step = nullptr;     // [dim]
    std::size_t coded = 0;           // bytes of a code: dimensions with step > 0
    const uint32_t *dims = nullptr;  // [coded]: those dimensions, ascending
};

// Writes the dimensions with step > 0 into dims (room for dim) and returns
// their count.
std::size_t Sq8CodedDims(const float *step, std::size_t dim, uint32_t *dims) noexcept;

// Encodes v (dim floats) into codes[0..coded), clamping to the ranges.
// Returns whether the codes stand for v: false when clamping moved it
// farther than rounding can at worst (sum of squared clamping > sum step_i^2
// / 4; a constant dimension represents only its one value). Ranges trained
// on the first rows of a table loaded in order (by category, by time) miss
// what comes later: 8000 clustered rows inserted one by one, ranges trained
// on the first 1000 (five clusters of forty), gave recall@10 0.73 at ef 10
// against 0.97 for a random order. Callers traverse such nodes with their
// exact vectors.
bool Sq8Encode(const float *v, const Sq8Ranges &r, uint8_t *codes) noexcept;

// Reconstructs x^ (dim floats; neighbour pruning on pages, tests).
void Sq8Decode(const uint8_t *codes, const Sq8Ranges &r, float *out) noexcept;

// Kernels over codes, one implementation per SIMD level.
struct Sq8Kernels {
    // sum s_i * c_i
    float (*dot)(const float *s, const uint8_t *codes, std::size_t n);
    // sum (d_i - step_i * c_i)^2
    float (*l2)(const float *d, const float *step, const uint8_t *codes, std::size_t n);
    // sum |d_i - step_i * c_i|
    float (*l1)(const float *d, const float *step, const uint8_t *codes, std::size_t n);
};

const Sq8Kernels &Sq8KernelsFor(SimdLevel level) noexcept;

// A query prepared for quantized distances. Trivially destructible: the
// caller provides the scratch array (2 * coded floats) and keeps it and the
// ranges alive while the query is used.
struct Sq8Query {
    Metric metric = Metric::kL2;
    std::size_t n = 0;  // coded dimensions
    const Sq8Kernels *kernels = nullptr;
    const float *scaled = nullptr;  // q_i step_i, or q_i - lo_i for L2 and L1 (coded dims)
    const float *step = nullptr;    // step_i of the coded dims
    double bias = 0.0;              // q.lo (inner product, cosine)
    float uncoded = 0.0f;           // L2 and L1: the constant dimensions' share

    // q must already be prepared for the metric (normalised for cosine).
    void Prepare(const float *q, Metric m, const Sq8Ranges &r, float *scratch) noexcept;

    // Approximate index distance (see metric.h) to a coded vector.
    float Distance(const uint8_t *codes) const noexcept;
};

}  // namespace gigavector
