#!/usr/bin/env bash
# gigavector.embed() against real HTTP servers on loopback (test/scripts/embedding_mock.py),
# which speak each provider's protocol and misbehave on request. Checks, as the server
# received them and as SQL sees them:
#   1. every provider's request (path, key header, model, inputs) and its vectors, exact;
#   2. batches (one request per gigavector.embedding_batch_size inputs) in input order,
#      also when the server lists them out of order; escaping of quotes, backslashes,
#      control characters and non-ASCII text (the vector is a hash of the text received);
#   3. errors: HTTP 4xx/5xx with the provider's message and SQLSTATE, 401 → 28000, the key
#      redacted when the server echoes it, malformed JSON, a dropped connection, wrong
#      dimension count, wrong number of vectors, redirects not followed, a huge body
#      refused; NULL, empty input, plain http to a non-loopback host;
#   4. retries: 429 and 5xx retried with Retry-After honoured (seconds and HTTP date),
#      none past gigavector.embedding_retries;
#   5. latency: embedding_timeout_ms, statement_timeout and pg_cancel_backend stop a slow
#      request within about 0.5 s of their limit; non-UTF-8 text is refused;
#   6. the cache: a text embedded once is not requested again; only the uncached inputs of
#      an array go out; prune;
#   7. rights: EXECUTE is not granted to PUBLIC, the key settings and the cache are hidden;
#   8. no key in the server log with log_statement = all (GV_TEST_SERVER_LOG).
# Run by scripts/test.sh (PGHOST, PGPORT, PGUSER: a superuser; GV_TEST_SRC, GV_TEST_TMP).
set -euo pipefail

: "${PGHOST:?PGHOST must be set (run through scripts/test.sh)}"
SRC="${GV_TEST_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}"
WORK="${GV_TEST_TMP:-$(mktemp -d)}"
DB="gvembed_$$"
KEY="sk-test-$$-SECRETKEYVALUE"
MOCK="$SRC/test/scripts/embedding_mock.py"
DIM=8

