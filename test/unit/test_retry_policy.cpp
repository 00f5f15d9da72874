// Retries of embedding requests: which statuses, how long, Retry-After.
#include "gigavector/embed/retry_policy.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace gigavector;

namespace {
int64_t FakeDate(const char *s) {
    return strcmp(s, "Wed, 21 Oct 2015 07:28:00 GMT") == 0 ? 1445412480 : -1;
}
}  // namespace

TEST(RetryPolicy, RetriesRateLimitsAndServerErrorsOnly) {
    EXPECT_TRUE(IsRetryableStatus(429));
    EXPECT_TRUE(IsRetryableStatus(500));
    EXPECT_TRUE(IsRetryableStatus(503));
    EXPECT_FALSE(IsRetryableStatus(400));
    EXPECT_FALSE(IsRetryableStatus(401));
    EXPECT_FALSE(IsRetryableStatus(404));
    EXPECT_FALSE(IsRetryableStatus(200));
}

TEST(RetryPolicy, BackoffDoublesWithJitterAndACap) {
    EXPECT_EQ(RetryDelayMs(0, -1, 0.5), kRetryBaseMs);
    EXPECT_EQ(RetryDelayMs(1, -1, 0.5), 2 * kRetryBaseMs);
    EXPECT_EQ(RetryDelayMs(2, -1, 0.5), 4 * kRetryBaseMs);
    EXPECT_EQ(RetryDelayMs(30, -1, 0.5), kRetryMaxBackoffMs);
    EXPECT_EQ(RetryDelayMs(0, -1, 0.0), kRetryBaseMs / 2);
    EXPECT_LT(RetryDelayMs(0, -1, 0.999), kRetryBaseMs * 3 / 2);
    EXPECT_EQ(RetryDelayMs(0, -1, 7.0), kRetryBaseMs);  // out-of-range jitter: none
}

TEST(RetryPolicy, RetryAfterWins) {
    EXPECT_EQ(RetryDelayMs(5, 1500, 0.9), 1500);
    EXPECT_EQ(RetryDelayMs(0, 0, 0.9), 0);
    EXPECT_EQ(RetryDelayMs(0, 10 * kRetryMaxAfterMs, 0.9), kRetryMaxAfterMs);
}

TEST(RetryPolicy, ParsesRetryAfter) {
    EXPECT_EQ(ParseRetryAfterMs("2", 0, FakeDate), 2000);
    EXPECT_EQ(ParseRetryAfterMs(" 17\r\n", 0, FakeDate), 17000);
    EXPECT_EQ(ParseRetryAfterMs("99999999999", 0, FakeDate), kRetryMaxAfterMs);
    EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", 1445412477, FakeDate), 3000);
    EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", 1445412500, FakeDate), 0);
    EXPECT_EQ(ParseRetryAfterMs("soon", 0, FakeDate), -1);
    EXPECT_EQ(ParseRetryAfterMs("", 0, FakeDate), -1);
    EXPECT_EQ(ParseRetryAfterMs(nullptr, 0, FakeDate), -1);
    EXPECT_EQ(ParseRetryAfterMs("5x", 0, nullptr), -1);
}
