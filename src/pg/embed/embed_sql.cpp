// gigavector.embed(): embeddings from SQL through a provider's HTTP API.
//
// Each provider is a row of kProviders: its default base URL and model,
// where its key comes from, how a batch of texts becomes a request body
// (built with Postgres's escape_json, so quotes, backslashes, control
// characters and non-ASCII text are escaped correctly) and where the
// vectors are in the answer (read with Postgres's own JSON parser, jsonb).
// Batches go one HTTP request each (embed_http.h: interruptible, bounded,
// verified TLS); 429 and 5xx are retried with backoff and Retry-After
// (gigavector/embed/retry_policy.h). Errors name the provider, the HTTP
// status and the provider's own message, with any key redacted.
#include "embed/embed_http.h"
#include "type/gvector.h"

#include <cmath>

#include "gigavector/embed/retry_policy.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "common/pg_prng.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"
#include "utils/syscache.h"
#include "utils/elog.h"
#include "tcop/tcopprot.h"
#include "utils/wait_event.h"
#include "catalog/pg_class.h"

PG_FUNCTION_INFO_V1(gv_embed_text);
PG_FUNCTION_INFO_V1(gv_embed_array);
}

namespace {

enum Format { kOpenAI, kAzure, kOllama, kGoogle, kCohere, kVoyage, kHuggingFace };

struct Provider {
    const char *name;
    Format format;
    const char *default_url;    // the base; the format adds the path
    const char *default_model;  // NULL: none needed
    const char *key_env;        // NULL: no key
    char **key_guc;
    bool key_required;
};

char *openai_key = NULL, *azure_key = NULL, *google_key = NULL, *cohere_key = NULL,
     *voyage_key = NULL, *hf_key = NULL;
char *provider_setting = NULL, *model_setting = NULL, *url_setting = NULL,
     *cohere_input_type = NULL;
int timeout_ms = 30000, batch_size = 64, retries = 3;
bool cache_enabled = false;

const Provider kProviders[] = {
    {"openai", kOpenAI, "https://api.openai.com/v1", "text-embedding-3-small", "OPENAI_API_KEY",
     &openai_key, true},
    {"azure", kAzure, NULL, NULL, "AZURE_OPENAI_API_KEY", &azure_key, true},
    {"ollama", kOllama, "http://localhost:11434", "nomic-embed-text", NULL, NULL, false},
    {"google", kGoogle, "https://generativelanguage.googleapis.com/v1beta", "text-embedding-004",
     "GOOGLE_API_KEY", &google_key, true},
    {"cohere", kCohere, "https://api.cohere.com/v2", "embed-english-v3.0", "COHERE_API_KEY",
     &cohere_key, true},
    {"voyage", kVoyage, "https://api.voyageai.com/v1", "voyage-3", "VOYAGE_API_KEY", &voyage_key,
     true},
    {"huggingface", kHuggingFace, "http://localhost:8080", NULL, "HF_API_KEY", &hf_key, false},
};

const Provider *FindProvider(const char *name) {
    for (const Provider &p : kProviders)
        if (pg_strcasecmp(p.name, name) == 0) return &p;
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("unknown embedding provider \"%s\"", name),
                    errhint("Use openai, azure, ollama, google, cohere, voyage or huggingface "
                            "(any OpenAI-compatible server is openai with its own "
                            "gigavector.embedding_url).")));
    return NULL;
}

// The key: the superuser-only setting, else the server's environment.
const char *KeyOf(const Provider *p) {
    if (p->key_guc == NULL) return NULL;
    if (*p->key_guc != NULL && (*p->key_guc)[0] != '\0') return *p->key_guc;
    const char *env = getenv(p->key_env);
    return env != NULL && env[0] != '\0' ? env : NULL;
}

// Replaces every occurrence of the key in s (a provider may echo it).
char *Redact(const char *s, const char *key) {
    if (s == NULL) return NULL;
    if (key == NULL || strlen(key) < 4) return pstrdup(s);
    StringInfoData out;
    initStringInfo(&out);
    size_t klen = strlen(key);
    const char *at;
    while ((at = strstr(s, key)) != NULL) {
        appendBinaryStringInfo(&out, s, (int)(at - s));
        appendStringInfoString(&out, "[redacted]");
        s = at + klen;
    }
    appendStringInfoString(&out, s);
    return out.data;
}

