// HNSW: choosing ef_search from the data.
//
// No fixed ef_search fits every data set: recall@10 0.95 took ef 280 on
// GloVe-100 and ef 20 on MNIST-784, and a default of 320 made MNIST queries
// 5x slower than needed (and the planner refuse the index). CREATE INDEX
// therefore measures it: a sample of the indexed vectors serves as queries,
// their exact 10 nearest neighbours (themselves left out) are found by brute
// force, and the graph is searched with growing ef until the sample's recall
// reaches the target. The index stores the result as its default.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gigavector/hnsw/hnsw_graph.h"

namespace gigavector {

struct EfCalibration {
    int ef;          // the smallest ef tried whose recall reached the target (or the largest tried)
    double recall;   // the sample's recall@k at that ef
    int queries;     // sample size
    double seconds;  // time taken
};

// Searches `graph` (linked) with the ef values of kCalibrationEfs until the
// mean recall@k of `queries` sample nodes (evenly spaced ids) reaches
// `target`. Uses `threads` threads for the brute-force neighbours. Throws
// std::bad_alloc; calls nothing of the caller's.
EfCalibration CalibrateEfSearch(const HnswGraph &graph, int queries, int k, double target,
                                int threads);

}  // namespace gigavector
