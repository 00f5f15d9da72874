// Product quantization (Jegou, Douze & Schmid, "Product Quantization for
// Nearest Neighbor Search", TPAMI 2011): a vector is cut into m subvectors,
// each replaced by the index of the nearest of ksub = 2^bits centroids
// trained for that subspace (k-means, ivf/kmeans.h). A code is m indexes;
// distances from a query are sums of m table lookups (asymmetric distance
// computation: the query stays exact, ComputePqTable).
//
// Any dimension: subvector j covers dimensions [Offset(j), Offset(j) +
// Length(j)), the first dim % m of them one dimension longer, so m need not
// divide dim (GloVe's 100 into 25 or 32, MNIST's 784 into 49 or 98).
//
// The codebook is one float array: subspace j's ksub centroids, each of
// Length(j) floats, start at ksub * Offset(j).
//
// 4-bit codes are scanned 32 at a time with SIMD table lookups
// (pq_fastscan.h); 8-bit codes with the float table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gigavector/ann/metric.h"
#include "gigavector/ivf/kmeans.h"

namespace gigavector {

struct PqShape {
    int dim = 0;
    int m = 0;     // subvectors, 1 .. dim
    int bits = 8;  // 4 or 8

    int Ksub() const { return 1 << bits; }
    int Length(int j) const { return dim / m + (j < dim % m ? 1 : 0); }
    int Offset(int j) const { return j * (dim / m) + (j < dim % m ? j : dim % m); }
    std::size_t CodebookFloats() const { return (std::size_t)Ksub() * (std::size_t)dim; }
    const float *Centroid(const float *codebook, int j, int c) const {
        return codebook + (std::size_t)Ksub() * Offset(j) + (std::size_t)c * Length(j);
    }
    bool Valid() const { return dim >= 1 && m >= 1 && m <= dim && (bits == 4 || bits == 8); }
};

// Trains the codebook (shape.CodebookFloats() floats) on n vectors (n x dim
// row-major; for IVF, the residuals from their lists' centroids), one
// k-means per subspace with seeds derived from params.seed. A named entry
// point: may throw std::bad_alloc.
void TrainPq(const PqShape &shape, const float *data, std::size_t n, const KMeansParams &params,
             float *codebook);

// Codes of one vector: for each subspace the nearest centroid (m bytes, one
// per subvector also for 4 bits; packing is pq_fastscan.h's).
void EncodePq(const PqShape &shape, const float *codebook, const float *v, uint8_t *codes) noexcept;

// The vector a code stands for (dim floats).
void DecodePq(const PqShape &shape, const float *codebook, const uint8_t *codes,
              float *out) noexcept;

// The query's table (m x ksub floats): for L2 the squared distance from the
// query's subvector j to centroid c of subspace j, for the other metrics
// minus their dot product (inner product and cosine order by -q.x; the
// caller adds what does not depend on the code, such as a list's centroid
// term). Distance of a code: PqTableDistance.
void ComputePqTable(const PqShape &shape, const float *codebook, const float *q, Metric metric,
                    float *table) noexcept;

inline float PqTableDistance(const PqShape &shape, const float *table,
                             const uint8_t *codes) noexcept {
    float s = 0.0f;
    const int ksub = shape.Ksub();
    for (int j = 0; j < shape.m; j++) s += table[j * ksub + codes[j]];
    return s;
}

}  // namespace gigavector