struct Call {
    const Provider *p;
    const char *model;  // NULL when the provider has none
    int dimensions;     // 0: the model's own
    const char *base;
    const char *key;
};

// The request's URL for this call of n texts (Gemini has a method for one).
char *RequestUrl(const Call &c, int n) {
    switch (c.p->format) {
        case kOpenAI:
        case kVoyage:
            return psprintf("%s/embeddings", c.base);
        case kAzure:
            return psprintf("%s/embeddings?api-version=2024-10-21", c.base);
        case kOllama:
            return psprintf("%s/api/embed", c.base);
        case kGoogle:
            return psprintf("%s/models/%s:%s", c.base, c.model,
                            n == 1 ? "embedContent" : "batchEmbedContents");
        case kCohere:
        case kHuggingFace:
            return psprintf("%s/embed", c.base);
    }
    return NULL;
}

// Appends texts as a JSON array of strings.
void AppendTexts(StringInfo b, char **texts, int n) {
    appendStringInfoChar(b, '[');
    for (int i = 0; i < n; i++) {
        if (i > 0) appendStringInfoChar(b, ',');
        escape_json(b, texts[i]);
    }
    appendStringInfoChar(b, ']');
}

// The request body for n texts (UTF-8).
char *RequestBody(const Call &c, char **texts, int n) {
    StringInfoData b;
    initStringInfo(&b);
    switch (c.p->format) {
        case kOpenAI:
        case kAzure:
        case kVoyage:
            appendStringInfoString(&b, "{\"input\":");
            AppendTexts(&b, texts, n);
            if (c.model != NULL) {
                appendStringInfoString(&b, ",\"model\":");
                escape_json(&b, c.model);
            }
            if (c.p->format != kVoyage)
                appendStringInfoString(&b, ",\"encoding_format\":\"float\"");
            if (c.dimensions > 0)
                appendStringInfo(&b, ",\"%s\":%d",
                                 c.p->format == kVoyage ? "output_dimension" : "dimensions",
                                 c.dimensions);
            appendStringInfoChar(&b, '}');
            break;
        case kOllama:
            appendStringInfoString(&b, "{\"model\":");
            escape_json(&b, c.model);
            appendStringInfoString(&b, ",\"input\":");
            AppendTexts(&b, texts, n);
            if (c.dimensions > 0) appendStringInfo(&b, ",\"dimensions\":%d", c.dimensions);
            appendStringInfoChar(&b, '}');
            break;
        case kGoogle: {
            char *model = psprintf("models/%s", c.model);
            if (n == 1) {  // embedContent: one request object
                appendStringInfoString(&b, "{\"model\":");
                escape_json(&b, model);
                appendStringInfoString(&b, ",\"content\":{\"parts\":[{\"text\":");
                escape_json(&b, texts[0]);
                appendStringInfoString(&b, "}]}");
                if (c.dimensions > 0)
                    appendStringInfo(&b, ",\"outputDimensionality\":%d", c.dimensions);
                appendStringInfoChar(&b, '}');
                break;
            }
            appendStringInfoString(&b, "{\"requests\":[");
            for (int i = 0; i < n; i++) {
                if (i > 0) appendStringInfoChar(&b, ',');
                appendStringInfoString(&b, "{\"model\":");
                escape_json(&b, model);
                appendStringInfoString(&b, ",\"content\":{\"parts\":[{\"text\":");
                escape_json(&b, texts[i]);
                appendStringInfoString(&b, "}]}");
                if (c.dimensions > 0)
                    appendStringInfo(&b, ",\"outputDimensionality\":%d", c.dimensions);
                appendStringInfoChar(&b, '}');
            }
            appendStringInfoString(&b, "]}");
            break;
        }
        case kCohere:
            appendStringInfoString(&b, "{\"model\":");
            escape_json(&b, c.model);
            appendStringInfoString(&b, ",\"texts\":");
            AppendTexts(&b, texts, n);
            appendStringInfoString(&b, ",\"input_type\":");
            escape_json(&b, cohere_input_type);
            appendStringInfoString(&b, ",\"embedding_types\":[\"float\"]");
            if (c.dimensions > 0) appendStringInfo(&b, ",\"output_dimension\":%d", c.dimensions);
            appendStringInfoChar(&b, '}');
            break;
        case kHuggingFace:
            appendStringInfoString(&b, "{\"inputs\":");
            AppendTexts(&b, texts, n);
            appendStringInfoString(&b, ",\"truncate\":true}");
            break;
    }
    return b.data;
}

