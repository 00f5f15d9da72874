// k-means++ seeding, blocked Lloyd iterations and the nearest-centroid
// assignment (kmeans.h). The matrix work is Eigen's, vectorised at compile
// time, so results do not depend on the run-time SIMD level (the centroids
// of an index are the same whatever gigavector.simd says).
#include "gigavector/ivf/kmeans.h"

#include "gigavector/ann/parallel.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace gigavector {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRows = Eigen::Map<const RowMatrix>;
using Rows = Eigen::Map<RowMatrix>;

// Squared distances from every point to one centroid, into out[0..n).
void DistancesTo(const ConstRows &x, const float *c, float *out) {
    Eigen::Map<const Eigen::RowVectorXf> cv(c, x.cols());
    Eigen::Map<Eigen::VectorXf>(out, x.rows()) = (x.rowwise() - cv).rowwise().squaredNorm();
}

// k random points, distinct indexes (a partial Fisher-Yates shuffle).
void SeedRandom(const ConstRows &x, std::size_t k, std::mt19937_64 &rng, float *centroids) {
    const std::size_t n = (std::size_t)x.rows(), dim = (std::size_t)x.cols();
    std::vector<std::size_t> idx(n);
    for (std::size_t i = 0; i < n; i++) idx[i] = i;
    for (std::size_t c = 0; c < k; c++) {
        std::size_t j = c + (std::size_t)(rng() % (n - c));
        std::swap(idx[c], idx[j]);
        std::copy(x.row(idx[c]).data(), x.row(idx[c]).data() + dim, centroids + c * dim);
    }
}

// k-means++: the first centroid uniformly, each next one with probability
// proportional to its squared distance from the nearest chosen so far.
void SeedPlusPlus(const ConstRows &x, std::size_t k, std::mt19937_64 &rng, float *centroids) {
    const std::size_t n = (std::size_t)x.rows(), dim = (std::size_t)x.cols();
    std::vector<float> nearest(n), d(n);
    std::size_t first = (std::size_t)(rng() % n);
    std::copy(x.row(first).data(), x.row(first).data() + dim, centroids);
    DistancesTo(x, centroids, nearest.data());
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (std::size_t c = 1; c < k; c++) {
        double total = 0.0;
        for (float v : nearest) total += v;
        std::size_t pick = n - 1;
        if (total > 0.0) {
            double r = unit(rng) * total, acc = 0.0;
            for (std::size_t i = 0; i < n; i++) {
                acc += nearest[i];
                if (acc >= r && nearest[i] > 0.0f) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = (std::size_t)(rng() % n);  // every point is a centroid already
        }
        float *dst = centroids + c * dim;
        std::copy(x.row(pick).data(), x.row(pick).data() + dim, dst);
        DistancesTo(x, dst, d.data());
        for (std::size_t i = 0; i < n; i++) nearest[i] = std::min(nearest[i], d[i]);
    }
}

}  // namespace

void AssignNearest(const float *data, std::size_t n, std::size_t dim, const float *centroids,
                   std::size_t k, uint32_t *assign, float *dist, std::size_t block, int threads) {
    if (n == 0 || k == 0) return;
    if (block == 0) block = 4096;
    ConstRows all(data, (Eigen::Index)n, (Eigen::Index)dim);
    ConstRows c(centroids, (Eigen::Index)k, (Eigen::Index)dim);
    // centred on the centroids' mean: |x|^2 - 2 x.c + |c|^2 cancels in
    // float when the norms dwarf the distances (an offset of 100 d on
    // dimension d), and centring makes the norms small
    Eigen::RowVectorXf mean = c.colwise().mean();
    RowMatrix cc = c.rowwise() - mean;
    Eigen::VectorXf cnorm = cc.rowwise().squaredNorm();
    if (dim <= 8) {  // (PQ subspaces) direct distances beat a matrix product
        for (std::size_t i = 0; i < n; i++) {
            const float *xi = data + i * dim;
            std::size_t best = 0;
            float best_d = std::numeric_limits<float>::infinity();
            for (std::size_t j = 0; j < k; j++) {
                const float *cj = centroids + j * dim;
                float d = 0.0f;
                for (std::size_t t = 0; t < dim; t++) d += (xi[t] - cj[t]) * (xi[t] - cj[t]);
                if (d < best_d) {
                    best_d = d;
                    best = j;
                }
            }
            assign[i] = (uint32_t)best;
            if (dist != nullptr) dist[i] = best_d;
        }
        return;
    }
    std::size_t rows = std::min(block, n);
    std::size_t blocks = (n + block - 1) / block;
    if ((std::size_t)threads > blocks) threads = (int)blocks;
    RunParallel(threads, [&](int worker, int workers) {
        RowMatrix xb(rows, dim), prod(rows, k);
        for (std::size_t bi = (std::size_t)worker; bi < blocks; bi += (std::size_t)workers) {
            std::size_t start = bi * block;
            std::size_t b = std::min(block, n - start);
            xb.topRows(b) = all.middleRows(start, b).rowwise() - mean;
            prod.topRows(b).noalias() = xb.topRows(b) * cc.transpose();
            for (std::size_t i = 0; i < b; i++) {
                const float *p = prod.row(i).data();
                std::size_t best = 0;
                float best_v = cnorm[0] - 2.0f * p[0];
                for (std::size_t j = 1; j < k; j++) {
                    float v = cnorm[j] - 2.0f * p[j];
                    if (v < best_v) {
                        best_v = v;
                        best = j;
                    }
                }
                assign[start + i] = (uint32_t)best;
                // the exact distance to the one chosen, not the expanded one
                if (dist != nullptr)
                    dist[start + i] = (all.row(start + i) - c.row(best)).squaredNorm();
            }
        }
    });
}

