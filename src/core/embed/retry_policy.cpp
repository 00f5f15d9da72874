// Retries of embedding requests (retry_policy.h).
#include "gigavector/embed/retry_policy.h"

#include <cctype>
#include <cstdlib>

namespace gigavector {

bool IsRetryableStatus(long status) noexcept {
    return status == 429 || (status >= 500 && status <= 599);
}

int64_t RetryDelayMs(int attempt, int64_t retry_after_ms, double jitter01) noexcept {
    if (retry_after_ms >= 0)
        return retry_after_ms < kRetryMaxAfterMs ? retry_after_ms : kRetryMaxAfterMs;
    int64_t backoff = kRetryBaseMs;
    for (int i = 0; i < attempt && backoff < kRetryMaxBackoffMs; i++) backoff *= 2;
    if (backoff > kRetryMaxBackoffMs) backoff = kRetryMaxBackoffMs;
    if (!(jitter01 >= 0.0) || jitter01 >= 1.0) jitter01 = 0.5;
    return (int64_t)((double)backoff * (0.5 + jitter01));
}

int64_t ParseRetryAfterMs(const char *value, int64_t now_epoch_s,
                          int64_t (*parse_date)(const char *)) noexcept {
    if (value == nullptr) return -1;
    while (*value == ' ' || *value == '\t') value++;
    if (*value == '\0') return -1;
    const char *p = value;
    while (isdigit((unsigned char)*p)) p++;
    const char *rest = p;
    while (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n') rest++;
    if (p != value && *rest == '\0') {               // delta-seconds
        if (p - value > 9) return kRetryMaxAfterMs;  // absurdly long: the cap
        return (int64_t)strtol(value, nullptr, 10) * 1000;
    }
    if (parse_date == nullptr) return -1;
    int64_t when = parse_date(value);
    if (when < 0) return -1;
    int64_t wait_s = when - now_epoch_s;
    return wait_s > 0 ? wait_s * 1000 : 0;
}

}  // namespace gigavector