[[noreturn]] void BadAnswer(const Call &c, const char *what) {
    ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
                    errmsg("%s embedding API returned an unusable answer: %s", c.p->name, what),
                    errhint("Check gigavector.embedding_url and the model; the server may not "
                            "speak the %s protocol.",
                            c.p->name)));
}

// The body as jsonb, after checking it is UTF-8 and JSON (Postgres's own
// parser, which raises nothing on bad input here); NULL when it is not.
JsonbContainer *ParseBody(char *body, size_t len) {
    if (len == 0 || !pg_verify_mbstr(PG_UTF8, body, (int)len, true)) return NULL;
    char *server = pg_any_to_server(body, (int)len, PG_UTF8);
    JsonLexContext *lex =
        makeJsonLexContextCstringLen(server, (int)strlen(server), GetDatabaseEncoding(), true);
    if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS) return NULL;
    Jsonb *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(server)));
    return &jb->root;
}

JsonbValue *Key(JsonbContainer *c, const char *key) {
    if (c == NULL || !JsonContainerIsObject(c)) return NULL;
    return getKeyJsonValueFromContainer(c, key, (int)strlen(key), NULL);
}

JsonbContainer *Container(JsonbValue *v) {
    return v != NULL && v->type == jbvBinary ? v->val.binary.data : NULL;
}

// The provider's own message in an error body, or the start of the body.
char *ProviderMessage(const Call &c, char *body, size_t len) {
    JsonbContainer *root = ParseBody(body, len);
    JsonbValue *v = NULL;
    switch (c.p->format) {
        case kOpenAI:
        case kAzure:
        case kGoogle:
            v = Key(Container(Key(root, "error")), "message");
            if (v == NULL) v = Key(root, "error");
            break;
        case kOllama:
        case kHuggingFace:
            v = Key(root, "error");
            break;
        case kCohere:
            v = Key(root, "message");
            break;
        case kVoyage:
            v = Key(root, "detail");
            break;
    }
    if (v != NULL && v->type == jbvString)
        return pnstrdup(v->val.string.val, Min(v->val.string.len, 500));
    if (len == 0) return pstrdup("(empty body)");
    char *start = pnstrdup(body, Min(len, 200));
    if (!pg_verify_mbstr(PG_UTF8, start, (int)strlen(start), true))
        return pstrdup("(a body that is not UTF-8)");
    return start;
}

// One vector from a JSON array of numbers into out (a gvector), checked.
GVector *VectorFrom(const Call &c, JsonbContainer *arr, int want_dim) {
    if (arr == NULL || !JsonContainerIsArray(arr)) BadAnswer(c, "an embedding is not an array");
    int dim = (int)JsonContainerSize(arr);
    if (dim < 1 || dim > kGvectorMaxDim)
        BadAnswer(c, psprintf("an embedding has %d values (1 to %d allowed)", dim, kGvectorMaxDim));
    if (want_dim > 0 && dim != want_dim)
        BadAnswer(c, psprintf("an embedding has %d dimensions, %d were asked for", dim, want_dim));
    GVector *v = gv_new_vector(dim);
    for (int i = 0; i < dim; i++) {
        JsonbValue *x = getIthJsonbValueFromContainer(arr, (uint32)i);
        if (x == NULL || x->type != jbvNumeric)
            BadAnswer(c, psprintf("value %d of an embedding is not a number", i + 1));
        char *text =
            DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(x->val.numeric)));
        double d = strtod(text, NULL);
        if (!std::isfinite(d) || std::fabs(d) > 3.4028234663852886e38)
            BadAnswer(c,
                      psprintf("value %d of an embedding (%s) is not a finite float", i + 1, text));
        v->x[i] = (float)d;
    }
    return v;
}

