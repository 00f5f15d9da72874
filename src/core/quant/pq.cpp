// Product quantization: training per subspace, encoding, decoding and the
// query's distance table (pq.h).
#include "gigavector/quant/pq.h"

#include <algorithm>

#include "gigavector/ann/parallel.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gigavector/simd/distance_kernels.h"

namespace gigavector {

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
    for (int j = 0; j < shape.m; j++) {
        const std::size_t len = (std::size_t)shape.Length(j);
        const float *x = v + shape.Offset(j);
        int best = 0;
        float best_d = std::numeric_limits<float>::infinity();
        if (len == 2) {  // the default shape: a loop the compiler vectorises
            const float *cb = shape.Centroid(codebook, j, 0);
            float d2[256];
            for (int c = 0; c < ksub; c++) {
                float a = x[0] - cb[2 * c], b = x[1] - cb[2 * c + 1];
                d2[c] = a * a + b * b;
            }
            for (int c = 0; c < ksub; c++)
                if (d2[c] < best_d) {
                    best_d = d2[c];
                    best = c;
                }
            codes[j] = (uint8_t)best;
            continue;
        }
        for (int c = 0; c < ksub; c++) {
            const float *cen = shape.Centroid(codebook, j, c);
            float d;
            if (len < 16) {  // (4-bit codes: 2 to 8 dimensions; a kernel call costs more)
                d = 0.0f;
                for (std::size_t i = 0; i < len; i++) d += (x[i] - cen[i]) * (x[i] - cen[i]);
            } else {
                d = k.l2_squared(x, cen, len);
            }
            if (d < best_d) {
                best_d = d;
                best = c;
            }
        }
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
    const int ksub = shape.Ksub();
    for (int j = 0; j < shape.m; j++) {
        const std::size_t len = (std::size_t)shape.Length(j);
        const float *x = q + shape.Offset(j);
        float *row = table + (std::size_t)j * ksub;
        const float *cb = shape.Centroid(codebook, j, 0);  // ksub x len, contiguous
        if (len == 2) {
            // the default shape, in loops the compiler vectorises (a kernel
            // call per centroid cost more than the arithmetic: MNIST's 392
            // subspaces x 16 centroids for every probed list)
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
            continue;
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
            continue;
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
}

}  // namespace gigavector
