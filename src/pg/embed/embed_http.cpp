// The embedding functions' HTTP POST (embed_http.h).
#include "embed/embed_http.h"

#include <curl/curl.h>

#include "gigavector/embed/retry_policy.h"

extern "C" {
#include "miscadmin.h"
#include "utils/timestamp.h"
}

bool gv_embedding_allow_http = false;

namespace {

// What the callbacks fill: plain malloc'd memory, no Postgres calls.
struct Transfer {
    char *body;
    size_t len, cap;
    bool too_big;
    char retry_after[128];
    char location[256];
};
static_assert(std::is_trivially_destructible<Transfer>::value, "lives where an ERROR may longjmp");

size_t OnBody(char *data, size_t size, size_t n, void *arg) {
    Transfer *t = (Transfer *)arg;
    size_t bytes = size * n;
    if (t->len + bytes > kGvHttpMaxResponse) {
        t->too_big = true;
        return 0;  // ends the transfer (CURLE_WRITE_ERROR)
    }
    if (t->len + bytes + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 16384;
        while (cap < t->len + bytes + 1) cap *= 2;
        char *grown = (char *)realloc(t->body, cap);
        if (grown == nullptr) {
            t->too_big = true;
            return 0;
        }
        t->body = grown;
        t->cap = cap;
    }
    memcpy(t->body + t->len, data, bytes);
    t->len += bytes;
    t->body[t->len] = '\0';
    return bytes;
}

// Copies a header's value when its name matches (case-insensitive).
void TakeHeader(const char *line, size_t len, const char *name, char *out, size_t out_len) {
    size_t nlen = strlen(name);
    if (len <= nlen || pg_strncasecmp(line, name, nlen) != 0 || line[nlen] != ':') return;
    size_t from = nlen + 1;
    while (from < len && (line[from] == ' ' || line[from] == '\t')) from++;
    size_t to = len;
    while (to > from && (line[to - 1] == '\r' || line[to - 1] == '\n' || line[to - 1] == ' ')) to--;
    size_t n = to - from < out_len - 1 ? to - from : out_len - 1;
    memcpy(out, line + from, n);
    out[n] = '\0';
}

size_t OnHeader(char *data, size_t size, size_t n, void *arg) {
    Transfer *t = (Transfer *)arg;
    size_t len = size * n;
    TakeHeader(data, len, "Retry-After", t->retry_after, sizeof(t->retry_after));
    TakeHeader(data, len, "Location", t->location, sizeof(t->location));
    return len;
}

int64_t CurlDate(const char *s) {
    time_t t = curl_getdate(s, nullptr);
    return t < 0 ? -1 : (int64_t)t;
}

bool IsLoopback(const char *host) {
    if (pg_strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
        strcmp(host, "[::1]") == 0)
        return true;
    return strncmp(host, "127.", 4) == 0;
}

bool curl_ready = false;

void EnsureCurl() {
    if (curl_ready) return;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        ereport(ERROR, (errcode(ERRCODE_SYSTEM_ERROR), errmsg("libcurl could not be initialised")));
    curl_ready = true;
}

}  // namespace

void gv_http_check_url(const char *url, const char *provider) {
    EnsureCurl();
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool parsed = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
    char scheme_copy[16] = "", host_copy[256] = "";
    if (parsed) {
        strlcpy(scheme_copy, scheme, sizeof(scheme_copy));
        strlcpy(host_copy, host, sizeof(host_copy));
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    if (!parsed)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("%s: the embedding URL \"%s\" is not a valid URL", provider, url),
                 errhint("Set gigavector.embedding_url to e.g. https://api.openai.com/v1.")));
    if (strcmp(scheme_copy, "https") == 0) return;
    if (strcmp(scheme_copy, "http") != 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: the embedding URL must be http or https, not %s", provider,
                               scheme_copy),
                        errhint("Use an https:// URL.")));
    if (!IsLoopback(host_copy) && !gv_embedding_allow_http)
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                 errmsg("%s: plain http to \"%s\" is refused: requests carry API keys and texts",
                        provider, host_copy),
                 errhint("Use https, or a loopback address; a superuser may SET "
                         "gigavector.embedding_allow_http = on for a trusted network.")));
}

void gv_http_post(const GvHttpRequest *req, GvHttpResponse *resp) {
    EnsureCurl();
    memset(resp, 0, sizeof(*resp));
    resp->retry_after_ms = -1;
    Transfer t;
    memset(&t, 0, sizeof(t));
    CURL *volatile easy = curl_easy_init();
    CURLM *volatile multi = curl_multi_init();
    struct curl_slist *volatile headers = NULL;
    if (easy == NULL || multi == NULL) {
        if (easy) curl_easy_cleanup(easy);
        if (multi) curl_multi_cleanup(multi);
        ereport(ERROR,
                (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("libcurl could not start a request")));
    }
    for (int i = 0; i < kGvHttpMaxHeaders && req->headers[i] != NULL; i++) {
        struct curl_slist *grown = curl_slist_append(headers, req->headers[i]);
        if (grown != NULL) headers = grown;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, (struct curl_slist *)headers);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "gigavector");
    curl_multi_add_handle(multi, easy);
    volatile CURLcode result = CURLE_OK;
    PG_TRY();
    {
        int running = 1;
        while (running) {
            CHECK_FOR_INTERRUPTS();
            if (curl_multi_perform(multi, &running) != CURLM_OK) break;
            if (!running) break;
            int fds = 0;
            curl_multi_poll(multi, NULL, 0, 50, &fds);
        }
        int left = 0;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE) result = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->status);
    }
    PG_CATCH();
    {
        // an interrupt (cancel, statement_timeout): free everything, raise it
        curl_multi_remove_handle(multi, easy);
        curl_easy_cleanup(easy);
        curl_multi_cleanup(multi);
        curl_slist_free_all(headers);
        free(t.body);
        PG_RE_THROW();
    }
    PG_END_TRY();
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    // copy out of malloc'd memory into the caller's context
    resp->body = (char *)palloc(t.len + 1);
    if (t.len > 0) memcpy(resp->body, t.body, t.len);
    resp->body[t.len] = '\0';
    resp->body_len = t.len;
    free(t.body);
    strlcpy(resp->location, t.location, sizeof(resp->location));
    resp->retry_after_ms =
        gigavector::ParseRetryAfterMs(t.retry_after, (int64_t)time(NULL), CurlDate);
    if (t.too_big) {
        snprintf(resp->error, sizeof(resp->error), "the response exceeded %zu MB",
                 kGvHttpMaxResponse / (1024 * 1024));
        resp->status = 0;
    } else if (result != CURLE_OK) {
        resp->timed_out = result == CURLE_OPERATION_TIMEDOUT;
        snprintf(resp->error, sizeof(resp->error), "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(result));
        resp->status = 0;
    }
}