// The n vectors of a 2xx answer, in input order.
void ParseVectors(const Call &c, char *body, size_t len, int n, GVector **out) {
    JsonbContainer *root = ParseBody(body, len);
    if (root == NULL) BadAnswer(c, "the body is not valid JSON");
    int want = c.dimensions;
    JsonbContainer *list = NULL;
    switch (c.p->format) {
        case kOpenAI:
        case kAzure:
        case kVoyage:
            list = Container(Key(root, "data"));
            break;
        case kOllama:
            list = Container(Key(root, "embeddings"));
            break;
        case kGoogle:
            if (n == 1 && Key(root, "embedding") != NULL) {  // embedContent's answer
                out[0] = VectorFrom(c, Container(Key(Container(Key(root, "embedding")), "values")),
                                    want);
                return;
            }
            list = Container(Key(root, "embeddings"));
            break;
        case kCohere:
            list = Container(Key(Container(Key(root, "embeddings")), "float"));
            break;
        case kHuggingFace:
            list = root;
            break;
    }
    if (list == NULL || !JsonContainerIsArray(list)) BadAnswer(c, "no list of embeddings in it");
    if ((int)JsonContainerSize(list) != n)
        BadAnswer(c, psprintf("%u embeddings for %d inputs", JsonContainerSize(list), n));
    for (int i = 0; i < n; i++) out[i] = NULL;
    for (int i = 0; i < n; i++) {
        JsonbContainer *item = Container(getIthJsonbValueFromContainer(list, (uint32)i));
        int at = i;
        JsonbContainer *vec = item;
        if (c.p->format == kOpenAI || c.p->format == kAzure || c.p->format == kVoyage) {
            JsonbValue *index = Key(item, "index");
            if (index != NULL) {
                if (index->type != jbvNumeric) BadAnswer(c, "an \"index\" is not a number");
                at = DatumGetInt32(
                    DirectFunctionCall1(numeric_int4, NumericGetDatum(index->val.numeric)));
            }
            vec = Container(Key(item, "embedding"));
        } else if (c.p->format == kGoogle) {
            vec = Container(Key(item, "values"));
        }
        if (at < 0 || at >= n || out[at] != NULL) BadAnswer(c, "the embeddings' indexes are wrong");
        out[at] = VectorFrom(c, vec, want);
        if (want == 0) want = out[at]->dim;  // all of one batch share a width
    }
}

// Sleeps ms milliseconds, interruptibly.
void SleepMs(int64 ms) {
    while (ms > 0) {
        int64 step = Min(ms, 100);
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, (long)step,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        ms -= step;
    }
}

// Embeds n texts (one request, with retries) into out.
void EmbedBatch(const Call &c, char **texts, int n, GVector **out) {
    if (c.key == NULL && c.p->key_required)
        ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
                        errmsg("no API key for the %s embedding provider", c.p->name),
                        errhint("A superuser sets gigavector.%s_api_key, or the server is started "
                                "with %s in its environment.",
                                c.p->name, c.p->key_env)));
    char *url = RequestUrl(c, n);
    char *body = RequestBody(c, texts, n);
    char *auth = NULL;
    if (c.key != NULL) {
        switch (c.p->format) {
            case kAzure:
                auth = psprintf("api-key: %s", c.key);
                break;
            case kGoogle:
                auth = psprintf("x-goog-api-key: %s", c.key);
                break;
            default:
                auth = psprintf("Authorization: Bearer %s", c.key);
        }
    }
    GvHttpRequest req;
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.headers[0] = "Content-Type: application/json";
    req.headers[1] = auth;
    req.body = body;
    req.body_len = strlen(body);
    req.timeout_ms = timeout_ms;
    for (int attempt = 0;; attempt++) {
        GvHttpResponse resp;
        gv_http_post(&req, &resp);
        if (resp.status >= 200 && resp.status < 300) {
            ParseVectors(c, resp.body, resp.body_len, n, out);
            return;
        }
        bool retryable = resp.status != 0 && gigavector::IsRetryableStatus(resp.status);
        if (retryable && attempt < retries) {
            int64 wait = gigavector::RetryDelayMs(attempt, resp.retry_after_ms,
                                                  pg_prng_double(&pg_global_prng_state));
            ereport(DEBUG1,
                    (errmsg("%s embedding API: HTTP %ld, retry %d of %d in %lld ms", c.p->name,
                            resp.status, attempt + 1, retries, (long long)wait)));
            SleepMs(wait);
            continue;
        }
        if (resp.status == 0)
            ereport(ERROR,
                    (errcode(ERRCODE_CONNECTION_FAILURE),
                     errmsg("%s embedding request to %s failed: %s", c.p->name, url,
                            Redact(resp.error, c.key)),
                     resp.timed_out ? errhint("It took longer than gigavector.embedding_timeout_ms "
                                              "(%d ms).",
                                              timeout_ms)
                                    : errhint("Check that the server at gigavector.embedding_url "
                                              "runs and is reachable.")));
        if (resp.status >= 300 && resp.status < 400)
            ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
                            errmsg("%s embedding API answered HTTP %ld, a redirect to \"%s\", "
                                   "which is not followed",
                                   c.p->name, resp.status, resp.location),
                            errhint("Set gigavector.embedding_url to the final address.")));
        char *message = Redact(ProviderMessage(c, resp.body, resp.body_len), c.key);
        ereport(ERROR,
                (errcode(resp.status == 401 || resp.status == 403
                             ? ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION
                             : ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
                 errmsg("%s embedding API answered HTTP %ld: %s", c.p->name, resp.status, message),
                 retryable ? errdetail("Tried %d times.", attempt + 1) : 0,
                 errhint(resp.status == 401 || resp.status == 403
                             ? "Check the API key (gigavector.%s_api_key or %s)."
                         : resp.status == 429
                             ? "Rate limited: raise gigavector.embedding_retries, or embed in "
                               "smaller batches (gigavector.embedding_batch_size)."
                             : "See the provider's message.",
                         c.p->name, c.p->key_env ? c.p->key_env : "")));
    }
}

