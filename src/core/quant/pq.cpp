// Product quantization: training per subspace, encoding, decoding and the
// query's distance table (pq.h).
#include "gigavector/quant/pq.h"

#include <algorithm>

#include "gigavector/ann/parallel.h"

#include <cmath>
#include <vector>

#include "gigavector/simd/distance_kernels.h"

namespace gigavector {

namespace {

// Row j of a table: the metric's value (pq.h's ComputePqTable) from x, the
// subvector j of a vector, to each centroid of subspace j. The encoder
// takes the nearest (L2), a query's table is all the rows.
void TableRow(const PqShape &shape, const float *codebook, int j, const float *x, Metric metric,
              const DistanceKernels &k, float *row) noexcept {
    const int ksub = shape.Ksub();
    const std::size_t len = (std::size_t)shape.Length(j);
    const float *cb = shape.Centroid(codebook, j, 0);  // ksub x len, contiguous
    if (len == 2) {
        // the default shape, in loops the compiler vectorises (a kernel call
        // per centroid cost more than the arithmetic: MNIST's 392 subspaces x
        // 16 centroids for every vector encoded and every probed list)
        const float x0 = x[0], x1 = x[1];
        if (metric == Metric::kL2)
            for (int c = 0; c < ksub; c++) {
                float a = x0 - cb[2 * c], b = x1 - cb[2 * c + 1];
                row[c] = a * a + b * b;
            }
        else if (metric == Metric::kL1)
            for (int c = 0; c < ksub; c++)
                row[c] = std::fabs(x0 - cb[2 * c]) + std::fabs(x1 - cb[2 * c + 1]);
        else
            for (int c = 0; c < ksub; c++) row[c] = -(x0 * cb[2 * c] + x1 * cb[2 * c + 1]);
        return;
    }
    if (len < 16) {  // other short subvectors: inline loops too
        for (int c = 0; c < ksub; c++) {
            const float *cen = cb + (std::size_t)c * len;
            float acc = 0.0f;
            if (metric == Metric::kL2)
                for (std::size_t d = 0; d < len; d++) acc += (x[d] - cen[d]) * (x[d] - cen[d]);
            else if (metric == Metric::kL1)
                for (std::size_t d = 0; d < len; d++) acc += std::fabs(x[d] - cen[d]);
            else
                for (std::size_t d = 0; d < len; d++) acc -= x[d] * cen[d];
            row[c] = acc;
        }
        return;
    }
    for (int c = 0; c < ksub; c++) {
        const float *cen = cb + (std::size_t)c * len;
        switch (metric) {
            case Metric::kL2:
                row[c] = k.l2_squared(x, cen, len);
                break;
            case Metric::kL1:
                row[c] = k.l1(x, cen, len);
                break;
            default:  // inner product, cosine (normalised): order by -q.x
                row[c] = -k.inner_product(x, cen, len);
        }
    }
}

}  // namespace

void TrainPq(const PqShape &shape, const float *data, std::size_t n, const KMeansParams &params,
             float *codebook) {
    // one k-means per subspace, the subspaces shared out to the threads
    RunParallel(std::min(params.threads, shape.m), [&](int worker, int workers) {
        std::vector<float> sub;
        for (int j = worker; j < shape.m; j += workers) {
            const std::size_t len = (std::size_t)shape.Length(j),
                              off = (std::size_t)shape.Offset(j);
            sub.resize(n * len);
            for (std::size_t i = 0; i < n; i++)
                for (std::size_t d = 0; d < len; d++)
                    sub[i * len + d] = data[i * (std::size_t)shape.dim + off + d];
            KMeansParams p = params;
            p.seed = params.seed + 0x100000001b3ull * (uint64_t)(j + 1);  // a seed per subspace
            p.threads = 1;
            TrainKMeans(sub.data(), n, len, (std::size_t)shape.Ksub(), p,
                        codebook + (std::size_t)shape.Ksub() * off);
        }
    });
}

void EncodePq(const PqShape &shape, const float *codebook, const float *v,
              uint8_t *codes) noexcept {
    const DistanceKernels &k = ActiveKernels();
    const int ksub = shape.Ksub();
    float row[256];
    for (int j = 0; j < shape.m; j++) {
        TableRow(shape, codebook, j, v + shape.Offset(j), Metric::kL2, k, row);
        int best = 0;
        for (int c = 1; c < ksub; c++)
            if (row[c] < row[best]) best = c;
        codes[j] = (uint8_t)best;
    }
}

void DecodePq(const PqShape &shape, const float *codebook, const uint8_t *codes,
              float *out) noexcept {
    for (int j = 0; j < shape.m; j++) {
        const float *c = shape.Centroid(codebook, j, codes[j] & (shape.Ksub() - 1));
        for (int d = 0; d < shape.Length(j); d++) out[shape.Offset(j) + d] = c[d];
    }
}

void ComputePqTable(const PqShape &shape, const float *codebook, const float *q, Metric metric,
                    float *table) noexcept {
    const DistanceKernels &k = ActiveKernels();
    for (int j = 0; j < shape.m; j++)
        TableRow(shape, codebook, j, q + shape.Offset(j), metric, k,
                 table + (std::size_t)j * shape.Ksub());
}

}  // namespace gigavector