mock_pid=""
cleanup() {
    [[ -n "$mock_pid" ]] && kill "$mock_pid" 2>/dev/null || true
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

python3 "$MOCK" --port-file "$WORK/port" --log "$WORK/requests.jsonl" --dim "$DIM" &
mock_pid=$!
for _ in $(seq 100); do [[ -s "$WORK/port" ]] && break; sleep 0.05; done
PORT="$(cat "$WORK/port")"
BASE="http://127.0.0.1:$PORT"
createdb "$DB"
psql -X -q -d "$DB" -c 'CREATE EXTENSION gigavector'

fail=0 n=0
ok() { n=$((n + 1)); echo "ok   - $1"; }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL - $1"; }
expect_eq() { if [[ "$2" == "$3" ]]; then ok "$1"; else bad "$1: got [$2], want [$3]"; fi; }
expect_match() { if [[ "$2" =~ $3 ]]; then ok "$1"; else bad "$1: [$2] does not match /$3/"; fi; }
expect_no() { if [[ "$2" != *"$3"* ]]; then ok "$1"; else bad "$1: [$2] contains [$3]"; fi; }

# SQL with the provider's settings; prints the value or "ERROR <sqlstate> <message>"
sql() {
    local setup="SET gigavector.embedding_url = '$1'; SET gigavector.openai_api_key = '$KEY';
SET gigavector.azure_api_key = '$KEY'; SET gigavector.google_api_key = '$KEY';
SET gigavector.cohere_api_key = '$KEY'; SET gigavector.voyage_api_key = '$KEY';
SET gigavector.huggingface_api_key = '$KEY'; SET gigavector.embedding_retries = 3;"
    psql -X -q -At -d "$DB" -v VERBOSITY=default -c "$setup" -c "\\set VERBOSITY sqlstate" \
        -c "$2" 2>&1 | sed -E 's/^ERROR:  /ERROR /' || true
}
# the SQLSTATE and message of a failing statement
sql_error() {
    local setup="SET gigavector.embedding_url = '$1'; SET gigavector.openai_api_key = '$KEY';
SET gigavector.cohere_api_key = '$KEY'; SET gigavector.embedding_retries = ${3:-0};"
    psql -X -q -At -d "$DB" -c "$setup" -c "\\set VERBOSITY verbose" -c "$2" 2>&1 | head -3 | tr '\n' ' ' || true
}
control() { python3 - "$PORT" "$1" <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/_control", data=sys.argv[2].encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(req, timeout=5).read()
PY
}
# the mock's vector of a text, in gvector's own text form (float32, shortest)
expected_vector() {
    psql -X -q -At -d "$DB" -c "SELECT '$(python3 "$MOCK" --dim "$DIM" --print-vector "$1")'::gvector"
}
# the last request the server received: field (path | auth | body)
last_request() { python3 - "$WORK/requests.jsonl" "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = rows[-1]
h = {k.lower(): v for k, v in r.get("headers", {}).items()}
field = sys.argv[2]
if field == "path": print(r["path"] + (("?" + r["query"]) if r.get("query") else ""))
elif field == "auth": print(h.get("authorization") or h.get("api-key") or h.get("x-goog-api-key") or "")
elif field == "body": print(r["body"] if isinstance(r["body"], str) else json.dumps(r["body"]))
elif field == "count": print(len(rows))
PY
}
requests_so_far() { last_request count; }

TEXT="hello world"
WANT="$(expected_vector "$TEXT")"

# ---- 1. each provider's protocol
declare -A base=([openai]="$BASE/v1" [azure]="$BASE/openai/deployments/dep1" [ollama]="$BASE"
    [google]="$BASE/v1beta" [cohere]="$BASE/v2" [voyage]="$BASE/voyage/v1" [huggingface]="$BASE")
declare -A path=([openai]="/v1/embeddings" [azure]="/openai/deployments/dep1/embeddings?api-version"
    [ollama]="/api/embed" [google]="/v1beta/models/m1:embedContent" [cohere]="/v2/embed"
    [voyage]="/voyage/v1/embeddings" [huggingface]="/embed")
declare -A auth=([openai]="Bearer $KEY" [azure]="$KEY" [ollama]="" [google]="$KEY"
    [cohere]="Bearer $KEY" [voyage]="Bearer $KEY" [huggingface]="Bearer $KEY")
for p in openai azure ollama google cohere voyage huggingface; do
    got="$(sql "${base[$p]}" "SELECT gigavector.embed('$TEXT', model => 'm1', provider => '$p')")"
    expect_eq "$p: the vector of '$TEXT'" "$got" "$WANT"
    expect_match "$p: request path" "$(last_request path)" "^${path[$p]//\?/\\?}"
    expect_eq "$p: key header" "$(last_request auth)" "${auth[$p]}"
    body="$(last_request body)"
    [[ "$p" == huggingface ]] || expect_match "$p: the model in the body" "$body" 'm1"'
done

# Gemini takes several texts at once through batchEmbedContents
got="$(sql "$BASE/v1beta" "SELECT string_agg(embedding::text, ' ' ORDER BY ord) FROM gigavector.embed(ARRAY['$TEXT', 'two'], model => 'm1', provider => 'google')")"
expect_eq "google: two texts through batchEmbedContents" "$got" "$WANT $(expected_vector two)"
expect_match "google: ... whose path it is" "$(last_request path)" "^/v1beta/models/m1:batchEmbedContents"

# ---- 2. batches, order, escaping
before="$(requests_so_far)"
TEXTS=("one" "two" "three" "four" "five")
got="$(sql "$BASE/v1" "SET gigavector.embedding_batch_size = 2;
SELECT string_agg(ord || ' ' || embedding::text, E'\\n' ORDER BY ord)
FROM gigavector.embed(ARRAY['one','two','three','four','five'])")"
want=""; i=1
for t in "${TEXTS[@]}"; do want+="${want:+$'\n'}$i $(expected_vector "$t")"; i=$((i + 1)); done
expect_eq "a batch of 5: vectors in input order" "$got" "$want"
expect_eq "a batch of 5 with batch size 2: 3 requests" "$(( $(requests_so_far) - before ))" 3
control '{"mode": "reorder"}'
got="$(sql "$BASE/v1" "SELECT string_agg(ord || ' ' || embedding::text, E'\\n' ORDER BY ord)
FROM gigavector.embed(ARRAY['one','two','three','four','five'])")"
expect_eq "items listed out of order are put back by their index" "$got" "$want"
HARD=$'quote " apostrophe \' backslash \\ tab \t newline \n bell \x07 unicode é 漢字 🙂'
got="$(printf '%s\n' "SET gigavector.embedding_url = '$BASE/v1';" "SET gigavector.openai_api_key = '$KEY';" \
    "SELECT gigavector.embed(:'hard');" | psql -X -q -At -d "$DB" -v hard="$HARD" 2>&1 || true)"
expect_eq "quotes, backslashes, control characters and non-ASCII reach the server intact" \
    "$got" "$(expected_vector "$HARD")"

# ---- 3. errors
control '{"mode": "status", "status": 400, "message": "model m9 does not exist"}'
e="$(sql_error "$BASE/v1" "SELECT gigavector.embed('x', model => 'm9')")"
expect_match "HTTP 400: 38000, provider, status and its message" "$e" "38000.*openai embedding API answered HTTP 400: model m9 does not exist"
control '{"mode": "status", "status": 401, "message": "Incorrect API key provided: '"$KEY"'"}'
e="$(sql_error "$BASE/v1" "SELECT gigavector.embed('x')")"
expect_match "HTTP 401: 28000" "$e" "28000.*HTTP 401"
expect_no "the key echoed by the server is redacted" "$e" "$KEY"
control '{"mode": "status", "status": 400, "message": "bad texts"}'
e="$(sql_error "$BASE/v2" "SELECT gigavector.embed('x', provider => 'cohere')")"
expect_match "cohere's own error shape" "$e" "HTTP 400: bad texts"
control '{"mode": "malformed"}'
expect_match "malformed JSON" "$(sql_error "$BASE/v1" "SELECT gigavector.embed('x')")" "38000.*not valid JSON"
control '{"mode": "drop"}'
expect_match "a dropped connection" "$(sql_error "$BASE/v1" "SELECT gigavector.embed('x')")" "08006"
control '{"mode": "wrong_dims"}'
expect_match "wrong dimension count" "$(sql_error "$BASE/v1" "SELECT gigavector.embed('x', dimensions => $DIM)")" "38000.*dimensions"
control '{"mode": "wrong_count"}'
expect_match "wrong number of vectors" "$(sql_error "$BASE/v1" "SELECT * FROM gigavector.embed(ARRAY['a','b'])")" "38000.*embeddings for 2 inputs"
control '{"mode": "nan"}'
expect_match "NaN in a vector" "$(sql_error "$BASE/v1" "SELECT gigavector.embed('x')")" "38000"
control '{"mode": "redirect", "location": "http://127.0.0.1:1/elsewhere"}'
expect_match "redirects are not followed" "$(sql_error "$BASE/v1" "SELECT gigavector.embed('x')")" "38000.*redirect.*not followed"
control '{"mode": "huge", "bytes": 80000000}'
expect_match "a huge body is refused" "$(sql_error "$BASE/v1" "SELECT gigavector.embed('x')")" "08006.*exceeded 64 MB"
expect_eq "the backend is fine afterwards" "$(sql "$BASE/v1" "SELECT gigavector.embed('$TEXT')")" "$WANT"
expect_match "NULL input" "$(sql_error "$BASE/v1" "SELECT gigavector.embed(NULL::text)")" "22004"
expect_match "empty input" "$(sql_error "$BASE/v1" "SELECT gigavector.embed('')")" "22023"
expect_match "a NULL in an array" "$(sql_error "$BASE/v1" "SELECT * FROM gigavector.embed(ARRAY['a', NULL])")" "22004.*input 2"
expect_match "plain http to another host" "$(sql_error "http://192.0.2.1/v1" "SELECT gigavector.embed('x')")" "42501.*plain http"
expect_match "a google model that would change the URL's path" "$(sql_error "$BASE/v1beta" "SELECT gigavector.embed('x', model => '../admin?x=', provider => 'google')")" "22023"
expect_match "connection refused" "$(sql_error "http://127.0.0.1:1/v1" "SELECT gigavector.embed('x')")" "08006"

# ---- 4. retries
control '{"mode": "ratelimit", "retry_after": 1, "count": 2}'
t0=$(date +%s.%N)
got="$(sql "$BASE/v1" "SELECT gigavector.embed('$TEXT')")"
dt=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 3))")
expect_eq "429 twice with Retry-After: 1, then the vector" "$got" "$WANT"
expect_match "... after waiting the 2 x 1 s asked ($dt s)" "$(python3 -c "print(int(1.9 <= $dt < 5))")" "^1$"
control '{"mode": "ratelimit", "retry_after": 1, "http_date": true, "count": 1}'
expect_eq "Retry-After as an HTTP date" "$(sql "$BASE/v1" "SELECT gigavector.embed('$TEXT')")" "$WANT"
control '{"mode": "status", "status": 503, "message": "overloaded", "count": 5}'
e="$(sql_error "$BASE/v1" "SELECT gigavector.embed('x')" 2)"
expect_match "5xx retried up to embedding_retries, then the error" "$e" "HTTP 503: overloaded.*Tried 3 times"
control '{"mode": "normal"}'