// The call's settings: arguments over settings over the provider's defaults.
Call MakeCall(FunctionCallInfo fcinfo) {
    Call c;
    const char *provider =
        !PG_ARGISNULL(2) ? text_to_cstring(PG_GETARG_TEXT_PP(2)) : provider_setting;
    c.p = FindProvider(provider && provider[0] ? provider : "openai");
    c.model = !PG_ARGISNULL(1)                      ? text_to_cstring(PG_GETARG_TEXT_PP(1))
              : (model_setting && model_setting[0]) ? model_setting
                                                    : c.p->default_model;
    if (c.model == NULL &&
        (c.p->format == kGoogle || c.p->format == kOllama || c.p->format == kCohere))
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s needs a model", c.p->name),
                 errhint("Pass model => ... or SET gigavector.embedding_model.")));
    // Gemini's model is part of the URL's path: no character that could
    // change the path or add a query
    if (c.p->format == kGoogle)
        for (const char *ch = c.model; *ch; ch++)
            if (!isalnum((unsigned char)*ch) && *ch != '-' && *ch != '_' && *ch != '.')
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("google model name \"%s\" has a character other than "
                                       "letters, digits, '-', '_' and '.'",
                                       c.model),
                                errhint("Give the model's id, e.g. text-embedding-004.")));
    c.dimensions = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
    if (c.dimensions < 0 || c.dimensions > kGvectorMaxDim)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("dimensions must be between 1 and %d, not %d", kGvectorMaxDim,
                               c.dimensions),
                        errhint("Leave it NULL for the model's own.")));
    c.base = (url_setting && url_setting[0]) ? url_setting : c.p->default_url;
    if (c.base == NULL)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s has no default URL", c.p->name),
                        errhint("A superuser sets gigavector.embedding_url, e.g. "
                                "https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT.")));
    // a base ending in '/' would give "//embeddings"
    char *base = pstrdup(c.base);
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') base[--blen] = '\0';
    c.base = base;
    gv_http_check_url(c.base, c.p->name);
    c.key = KeyOf(c.p);  // a missing one matters only when a request goes out
    return c;
}

// An input (in the server's encoding) as UTF-8, checked: not empty, and
// valid UTF-8 where the database does not check its encoding.
char *InputText(const char *s, int position) {
    if (s[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("input %d is empty: an embedding needs text", position),
                        errhint("Filter out empty strings, e.g. WHERE body <> ''.")));
    int len = (int)strlen(s);
    if (GetDatabaseEncoding() == PG_SQL_ASCII && !pg_verify_mbstr(PG_UTF8, s, len, true))
        ereport(ERROR, (errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
                        errmsg("input %d is not valid UTF-8", position),
                        errhint("Embedding APIs take UTF-8 text.")));
    return pg_server_to_any(s, len, PG_UTF8);
}

