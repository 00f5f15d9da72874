// One HTTP POST for the embedding functions, over libcurl's multi interface
// so that the backend stays interruptible: the transfer is driven in steps
// of at most 50 ms with CHECK_FOR_INTERRUPTS between them, so a cancel or
// statement_timeout stops it within about that long. libcurl's callbacks
// only copy bytes into malloc'd buffers (with a size cap) and never call
// Postgres; the handles are freed on every way out, an ERROR included.
//
// Policy, enforced here for every provider:
//   - http and https only; TLS peers and host names verified;
//   - plain http only to a loopback address (localhost, 127.0.0.0/8, ::1)
//     unless gigavector.embedding_allow_http (superuser) is on;
//   - redirects are never followed (a 3xx is an error naming the Location);
//   - the response body is capped (kGvHttpMaxResponse): a larger one ends the
//     transfer with an error, so a broken server cannot make the backend
//     allocate without bound;
//   - a whole attempt is bounded by the timeout.
#pragma once

#include "common/cpp_boundary.h"

constexpr size_t kGvHttpMaxResponse = 64 * 1024 * 1024;
constexpr int kGvHttpMaxHeaders = 4;

struct GvHttpRequest {
    const char *url;
    const char *headers[kGvHttpMaxHeaders];  // "Name: value", NULL-terminated list
    const char *body;
    size_t body_len;
    int timeout_ms;
};

struct GvHttpResponse {
    long status;  // 0: no HTTP answer (see error)
    char *body;   // palloc'd, NUL-terminated
    size_t body_len;
    int64 retry_after_ms;  // -1: no Retry-After header
    char location[256];    // of a 3xx
    char error[256];       // transport failure (connect, timeout, size), else ""
    bool timed_out;
};

// Whether plain http may go to this URL's host (loopback, or allowed).
extern bool gv_embedding_allow_http;

// Checks the URL's scheme and host against the policy above (ERROR if not).
void gv_http_check_url(const char *url, const char *provider);

// One attempt. Transport failures are reported in resp->error, not raised;
// an interrupt raises as usual.
void gv_http_post(const GvHttpRequest *req, GvHttpResponse *resp);