# ---- 5. timeout and cancel latency
control '{"mode": "slow", "seconds": 5}'
t0=$(date +%s.%N)
e="$(sql_error "$BASE/v1" "SET gigavector.embedding_timeout_ms = 500; SELECT gigavector.embed('x')")"
dt=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 3))")
expect_match "embedding_timeout_ms 500 stops a 5 s request" "$e" "08006"
expect_match "... within 1.5 s ($dt s)" "$(python3 -c "print(int($dt < 1.5))")" "^1$"
control '{"mode": "slow", "seconds": 10}'
t0=$(date +%s.%N)
e="$(sql_error "$BASE/v1" "SET statement_timeout = 300; SELECT gigavector.embed('x')")"
dt=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 3))")
expect_match "statement_timeout cancels a request" "$e" "57014"
expect_match "... within 0.3 + 0.5 s ($dt s)" "$(python3 -c "print(int($dt < 0.8))")" "^1$"
control '{"mode": "slow", "seconds": 10}'
psql -X -q -d "$DB" -c "SET application_name = 'gvembed_cancel_$$'" \
    -c "SET gigavector.embedding_url = '$BASE/v1'" -c "SET gigavector.openai_api_key = '$KEY'" \
    -c "\\set VERBOSITY verbose" -c "SELECT gigavector.embed('x')" >"$WORK/cancel.out" 2>&1 &
