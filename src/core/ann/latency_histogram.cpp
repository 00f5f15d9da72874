// The latency histogram's geometry and percentiles (latency_histogram.h).
#include "gigavector/ann/latency_histogram.h"

#include <cmath>

namespace gigavector {

int LatencyBucket(double ms) noexcept {
    if (!(ms > kLatencyFloorMs)) return 0;
    int b = (int)std::floor(kLatencyBucketsPerOctave * std::log2(ms / kLatencyFloorMs));
    return b < 0 ? 0 : b >= kLatencyBuckets ? kLatencyBuckets - 1 : b;
}

double LatencyQuantile(const uint32_t *hist, int64_t count, double q) noexcept {
    if (count <= 0) return NAN;
    double rank = q * (double)count;  // the rank-th smallest, 1 <= rank <= count
    if (rank < 1) rank = 1;
    double below = 0;
    for (int b = 0; b < kLatencyBuckets; b++) {
        if (hist[b] == 0) continue;
        if (below + hist[b] >= rank) {
            double lo = kLatencyFloorMs * std::exp2((double)b / kLatencyBucketsPerOctave);
            double hi = kLatencyFloorMs * std::exp2((double)(b + 1) / kLatencyBucketsPerOctave);
            double frac = (rank - below) / hist[b];
            return lo * std::pow(hi / lo, frac);
        }
        below += hist[b];
    }
    return NAN;
}

}  // namespace gigavector