// ---- the cache: gigavector.embedding_cache, keyed by provider, model,
// dimensions and the SHA-256 of the input (UTF-8). Only its owner may read
// it: embed() reads and writes it as the table's owner (a local user-id
// switch for the two statements, as Postgres's own RI checks do), so a
// role may use the cache through embed() without seeing other roles' texts.

struct CacheAccess {
    Oid owner, save_user;
    int save_sec;
};

Oid CacheTable() {
    Oid nsp = get_namespace_oid("gigavector", true);
    return OidIsValid(nsp) ? get_relname_relid("embedding_cache", nsp) : InvalidOid;
}

void CacheBegin(CacheAccess *a, Oid table) {
    a->owner = InvalidOid;
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(table));
    if (HeapTupleIsValid(tup)) {
        a->owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
        ReleaseSysCache(tup);
    }
    GetUserIdAndSecContext(&a->save_user, &a->save_sec);
    SetUserIdAndSecContext(
        a->owner, a->save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
}

void CacheEnd(CacheAccess *a) {
    SPI_finish();
    SetUserIdAndSecContext(a->save_user, a->save_sec);
}

Datum TextArray(char **texts, int n) {
    Datum *d = (Datum *)palloc(sizeof(Datum) * (n + 1));
    for (int i = 0; i < n; i++) d[i] = CStringGetTextDatum(texts[i]);
    return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

// Fills out[i] from the cache where it has the input; returns the hits.
int CacheGet(const Call &c, char **originals, int n, GVector **out) {
    Oid table = CacheTable();
    if (!OidIsValid(table)) return 0;
    CacheAccess a;
    CacheBegin(&a, table);
    Oid types[4] = {TEXTOID, TEXTOID, INT4OID, TEXTARRAYOID};
    Datum values[4] = {CStringGetTextDatum(c.p->name), CStringGetTextDatum(c.model ? c.model : ""),
                       Int32GetDatum(c.dimensions), TextArray(originals, n)};
    int hits = 0;
    int rc = SPI_execute_with_args(
        "SELECT k.i::int, c.embedding FROM unnest($4) WITH ORDINALITY k(t, i) "
        "JOIN gigavector.embedding_cache c ON c.provider = $1 AND c.model = $2 "
        "AND c.dimensions = $3 AND c.input_hash = sha256(convert_to(k.t, 'UTF8'))",
        4, types, values, NULL, true, 0);
    if (rc == SPI_OK_SELECT) {
        for (uint64 r = 0; r < SPI_processed; r++) {
            bool null_i, null_v;
            int i = DatumGetInt32(
                SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &null_i));
            Datum v = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &null_v);
            if (null_i || null_v || i < 1 || i > n || out[i - 1] != NULL) continue;
            GVector *src = DatumGetGvector(v);
            out[i - 1] = (GVector *)SPI_palloc(VARSIZE(src));
            memcpy(out[i - 1], src, VARSIZE(src));
            hits++;
        }
    }
    CacheEnd(&a);
    return hits;
}

// Stores n embedded inputs (not in a read-only transaction or a standby).
void CachePut(const Call &c, char **originals, GVector **vectors, int n) {
    Oid table = CacheTable();
    if (!OidIsValid(table) || n == 0 || XactReadOnly || RecoveryInProgress()) return;
    Oid vtype = get_atttype(table, get_attnum(table, "embedding"));
    Oid vatype = get_array_type(vtype);
    CacheAccess a;
    CacheBegin(&a, table);
    Datum *d = (Datum *)palloc(sizeof(Datum) * (n + 1));
    for (int i = 0; i < n; i++) d[i] = PointerGetDatum(vectors[i]);
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(vtype, &typlen, &typbyval, &typalign);
    Datum arr = PointerGetDatum(construct_array(d, n, vtype, typlen, typbyval, typalign));
    Oid types[5] = {TEXTOID, TEXTOID, INT4OID, TEXTARRAYOID, vatype};
    Datum values[5] = {CStringGetTextDatum(c.p->name), CStringGetTextDatum(c.model ? c.model : ""),
                       Int32GetDatum(c.dimensions), TextArray(originals, n), arr};
    SPI_execute_with_args(
        "INSERT INTO gigavector.embedding_cache (provider, model, dimensions, input_hash, "
        "embedding) SELECT $1, $2, $3, sha256(convert_to(u.t, 'UTF8')), u.e "
        "FROM unnest($4, $5) u(t, e) ON CONFLICT DO NOTHING",
        5, types, values, NULL, false, 0);
    CacheEnd(&a);
}