victim=$!
for _ in $(seq 50); do
    [[ "$(psql -X -q -At -d "$DB" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gvembed_cancel_$$' AND query LIKE '%embed(%'")" == 1 ]] && break
    sleep 0.1
done
sleep 0.3
t0=$(date +%s.%N)
psql -X -q -At -d "$DB" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'gvembed_cancel_$$'" >/dev/null
wait "$victim" || true
dt=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 3))")
expect_match "pg_cancel_backend stops a request" "$(head -1 "$WORK/cancel.out")" "57014"
expect_match "... within 0.5 s ($dt s, including psql's exit)" "$(python3 -c "print(int($dt < 0.5))")" "^1$"
control '{"mode": "normal"}'
createdb -E SQL_ASCII -T template0 "${DB}_ascii"
psql -X -q -d "${DB}_ascii" -c 'CREATE EXTENSION gigavector'
e="$(psql -X -q -At -d "${DB}_ascii" -c "SET gigavector.embedding_url = '$BASE/v1'" \
    -c "SET gigavector.openai_api_key = '$KEY'" -c "\\set VERBOSITY verbose" \
    -c "SELECT gigavector.embed(E'caf\\xe9')" 2>&1 | head -1 || true)"
expect_match "text that is not UTF-8 (a SQL_ASCII database)" "$e" "22021.*not valid UTF-8"
dropdb "${DB}_ascii"

# TLS is verified: a server with a self-signed certificate is refused
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
        -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1
    python3 "$MOCK" --port-file "$WORK/tls.port" --log "$WORK/tls.jsonl" --dim "$DIM" \
        --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key" &
    tls_pid=$!
    for _ in $(seq 100); do [[ -s "$WORK/tls.port" ]] && break; sleep 0.05; done
    e="$(sql_error "https://127.0.0.1:$(cat "$WORK/tls.port")/v1" "SELECT gigavector.embed('x')")"
    expect_match "a self-signed certificate is refused (TLS verified)" "$e" "08006.*(certificate|SSL)"
    expect_eq "... before any request reached it" "$(wc -l <"$WORK/tls.jsonl" 2>/dev/null || echo 0)" "0"
    kill "$tls_pid" 2>/dev/null || true
fi

