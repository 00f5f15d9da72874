// When to try an embedding request again, and after how long: 429 (rate
// limited) and 5xx (the provider's fault) are retried, with exponential
// backoff and jitter, unless the server said how long to wait (Retry-After,
// in seconds or as an HTTP date), which is honoured. Everything else (4xx,
// a malformed answer) is final: sending it again gives the same answer.
#pragma once

#include <cstdint>

namespace gigavector {

// Whether an HTTP status is worth another try.
bool IsRetryableStatus(long status) noexcept;

// The wait before try `attempt` + 1 (attempt 0 is the first retry), in
// milliseconds: kRetryBaseMs * 2^attempt, capped at kRetryMaxBackoffMs,
// times a jitter factor in [0.5, 1.5) drawn from jitter01 in [0, 1). A
// Retry-After the server sent (retry_after_ms >= 0) is used instead, capped
// at kRetryMaxAfterMs.
constexpr int64_t kRetryBaseMs = 250;
constexpr int64_t kRetryMaxBackoffMs = 8000;
constexpr int64_t kRetryMaxAfterMs = 60000;
int64_t RetryDelayMs(int attempt, int64_t retry_after_ms, double jitter01) noexcept;

// Parses a Retry-After value: delta-seconds ("120") or an HTTP date ("Wed,
// 21 Oct 2015 07:28:00 GMT", as seconds since the epoch from parse_date,
// compared with now_epoch_s). Returns milliseconds, or -1 when it cannot
// be read. parse_date returns -1 for a date it cannot read.
int64_t ParseRetryAfterMs(const char *value, int64_t now_epoch_s,
                          int64_t (*parse_date)(const char *)) noexcept;

}  // namespace gigavector
