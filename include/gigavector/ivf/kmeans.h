// k-means under L2, for the coarse lists of IVF indexes and the codebooks of
// product quantization (quant/pq.h).
//
// Seeding is k-means++ (Arthur & Vassilvitskii, "k-means++: The Advantages
// of Careful Seeding", SODA 2007): each next centroid is a data point drawn
// with probability proportional to its squared distance from the nearest
// centroid chosen so far, which avoids the empty and merged clusters of
// uniform seeding on clustered data. Lloyd iterations follow. Assignment is
// one matrix product per block of points (|x|^2 - 2 X C^T + |c|^2, Eigen),
// so its cost is that of a GEMM rather than of n k separate distances.
// A cluster that ends an iteration empty takes half of the largest cluster:
// it restarts at that centroid nudged one way and the large one the other
// way (as faiss does), so k centroids stay k distinct ones.
//
// Deterministic: the same data, k and seed give the same centroids.
//
// Named entry points that may throw: TrainKMeans and AssignNearest allocate
// their work memory (std::bad_alloc). Everything else here is noexcept.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gigavector {

struct KMeansParams {
    int iterations = 20;  // Lloyd iterations after seeding (stops early when stable)
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    std::size_t block = 4096;  // points per assignment block (bounds the work matrix)
    // k-means++ seeding (O(n k dim)); false: k distinct random points (what
    // faiss does by default; cheaper for very large k, more empty clusters)
    bool plus_plus = true;
    int threads = 1;  // for the assignments (ann/parallel.h)
    // k-means++ picks its seeds from a random subsample of this many points
    // per centroid (0: from every point)
    int seed_per_centroid = 0;
};

struct KMeansReport {
    double inertia = 0.0;  // sum of squared distances to the assigned centroid, last iteration
    int iterations = 0;    // Lloyd iterations run
    int splits = 0;        // empty clusters refilled by splitting a large one
};

// Trains k centroids (written to centroids, k x dim row-major) on n points
// (data, n x dim row-major). When n < k, the centroids past the n-th repeat
// points (there is nothing to separate them). n must be at least 1.
KMeansReport TrainKMeans(const float *data, std::size_t n, std::size_t dim, std::size_t k,
                         const KMeansParams &params, float *centroids);

// For each of n points, the nearest of k centroids under L2 (ties: the lower
// index) in assign[i], and the squared distance in dist[i] (dist may be
// null). Points are taken in blocks of `block` rows, the blocks shared out
// to `threads` threads.
void AssignNearest(const float *data, std::size_t n, std::size_t dim, const float *centroids,
                   std::size_t k, uint32_t *assign, float *dist, std::size_t block = 4096,
                   int threads = 1);

}  // namespace gigavector