# ---- 6. the cache: the same text twice is one request; other roles cannot read it
before="$(requests_so_far)"
got1="$(sql "$BASE/v1" "SET gigavector.embedding_cache = on; SELECT gigavector.embed('cached text')")"
got2="$(sql "$BASE/v1" "SET gigavector.embedding_cache = on; SELECT gigavector.embed('cached text')")"
expect_eq "the cache returns the same vector" "$got2" "$got1"
expect_eq "... with one request for two calls" "$(( $(requests_so_far) - before ))" 1
before="$(requests_so_far)"
got="$(sql "$BASE/v1" "SET gigavector.embedding_cache = on; SET gigavector.embedding_batch_size = 10;
SELECT count(*) FROM gigavector.embed(ARRAY['cached text', 'new one', 'new two'])")"
expect_eq "an array with one cached input" "$got" "3"
expect_eq "... asks only for the other two (one request)" "$(( $(requests_so_far) - before ))" 1
expect_match "the last request held only the uncached inputs" "$(last_request body)" '"input":\["new one","new two"\]'
before="$(requests_so_far)"
sql "$BASE/v1" "SELECT gigavector.embed('cached text')" >/dev/null
expect_eq "with the cache off, a request again" "$(( $(requests_so_far) - before ))" 1
expect_eq "the cache keeps provider, model and dimensions" \
    "$(psql -X -q -At -d "$DB" -c "SELECT count(*), min(provider), min(model), min(dimensions) FROM gigavector.embedding_cache")" \
    "3|openai|text-embedding-3-small|0"
expect_eq "embedding_cache_prune removes old rows" \
    "$(psql -X -q -At -d "$DB" -c "SELECT gigavector.embedding_cache_prune('0 seconds')")" "3"

# ---- 7. rights
psql -X -q -d "$DB" -c "CREATE ROLE gvembed_user_$$ LOGIN" >/dev/null
e="$(psql -X -q -At -d "$DB" -U "gvembed_user_$$" -c "\\set VERBOSITY verbose" -c "SELECT gigavector.embed('x')" 2>&1 | head -1 || true)"
expect_match "EXECUTE is not granted to PUBLIC" "$e" "42501"
# (the library loaded first, so that the settings are defined in that session)
e="$(psql -X -q -At -d "$DB" -U "gvembed_user_$$" -c "SELECT count(*) FROM gigavector.simd_info()" -c "SHOW gigavector.openai_api_key" 2>&1 | tail -1 || true)"
expect_match "the key setting is hidden from other roles" "$e" "must be superuser|permission denied"
e="$(psql -X -q -At -d "$DB" -U "gvembed_user_$$" -c "SELECT count(*) FROM gigavector.simd_info()" -c "SELECT count(*) FROM pg_settings WHERE name LIKE 'gigavector.%api_key'" 2>&1 | tail -1 || true)"
expect_eq "... while a superuser may SHOW it" \
    "$(psql -X -q -At -d "$DB" -c "SELECT count(*) FROM gigavector.simd_info()" -c "SET gigavector.openai_api_key = 'visible'" -c "SHOW gigavector.openai_api_key" | tail -1)" "visible"
expect_eq "... and from pg_settings" "$e" "0"
e="$(psql -X -q -At -d "$DB" -U "gvembed_user_$$" -c "\\set VERBOSITY verbose" -c "SELECT count(*) FROM gigavector.embedding_cache" 2>&1 | head -1 || true)"
expect_match "the cache table is its owner's only" "$e" "42501"
psql -X -q -d "$DB" -c "DROP OWNED BY gvembed_user_$$; DROP ROLE gvembed_user_$$" >/dev/null 2>&1 || true

# ---- 8. no key in the server log, even with log_statement = all: the statement setting
# it, a provider echoing it, a failing statement holding it
if [[ -n "${GV_TEST_SERVER_LOG:-}" && -r "$GV_TEST_SERVER_LOG" ]]; then
    KEY2="sk-logged-$$-ANOTHERSECRET"
    control '{"mode": "status", "status": 401, "message": "Incorrect API key provided: '"$KEY2"'"}'
    psql -X -q -d "$DB" >/dev/null 2>&1 <<SQL || true
SET log_statement = 'all';
SET log_min_error_statement = 'error';
SELECT gigavector.simd_info();
SET gigavector.embedding_url = '$BASE/v1';
SET gigavector.openai_api_key = '$KEY2';
SELECT gigavector.embed('x');
SET gigavector.openai_api_key TO '$KEY2' || 'oops';
SQL
    sleep 0.3
    expect_match "the log has the statements" "$(grep -c 'gigavector.openai_api_key' "$GV_TEST_SERVER_LOG")" "^[1-9]"
    expect_eq "... and not the key" "$(grep -c -- "$KEY2" "$GV_TEST_SERVER_LOG")" "0"
    expect_eq "the first key never reached the log either" "$(grep -c -- "$KEY" "$GV_TEST_SERVER_LOG")" "0"
    control '{"mode": "normal"}'
else
    echo "# no GV_TEST_SERVER_LOG: the log checks need scripts/test.sh"
fi

echo "$((n - fail)) passed, $fail failed"
[[ $fail -eq 0 ]]
