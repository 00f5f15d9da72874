// A log-scale latency histogram small enough for shared memory: what the
// index counters keep per index (src/pg/common/index_counters.cpp) and read
// percentiles from. Bucket b holds latencies in
//   [kLatencyFloorMs * 2^(b/8), kLatencyFloorMs * 2^((b+1)/8)),
// about 9% wide, from 1 microsecond to about 4.5 minutes; the first bucket
// takes everything below, the last everything above.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gigavector {

constexpr int kLatencyBuckets = 224;
constexpr double kLatencyFloorMs = 0.001;
constexpr int kLatencyBucketsPerOctave = 8;

// The bucket of a latency in milliseconds (NaN and negatives: bucket 0).
int LatencyBucket(double ms) noexcept;

// The latency at quantile q (0..1) of a histogram holding count values:
// the bucket the rank falls in, interpolated geometrically inside it. NaN
// when count is 0.
double LatencyQuantile(const uint32_t *hist, int64_t count, double q) noexcept;

}  // namespace gigavector