KMeansReport TrainKMeans(const float *data, std::size_t n, std::size_t dim, std::size_t k,
                         const KMeansParams &params, float *centroids) {
    KMeansReport report;
    if (n == 0 || k == 0 || dim == 0) return report;
    if (n <= k) {  // a centroid per point, the rest repeat them
        for (std::size_t c = 0; c < k; c++)
            std::copy(data + (c % n) * dim, data + (c % n + 1) * dim, centroids + c * dim);
        return report;
    }
    ConstRows x(data, (Eigen::Index)n, (Eigen::Index)dim);
    std::mt19937_64 rng(params.seed);
    if (params.plus_plus) {
        // on a random subsample of seed_per_centroid * k points: each pick
        // reads every point once, so seeding on all of them costs k passes
        // over the data (MNIST's 15680 x 784 sample: 245 passes of 49 MB)
        std::size_t m = std::max<std::size_t>(k, (std::size_t)params.seed_per_centroid * k);
        if (params.seed_per_centroid <= 0 || m >= n) {
            SeedPlusPlus(x, k, rng, centroids);
        } else {
            std::vector<float> sub(m * dim);
            std::vector<std::size_t> idx(n);
            for (std::size_t i = 0; i < n; i++) idx[i] = i;
            for (std::size_t i = 0; i < m; i++) {
                std::size_t j = i + (std::size_t)(rng() % (n - i));
                std::swap(idx[i], idx[j]);
                std::copy(data + idx[i] * dim, data + (idx[i] + 1) * dim, &sub[i * dim]);
            }
            ConstRows xs(sub.data(), (Eigen::Index)m, (Eigen::Index)dim);
            SeedPlusPlus(xs, k, rng, centroids);
        }
    } else {
        SeedRandom(x, k, rng, centroids);
    }

    Rows c(centroids, (Eigen::Index)k, (Eigen::Index)dim);
    std::vector<uint32_t> assign(n), previous(n, UINT32_MAX);
    std::vector<float> dist(n);
    std::vector<std::size_t> count(k);
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> sums(k, dim);
    for (int it = 0; it < std::max(params.iterations, 1); it++) {
        AssignNearest(data, n, dim, centroids, k, assign.data(), dist.data(), params.block,
                      params.threads);
        report.iterations = it + 1;
        report.inertia = 0.0;
        for (float d : dist) report.inertia += d;
        if (assign == previous) break;  // stable: the update would change nothing
        previous = assign;
        sums.setZero();
        std::fill(count.begin(), count.end(), 0);
        for (std::size_t i = 0; i < n; i++) {
            sums.row(assign[i]) += x.row(i).cast<double>();
            count[assign[i]]++;
        }
        for (std::size_t j = 0; j < k; j++)
            if (count[j] > 0) c.row(j) = (sums.row(j) / (double)count[j]).cast<float>();
        // an empty cluster takes the member of the largest cluster farthest
        // from its centre: the next assignment splits that cluster in two
        for (std::size_t j = 0; j < k; j++) {
            if (count[j] > 0) continue;
            std::size_t largest =
                (std::size_t)(std::max_element(count.begin(), count.end()) - count.begin());
            if (count[largest] < 2) break;  // nothing left to split
            std::size_t far = n;
            float far_d = -1.0f;
            for (std::size_t i = 0; i < n; i++)
                if (assign[i] == largest && dist[i] > far_d) {
                    far_d = dist[i];
                    far = i;
                }
            if (far == n || far_d <= 0.0f) break;  // all its members coincide
            c.row(j) = x.row(far);
            assign[far] = (uint32_t)j;  // so that the next empty one takes another
            dist[far] = 0.0f;
            count[largest]--;
            count[j] = 1;
            report.splits++;
        }
    }
    return report;
}

}  // namespace gigavector