// Embeds n inputs into out: from the cache when it is on, the rest in
// batches of gigavector.embedding_batch_size.
void EmbedAll(const Call &c, char **originals, char **utf8, int n, GVector **out) {
    for (int i = 0; i < n; i++) out[i] = NULL;
    if (cache_enabled && CacheGet(c, originals, n, out) == n) return;
    int *missing = (int *)palloc(sizeof(int) * (n + 1));
    int m = 0;
    for (int i = 0; i < n; i++)
        if (out[i] == NULL) missing[m++] = i;
    char **batch = (char **)palloc(sizeof(char *) * (batch_size + 1));
    char **batch_orig = (char **)palloc(sizeof(char *) * (batch_size + 1));
    GVector **got = (GVector **)palloc(sizeof(GVector *) * (batch_size + 1));
    for (int from = 0; from < m; from += batch_size) {
        int count = Min(batch_size, m - from);
        for (int j = 0; j < count; j++) {
            batch[j] = utf8[missing[from + j]];
            batch_orig[j] = originals[missing[from + j]];
        }
        EmbedBatch(c, batch, count, got);
        for (int j = 0; j < count; j++) out[missing[from + j]] = got[j];
        if (cache_enabled) CachePut(c, batch_orig, got, count);
    }
}

}  // namespace

// gigavector.embed(input text, model, provider, dimensions) returns gvector
extern "C" Datum gv_embed_text(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("input is NULL: an embedding needs text"),
                        errhint("Filter out NULLs, e.g. WHERE body IS NOT NULL.")));
    char *original = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char *input = InputText(original, 1);
    Call c = MakeCall(fcinfo);
    GVector *out[1];
    EmbedAll(c, &original, &input, 1, out);
    PG_RETURN_POINTER(out[0]);
}

// gigavector.embed(inputs text[], ...) returns table(ord int, embedding gvector)
extern "C" Datum gv_embed_array(PG_FUNCTION_ARGS) {
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("inputs is NULL: an embedding needs text"),
                        errhint("Pass an array of texts.")));
    ArrayType *arr = PG_GETARG_ARRAYTYPE_P(0);
    Datum *items;
    bool *nulls;
    int n;
    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
    char **texts = (char **)palloc(sizeof(char *) * (n + 1));
    char **originals = (char **)palloc(sizeof(char *) * (n + 1));
    for (int i = 0; i < n; i++) {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("input %d is NULL: an embedding needs text", i + 1),
                            errhint("Filter out NULLs before aggregating the texts.")));
        originals[i] = TextDatumGetCString(items[i]);
        texts[i] = InputText(originals[i], i + 1);
    }
    if (n == 0) return (Datum)0;
    Call c = MakeCall(fcinfo);
    GVector **out = (GVector **)palloc(sizeof(GVector *) * n);
    EmbedAll(c, originals, texts, n, out);
    for (int i = 0; i < n; i++) {
        Datum values[2] = {Int32GetDatum(i + 1), PointerGetDatum(out[i])};
        bool isnull[2] = {false, false};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
    }
    return (Datum)0;
}

// ---- keys out of the server log. With log_statement = all, a statement
// that sets a key (SET gigavector.openai_api_key = '...', ALTER SYSTEM ...)
// would be logged with it; so would a provider's message that echoes a
// key. This emit_log_hook rewrites every message part: the value after a
// *_api_key setting name becomes [redacted], every current key value
// (settings and environment) too, and the STATEMENT line of such a
// statement is not logged. It is active in every backend that has loaded
// the library (all of them when it is preloaded).

