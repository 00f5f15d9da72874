// The latency histogram: buckets cover what they claim, and percentiles
// read back from it lie within a bucket's width of the exact ones.
#include "gigavector/ann/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace gigavector;

namespace {

double BucketLow(int b) {
    return kLatencyFloorMs * std::exp2((double)b / kLatencyBucketsPerOctave);
}

}  // namespace

TEST(LatencyHistogram, BucketsHoldTheirRange) {
    for (double ms : {0.0011, 0.01, 0.1, 0.37, 1.0, 2.5, 17.0, 999.0, 60000.0}) {
        int b = LatencyBucket(ms);
        EXPECT_LE(BucketLow(b), ms * (1 + 1e-12)) << ms;
        EXPECT_GT(BucketLow(b + 1), ms) << ms;
    }
    EXPECT_EQ(LatencyBucket(0), 0);
    EXPECT_EQ(LatencyBucket(-3), 0);
    EXPECT_EQ(LatencyBucket(NAN), 0);
    EXPECT_EQ(LatencyBucket(1e12), kLatencyBuckets - 1);
    EXPECT_LT(LatencyBucket(1.0), LatencyBucket(1.1));  // 10% apart: different buckets
}

TEST(LatencyHistogram, QuantilesMatchTheExactOnes) {
    std::mt19937 rng(7);
    std::lognormal_distribution<double> fast(std::log(0.4), 0.3), slow(std::log(20.0), 0.2);
    std::vector<double> values;
    std::vector<uint32_t> hist(kLatencyBuckets, 0);
    for (int i = 0; i < 5000; i++) {
        double ms = i % 10 == 0 ? slow(rng) : fast(rng);  // a tenth are slow
        values.push_back(ms);
        hist[LatencyBucket(ms)]++;
    }
    std::sort(values.begin(), values.end());
    const double width = std::exp2(1.0 / kLatencyBucketsPerOctave);  // one bucket
    for (double q : {0.5, 0.9, 0.95, 0.99}) {
        double exact = values[(size_t)std::ceil(q * values.size()) - 1];
        double got = LatencyQuantile(hist.data(), (int64_t)values.size(), q);
        EXPECT_GT(got, exact / width) << q;
        EXPECT_LT(got, exact * width) << q;
    }
    // the fast and the slow population are told apart
    EXPECT_LT(LatencyQuantile(hist.data(), 5000, 0.5), 1.0);
    EXPECT_GT(LatencyQuantile(hist.data(), 5000, 0.95), 10.0);
}

TEST(LatencyHistogram, EmptyAndSingle) {
    std::vector<uint32_t> hist(kLatencyBuckets, 0);
    EXPECT_TRUE(std::isnan(LatencyQuantile(hist.data(), 0, 0.5)));
    hist[LatencyBucket(3.0)] = 1;
    for (double q : {0.0, 0.5, 1.0}) {
        double got = LatencyQuantile(hist.data(), 1, q);
        EXPECT_GE(got, BucketLow(LatencyBucket(3.0)));
        EXPECT_LE(got, BucketLow(LatencyBucket(3.0) + 1));
    }
}