namespace {

emit_log_hook_type prev_emit_log_hook = NULL;

// Redacts the quoted value that follows "_api_key" [=|TO] in s, in place.
void RedactKeySettings(char *s) {
    if (s == NULL) return;
    for (char *at = s; (at = strcasestr(at, "_api_key")) != NULL;) {
        char *p = at + strlen("_api_key");
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '"') p++;
        if (*p == '=')
            p++;
        else if (pg_strncasecmp(p, "to", 2) == 0)
            p += 2;
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        if (*p == '\'' || *p == 'E' || *p == 'e') {
            if (*p != '\'') p++;
            if (*p == '\'') {
                char *q = p + 1;
                while (*q != '\0' && !(*q == '\'' && q[1] != '\'')) q += (*q == '\'' ? 2 : 1);
                for (char *r = p + 1; r < q; r++) *r = '*';
            }
        }
        at = p;
    }
}

void RedactValue(char *s, const char *key) {
    if (s == NULL || key == NULL || strlen(key) < 4) return;
    size_t n = strlen(key);
    for (char *at = s; (at = strstr(at, key)) != NULL; at += n) memset(at, '*', n);
}

bool MentionsKeySetting(const char *s) {
    return s != NULL && strcasestr(s, "_api_key") != NULL;
}

void RedactLog(ErrorData *edata) {
    char *parts[] = {edata->message, edata->detail,  edata->detail_log,
                     edata->hint,    edata->context, edata->internalquery};
    for (char *part : parts) {
        RedactKeySettings(part);
        for (const Provider &p : kProviders) RedactValue(part, KeyOf(&p));
    }
    if (MentionsKeySetting(debug_query_string)) edata->hide_stmt = true;
    if (prev_emit_log_hook) prev_emit_log_hook(edata);
}

}  // namespace

// The embedding settings; called from _PG_init.
void gv_embed_define_gucs(void) {
    DefineCustomStringVariable("gigavector.embedding_provider",
                               "Embedding API gigavector.embed() calls.",
                               "openai, azure, ollama, google, cohere, voyage or huggingface.",
                               &provider_setting, "openai", PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomStringVariable("gigavector.embedding_model", "Model gigavector.embed() asks for.",
                               "Empty: the provider's default model.", &model_setting, "",
                               PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomStringVariable(
        "gigavector.embedding_url", "Base URL of the embedding API (superuser).",
        "Empty: the provider's own. Superuser only: requests carry the API key.", &url_setting, "",
        PGC_SUSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("gigavector.embedding_timeout_ms",
                            "Time an embedding request may take, per attempt.", NULL, &timeout_ms,
                            30000, 100, 600000, PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
    DefineCustomIntVariable("gigavector.embedding_batch_size",
                            "Inputs per HTTP request of gigavector.embed(text[]).", NULL,
                            &batch_size, 64, 1, 2048, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("gigavector.embedding_retries",
                            "Retries of a request answered 429 or 5xx (with backoff).", NULL,
                            &retries, 3, 0, 10, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomBoolVariable("gigavector.embedding_allow_http",
                             "Allow plain http to non-loopback embedding servers (superuser).",
                             NULL, &gv_embedding_allow_http, false, PGC_SUSET, 0, NULL, NULL, NULL);
    DefineCustomBoolVariable("gigavector.embedding_cache",
                             "Keep embeddings in gigavector.embedding_cache and reuse them.",
                             "Keyed by provider, model, dimensions and the input's SHA-256: the "
                             "same text is not sent twice.",
                             &cache_enabled, false, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomStringVariable("gigavector.cohere_input_type", "input_type of cohere requests.",
                               "search_document (the default) for stored texts, search_query for "
                               "queries.",
                               &cohere_input_type, "search_document", PGC_USERSET, 0, NULL, NULL,
                               NULL);
    prev_emit_log_hook = emit_log_hook;
    emit_log_hook = RedactLog;
    // keys: superuser only, never shown to others, not in SHOW ALL
    const int key_flags = GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE;
    struct KeyGuc {
        const char *name;
        char **var;
    } keys[] = {
        {"gigavector.openai_api_key", &openai_key}, {"gigavector.azure_api_key", &azure_key},
        {"gigavector.google_api_key", &google_key}, {"gigavector.cohere_api_key", &cohere_key},
        {"gigavector.voyage_api_key", &voyage_key}, {"gigavector.huggingface_api_key", &hf_key}};
    for (const KeyGuc &k : keys)
        DefineCustomStringVariable(k.name, "API key of an embedding provider (superuser only).",
                                   "Empty: the server's environment variable.", k.var, "",
                                   PGC_SUSET, key_flags, NULL, NULL, NULL);
}
