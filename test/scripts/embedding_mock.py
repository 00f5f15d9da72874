#!/usr/bin/env python3
"""GigaVector test mock of the embedding HTTP APIs used by gigavector.embed().

A loopback server that speaks each provider's real embedding protocol (same paths,
request and response bodies, error shapes), returns deterministic vectors, records
every request, and misbehaves on demand (errors, rate limits, slowness, huge, broken
or dropped replies, wrong vectors), so tests can drive the C++ client through every
path. Standard library only (python3 from Debian).

Run:
    python3 test/scripts/embedding_mock.py --port-file F --log F.jsonl [--dim 8]
        binds 127.0.0.1 on a free port (--port P / --host H to choose), writes the port
        and a newline to F once listening (atomic rename), serves until killed
        (SIGTERM/SIGINT). --verbose logs each request to stderr; quiet otherwise.
    python3 test/scripts/embedding_mock.py --print-vector TEXT [--dim 8]
        prints the vector the mock returns for TEXT as '[a,b,...]' (repr floats), exits.

Deterministic vectors: for input text t and dimension n (the request's dimensions
parameter if it has one, else --dim), element i (0-based) is
    d = sha256(utf8(t + "#" + str(i // 16)));  k = d[2*(i%16)] * 256 + d[2*(i%16)+1]
    v[i] = k / 32768 - 1          (a multiple of 2^-15 in [-1, 1): exact in float32)
so a shorter vector is a prefix of a longer one. In SQL (checked against PostgreSQL 15):
    SELECT ('[' || string_agg((((get_byte(sha256(convert_to(t || '#' || (i/16), 'UTF8')), 2*(i%16)) * 256
              + get_byte(sha256(convert_to(t || '#' || (i/16), 'UTF8')), 2*(i%16)+1))
              / 32768.0 - 1)::float8)::text, ',' ORDER BY i) || ']')
    FROM (VALUES ('some text')) v(t), generate_series(0, 8 - 1) i;
Vectors are not normalised, for any provider.

Providers (method POST; body JSON):
  openai   /v1/embeddings  {"model" (required), "input": str|[str], "dimensions"?,
           "encoding_format"? "float"|"base64"} -> {"object":"list","data":[{"object":
           "embedding","index":i,"embedding":[...]}],"model":..,"usage":{"prompt_tokens",
           "total_tokens"}};  error {"error":{"message","type","param","code"}}
  azure    /openai/deployments/<deployment>/embeddings?api-version=..  (same bodies;
           "model" optional; without api-version: 404 "Resource not found")
  ollama   /api/embed {"model" (required), "input": str|[str], "dimensions"?}
           -> {"model","embeddings":[[...]],"total_duration","load_duration",
           "prompt_eval_count"};  legacy /api/embeddings {"model","prompt"} ->
           {"embedding":[...]};  error {"error":"..."}
  google   /v1beta/models/<m>:batchEmbedContents {"requests":[{"model":"models/<m>",
           "content":{"parts":[{"text":..}]},"outputDimensionality"?,"taskType"?}]}
           -> {"embeddings":[{"values":[...]}]};  /v1beta/models/<m>:embedContent
           {"model"?,"content":{..},"outputDimensionality"?} -> {"embedding":{"values":
           [...]}};  (/v1/ works too; several parts are joined with "\\n");
           error {"error":{"code":N,"message","status":"INVALID_ARGUMENT"|...}}
  cohere   /v2/embed {"model" (required),"texts":[..],"input_type" (required: search_document,
           search_query, classification, clustering),"embedding_types"? (only "float"),
           "output_dimension"?} -> {"id","embeddings":{"float":[[...]]},"texts",
           "meta":{..},"response_type":"embeddings_by_type"};  error {"message":"..."}
  voyage   /voyage/v1/embeddings (point the voyage base URL at http://127.0.0.1:PORT/voyage)
           {"input":str|[str],"model" (required),"input_type"?,"output_dimension"?}
           -> {"object":"list","data":[{"object":"embedding","embedding":[...],"index":i}],
           "model","usage":{"total_tokens"}};  error {"detail":"..."}
  tei      /embed (Hugging Face text-embeddings-inference) {"inputs":str|[str],
           "dimensions"?} -> [[...],...];  error {"error":"...","error_type":"Validation"|..}
Bad requests (bad JSON, missing/empty input, an empty string, wrong types) get 400 in
the provider's error shape; unknown paths 404; other methods on a provider path 405.

Control (these requests are not recorded and do not consume a mode):
  POST /_control {"mode": M, "count": N, ...}  the next N POSTs to a provider path (default 1;
        -1 = until reset) get mode M; "normal" clears all modes. Or {"modes": [{"mode":..,
        "count":..}, ...]} to queue several, used in order. "clear_log": true also empties
        the in-memory log. Answers {"ok":true,"queue":[...]}. GET /_control: the queue.
  GET  /_log[?since=SEQ]  JSON array of the recorded requests (seq > SEQ); DELETE /_log
        empties it (the --log file is append-only).
  GET  /health -> "ok" (not recorded).
Modes (each also takes "delay": seconds to wait first, "headers": {extra response
headers}, "content_type": override):
  normal      correct answer
  status      "status" (default 500) with the provider's error body carrying "message";
              "retry_after" adds a Retry-After header
  ratelimit   429 + Retry-After: "retry_after" (default 1) seconds, or an HTTP date that
              many seconds ahead if "http_date": true; provider's rate-limit error body
  slow        sleep "seconds" (default 5) then answer normally (stops early, without an
              answer, when the client hangs up); other requests are not blocked
  huge        200 with a body of "bytes" bytes (default 200,000,000) that starts like the
              provider's answer and is never closed; Content-Length, or chunked if
              "chunked": true; streamed in 1 MiB chunks
  malformed   200 with invalid JSON ("body" to choose it)
  drop        200 + headers with Content-Length: 1000, then 10 bytes of body, then close
  close       close the connection without answering (curl: empty reply)
  reset       close with a TCP RST without answering
  redirect    "status" (default 302) with Location: "location" (default: the same URL;
              clients turn a followed 302 POST into a GET, which gets 405: use "status":
              307 or 308 to have the POST repeated)
  wrong_dims  vectors of dim+1
  nan         first vector's first element written as bare NaN (invalid JSON);
  infinity    ... as bare Infinity;  null_value: ... as null
  wrong_count one embedding fewer than inputs (embedContent: no "embedding" key)
  reorder     openai/azure/voyage: "data" in reverse order, "index" still correct
              (other providers have no index: answered normally)
Log lines (--log, one JSON object per provider/unknown request, also GET /_log):
  {"seq","time" (epoch s),"time_iso","client","method","target","path","query",
   "http_version","headers" {lower-case name: value},"header_list" [[name,value]...],
   "body" (text; invalid UTF-8 replaced, then "body_base64" has the bytes),"body_length",
   "provider","mode"}
"""

import argparse
import base64
import email.utils
import hashlib
import json
import os
import re
import signal
import select
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler

# the HTTP plumbing shared with the demo's server (scripts/loopback_http.py)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from loopback_http import LoopbackServer, read_body, write_port_file  # noqa: E402
from urllib.parse import parse_qs

MAX_BODY = 64 * 1024 * 1024
MAX_DIM = 65535
CONTROL_PATHS = ("/_control", "/_log", "/health", "/_health")
MODES = {
    "normal", "status", "ratelimit", "slow", "huge", "malformed", "drop", "close", "reset",
    "redirect", "wrong_dims", "nan", "infinity", "null_value", "wrong_count", "reorder",
}


def mock_vector(text, dim):
    """text: str (encoded as UTF-8) or the bytes themselves."""
    out = []
    j = 0
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    while len(out) < dim:
        d = hashlib.sha256(data + b"#" + str(j).encode()).digest()
        out.extend(k / 32768.0 - 1.0 for k in struct.unpack(">16H", d))
        j += 1
    return out[:dim]


def ntokens(texts):
    return sum(max(1, len(t.split())) for t in texts)


class Bad(Exception):
    """A request the provider would reject: status + message, in the provider's shape."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Req:
    """A parsed embedding request: texts, per-text dimensions, model, shape details."""

    def __init__(self, texts, dims, model, **kw):
        self.texts = texts
        self.dims = dims
        self.model = model
        self.kw = kw


def jbody(body):
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Bad(400, f"request body is not valid JSON: {e}")
    if not isinstance(obj, dict):
        raise Bad(400, "request body must be a JSON object")
    return obj


def str_or_list(v, name, required=True):
    if v is None:
        if required:
            raise Bad(400, f"'{name}' is required")
        return None
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list):
        raise Bad(400, f"'{name}' must be a string or an array of strings")
    if not v:
        raise Bad(400, f"'{name}' must not be empty")
    for i, t in enumerate(v):
        if not isinstance(t, str):
            raise Bad(400, f"'{name}[{i}]' must be a string")
        if t == "":
            raise Bad(400, f"'{name}[{i}]' must not be an empty string")
    return v


def opt_dim(obj, name, default):
    v = obj.get(name)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v > MAX_DIM:
        raise Bad(400, f"'{name}' must be an integer between 1 and {MAX_DIM}")
    return v


def req_str(obj, name):
    v = obj.get(name)
    if not isinstance(v, str) or not v:
        raise Bad(400, f"'{name}' is required (a non-empty string)")
    return v


# ------------------------------------------------------------------ providers
def embedding_items(r, vecs, reorder):
    """The "data" list of OpenAI's and Voyage's answers: one item per vector with
    its index (base64 float32 when the request asked so), reversed on request."""
    data = []
    for i, v in enumerate(vecs):
        if r.kw.get("fmt") == "base64" and all(isinstance(x, float) for x in v):
            v = base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode("ascii")
        data.append({"object": "embedding", "index": i, "embedding": v})
    if reorder:
        data.reverse()
    return data


class OpenAI:
    name = "openai"
    prefix = b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":['
    has_index = True

    def __init__(self, deployment=None):
        self.deployment = deployment
        if deployment is not None:
            self.name = "azure"

    def parse(self, body, dim, query):
        if self.deployment is not None and "api-version" not in query:
            raise Bad(404, "Resource not found (mock: the api-version query parameter is required)")
        obj = jbody(body)
        if self.deployment is None:
            model = req_str(obj, "model")
        else:
            model = obj.get("model") if isinstance(obj.get("model"), str) else self.deployment
        texts = str_or_list(obj.get("input"), "input")
        d = opt_dim(obj, "dimensions", dim)
        fmt = obj.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise Bad(400, f"'encoding_format' must be 'float' or 'base64', not {fmt!r}")
        return Req(texts, [d] * len(texts), model, fmt=fmt)

    def ok(self, r, vecs, reorder=False):
        data = embedding_items(r, vecs, reorder)
        n = ntokens(r.texts)
        return {"object": "list", "data": data, "model": r.model,
                "usage": {"prompt_tokens": n, "total_tokens": n}}

    def error(self, status, message):
        etype, code = "invalid_request_error", None
        if status == 401:
            code = "invalid_api_key"
        elif status == 404:
            code = "not_found"
        elif status == 429:
            etype, code = "requests", "rate_limit_exceeded"
        elif status >= 500:
            etype = "server_error"
        return {"error": {"message": message, "type": etype, "param": None, "code": code}}


class Ollama:
    name = "ollama"
    prefix = b'{"model":"mock","embeddings":[['
    has_index = False

    def __init__(self, legacy=False):
        self.legacy = legacy

    def parse(self, body, dim, query):
        obj = jbody(body)
        model = obj.get("model")
        if not isinstance(model, str) or not model:
            raise Bad(400, "model is required")
        if self.legacy:
            p = obj.get("prompt")
            if not isinstance(p, str) or not p:
                raise Bad(400, "prompt is required (a non-empty string)")
            return Req([p], [dim], model)
        texts = str_or_list(obj.get("input"), "input")
        d = opt_dim(obj, "dimensions", dim)
        return Req(texts, [d] * len(texts), model)

    def ok(self, r, vecs, reorder=False):
        if self.legacy:
            return {"embedding": vecs[0]} if vecs else {}
        return {"model": r.model, "embeddings": vecs, "total_duration": 1000000,
                "load_duration": 1000, "prompt_eval_count": ntokens(r.texts)}

    def error(self, status, message):
        return {"error": message}


GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
                 500: "INTERNAL", 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class Google:
    name = "google"
    has_index = False

    def __init__(self, model, method):
        self.model = model
        self.batch = method == "batchEmbedContents"
        self.prefix = b'{"embeddings":[{"values":[' if self.batch else b'{"embedding":{"values":['

    def content_text(self, c, where):
        if not isinstance(c, dict) or not isinstance(c.get("parts"), list) or not c["parts"]:
            raise Bad(400, f"{where}content.parts is required (a non-empty array)")
        texts = []
        for i, p in enumerate(c["parts"]):
            if not isinstance(p, dict) or not isinstance(p.get("text"), str):
                raise Bad(400, f"{where}content.parts[{i}].text is required (a string)")
            texts.append(p["text"])
        t = "\n".join(texts)
        if t == "":
            raise Bad(400, f"{where}content has no text")
        return t

    def one(self, q, dim, where, model_required):
        if not isinstance(q, dict):
            raise Bad(400, f"{where} must be an object")
        m = q.get("model")
        if m is None and model_required:
            raise Bad(400, f"{where}model is required")
        if m is not None and m != f"models/{self.model}":
            raise Bad(400, f"{where}model is {m!r}; it must match the URL's model 'models/{self.model}'")
        return self.content_text(q.get("content"), where), opt_dim(q, "outputDimensionality", dim)

    def parse(self, body, dim, query):
        obj = jbody(body)
        if not self.batch:
            t, d = self.one(obj, dim, "", False)
            return Req([t], [d], self.model)
        reqs = obj.get("requests")
        if not isinstance(reqs, list) or not reqs:
            raise Bad(400, "requests is required (a non-empty array)")
        texts, dims = [], []
        for i, q in enumerate(reqs):
            t, d = self.one(q, dim, f"requests[{i}].", True)
            texts.append(t)
            dims.append(d)
        return Req(texts, dims, self.model)

    def ok(self, r, vecs, reorder=False):
        if self.batch:
            return {"embeddings": [{"values": v} for v in vecs]}
        return {"embedding": {"values": vecs[0]}} if vecs else {}

    def error(self, status, message):
        return {"error": {"code": status, "message": message,
                          "status": GOOGLE_STATUS.get(status, "UNKNOWN" if status >= 500 else "FAILED_PRECONDITION")}}


class Cohere:
    name = "cohere"
    prefix = b'{"id":"00000000-0000-0000-0000-000000000000","embeddings":{"float":[['
    has_index = False
    INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")

    def parse(self, body, dim, query):
        obj = jbody(body)
        model = obj.get("model")
        if not isinstance(model, str) or not model:
            raise Bad(400, "invalid request: model must be specified")
        texts = obj.get("texts")
        if not isinstance(texts, list) or not texts:
            raise Bad(400, "invalid request: texts must be a non-empty array of strings")
        texts = str_or_list(texts, "texts")
        it = obj.get("input_type")
        if it is None:
            raise Bad(400, "invalid request: input_type is required for Embed v3 and newer models")
        if it not in self.INPUT_TYPES:
            raise Bad(400, f"invalid request: input_type must be one of {', '.join(self.INPUT_TYPES)}")
        et = obj.get("embedding_types")
        if et is None:
            et = ["float"]
        if not isinstance(et, list) or et != ["float"]:
            raise Bad(400, "invalid request: embedding_types: this mock only serves [\"float\"]")
        d = opt_dim(obj, "output_dimension", dim)
        return Req(texts, [d] * len(texts), model)

    def ok(self, r, vecs, reorder=False):
        return {"id": str(uuid.uuid4()), "embeddings": {"float": vecs}, "texts": r.texts,
                "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": ntokens(r.texts)}},
                "response_type": "embeddings_by_type"}

    def error(self, status, message):
        return {"message": message}


class Voyage:
    name = "voyage"
    prefix = b'{"object":"list","data":[{"object":"embedding","embedding":['
    has_index = True

    def parse(self, body, dim, query):
        obj = jbody(body)
        texts = str_or_list(obj.get("input"), "input")
        model = obj.get("model")
        if not isinstance(model, str) or not model:
            raise Bad(400, "Field 'model' is required")
        it = obj.get("input_type")
        if it not in (None, "query", "document"):
            raise Bad(400, "Value 'input_type' must be null, 'query' or 'document'")
        if obj.get("output_dtype", "float") not in (None, "float"):
            raise Bad(400, "this mock only serves output_dtype 'float'")
        fmt = obj.get("encoding_format")
        if fmt not in (None, "base64"):
            raise Bad(400, "Value 'encoding_format' must be null or 'base64'")
        d = opt_dim(obj, "output_dimension", dim)
        return Req(texts, [d] * len(texts), model, fmt=fmt)

    def ok(self, r, vecs, reorder=False):
        data = embedding_items(r, vecs, reorder)
        return {"object": "list", "data": data, "model": r.model, "usage": {"total_tokens": ntokens(r.texts)}}

    def error(self, status, message):
        return {"detail": message}


class TEI:
    name = "tei"
    prefix = b"[["
    has_index = False

    def parse(self, body, dim, query):
        obj = jbody(body)
        texts = str_or_list(obj.get("inputs"), "inputs")
        d = opt_dim(obj, "dimensions", dim)
        return Req(texts, [d] * len(texts), "tei")

    def ok(self, r, vecs, reorder=False):
        return vecs

    def error(self, status, message):
        etype = {429: "Overloaded", 503: "Unhealthy", 424: "Backend"}.get(status)
        if etype is None:
            etype = "Backend" if status >= 500 else "Validation"
        return {"error": message, "error_type": etype}


GOOGLE_RE = re.compile(r"^/(?:v1|v1beta|v1alpha)/models/([^/:]+):(batchEmbedContents|embedContent)$")
AZURE_RE = re.compile(r"^/openai/deployments/([^/]+)/embeddings$")


def provider_for(path):
    if path == "/v1/embeddings":
        return OpenAI()
    m = AZURE_RE.match(path)
    if m:
        return OpenAI(deployment=m.group(1))
    if path == "/voyage/v1/embeddings":
        return Voyage()
    if path == "/api/embed":
        return Ollama()
    if path == "/api/embeddings":
        return Ollama(legacy=True)
    m = GOOGLE_RE.match(path)
    if m:
        return Google(m.group(1), m.group(2))
    if path == "/v2/embed":
        return Cohere()
    if path == "/embed":
        return TEI()
    return None


# ------------------------------------------------------------------ state
class State:
    def __init__(self, log_path, dim):
        self.lock = threading.Lock()
        self.queue = []  # [params dict, remaining (-1 = forever)]
        self.entries = []
        self.seq = 0
        self.dim = dim
        self.logf = open(log_path, "a", encoding="utf-8") if log_path else None

    def take_mode(self):
        with self.lock:
            while self.queue:
                params, left = self.queue[0]
                if left == 0:
                    self.queue.pop(0)
                    continue
                if left > 0:
                    self.queue[0][1] = left - 1
                    if left == 1:
                        self.queue.pop(0)
                return params
            return {"mode": "normal"}

    def set_modes(self, specs):
        q = []
        for s in specs:
            if not isinstance(s, dict):
                raise Bad(400, "each mode must be a JSON object")
            mode = s.get("mode")
            if mode not in MODES:
                raise Bad(400, f"unknown mode {mode!r}; modes: {', '.join(sorted(MODES))}")
            count = s.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or count == 0 or count < -1:
                raise Bad(400, "'count' must be a positive integer or -1 (until reset)")
            for k in ("seconds", "delay", "retry_after"):
                v = s.get(k)
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 86400):
                    raise Bad(400, f"'{k}' must be a number of seconds (0 .. 86400)")
            v = s.get("status")
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 100 <= v <= 599):
                raise Bad(400, "'status' must be an integer HTTP status (100 .. 599)")
            v = s.get("bytes")
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise Bad(400, "'bytes' must be a non-negative integer")
            for k in ("headers",):
                if s.get(k) is not None and not isinstance(s[k], dict):
                    raise Bad(400, f"'{k}' must be an object")
            for k in ("message", "location", "body", "content_type"):
                if s.get(k) is not None and not isinstance(s[k], str):
                    raise Bad(400, f"'{k}' must be a string")
            if mode != "normal":
                q.append([dict(s), count])
        with self.lock:
            self.queue = q

    def queue_view(self):
        with self.lock:
            return [dict(p, remaining=left) for p, left in self.queue]

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry = dict(seq=self.seq, **entry)
            self.entries.append(entry)
            if self.logf:
                self.logf.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self.logf.flush()
        return entry


class Hangup(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gigavector-embedding-mock/1.0"
    timeout = 300

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("mock %s - %s\n" % (self.client_address[0], fmt % args))

    # ---------------------------------------------------------------- low level
    def send_raw(self, status, body, ctype="application/json", extra=None, length=None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (extra or {}).items():
            self.send_header(str(k), str(v))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_obj(self, status, obj, extra=None, ctype="application/json", allow_nan=False):
        self.send_raw(status, json.dumps(obj, separators=(",", ":"), allow_nan=allow_nan).encode(), ctype, extra)

    def read_body(self):
        return read_body(self, MAX_BODY, Bad)

    def client_gone(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if r:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True
        return False

    def wait(self, seconds):
        """Sleep, but give up (Hangup) as soon as the client closes its end."""
        end = time.monotonic() + max(0.0, float(seconds))
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.client_gone():
                raise Hangup()
            time.sleep(min(0.05, left))

    # ---------------------------------------------------------------- dispatch
    def handle_any(self):
        target = self.path
        path, _, query = target.partition("?")
        try:
            try:
                body = self.read_body()
            except Bad as e:
                body = None
                body_err = e
            else:
                body_err = None
            if path in CONTROL_PATHS:
                if body_err:
                    raise body_err
                return self.control(path, query, body)
            prov = provider_for(path)
            params = None
            if prov is not None and self.command == "POST" and body_err is None:
                params = self.server.state.take_mode()
            self.record(target, path, query, body, prov, params)
            if prov is None:
                return self.send_obj(404, OpenAI().error(404, f"mock: no embedding API at {path}"))
            if self.command != "POST":
                return self.send_obj(405, prov.error(405, f"method {self.command} not allowed; use POST"),
                                     {"Allow": "POST"})
            if body_err:
                return self.send_obj(body_err.status, prov.error(body_err.status, body_err.message))
            self.serve_provider(prov, params, body, parse_qs(query))
        except Hangup:
            self.close_connection = True
        except (ConnectionError, TimeoutError, BrokenPipeError):
            self.close_connection = True
        except Bad as e:
            self.send_obj(e.status, {"error": e.message})
        except Exception as e:  # never die on a request: a bug answers 500
            self.close_connection = True
            try:
                self.send_obj(500, {"error": f"mock internal error: {type(e).__name__}: {e}"})
            except Exception:
                pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = handle_any

    def do_HEAD(self):
        self.handle_any()

    def record(self, target, path, query, body, prov, params):
        hdrs = {}
        for k, v in self.headers.items():
            k = k.lower()
            hdrs[k] = f"{hdrs[k]}, {v}" if k in hdrs else v
        now = time.time()
        entry = {
            "time": now,
            "time_iso": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
            "client": f"{self.client_address[0]}:{self.client_address[1]}",
            "method": self.command, "target": target, "path": path, "query": query,
            "http_version": self.request_version,
            "headers": hdrs, "header_list": [[k, v] for k, v in self.headers.items()],
        }
        if body is None:
            entry.update(body=None, body_length=None)
        else:
            try:
                entry["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                entry["body"] = body.decode("utf-8", "replace")
                entry["body_base64"] = base64.b64encode(body).decode("ascii")
            entry["body_length"] = len(body)
        entry["provider"] = prov.name if prov else None
        entry["mode"] = params.get("mode") if params else None
        self.server.state.record(entry)

    # ---------------------------------------------------------------- control
    def control(self, path, query, body):
        st = self.server.state
        if path in ("/health", "/_health"):
            return self.send_raw(200, b"ok", "text/plain; charset=utf-8")
        if path == "/_log":
            if self.command == "DELETE":
                with st.lock:
                    st.entries = []
                return self.send_obj(200, {"ok": True})
            if self.command not in ("GET", "HEAD"):
                raise Bad(405, "use GET or DELETE on /_log")
            q = parse_qs(query)
            try:
                since = int(q.get("since", ["0"])[0])
            except ValueError:
                raise Bad(400, "since must be an integer")
            with st.lock:
                out = [e for e in st.entries if e["seq"] > since]
            return self.send_obj(200, out)
        # /_control
        if self.command in ("GET", "HEAD"):
            return self.send_obj(200, {"ok": True, "queue": st.queue_view()})
        if self.command != "POST":
            raise Bad(405, "use POST (or GET) on /_control")
        obj = jbody(body)
        if "modes" in obj:
            if not isinstance(obj["modes"], list):
                raise Bad(400, "'modes' must be an array")
            st.set_modes(obj["modes"])
        elif "mode" in obj:
            st.set_modes([obj])
        elif not obj.get("clear_log"):
            raise Bad(400, "expected {\"mode\": ...}, {\"modes\": [...]} or {\"clear_log\": true}")
        if obj.get("clear_log"):
            with st.lock:
                st.entries = []
        return self.send_obj(200, {"ok": True, "queue": st.queue_view()})

    # ---------------------------------------------------------------- providers
    def serve_provider(self, prov, p, body, query):
        mode = p.get("mode", "normal")
        extra = p.get("headers") if isinstance(p.get("headers"), dict) else {}
        ctype = p.get("content_type", "application/json")
        if p.get("delay"):
            self.wait(p["delay"])

        if mode == "slow":
            self.wait(p.get("seconds", 5))
        elif mode == "status":
            status = int(p.get("status", 500))
            msg = str(p.get("message", f"mock error (status {status})"))
            if "retry_after" in p:
                extra = dict(extra, **{"Retry-After": str(p["retry_after"])})
            return self.send_raw(status, json.dumps(prov.error(status, msg), separators=(",", ":")).encode(), ctype, extra)
        elif mode == "ratelimit":
            ra = p.get("retry_after", 1)
            if p.get("http_date"):
                ra = email.utils.formatdate(time.time() + float(ra), usegmt=True)
            msg = str(p.get("message", "mock: rate limit exceeded, retry later"))
            return self.send_raw(429, json.dumps(prov.error(429, msg), separators=(",", ":")).encode(), ctype,
                                 dict(extra, **{"Retry-After": str(ra)}))
        elif mode == "huge":
            return self.send_huge(prov, int(p.get("bytes", 200_000_000)), bool(p.get("chunked")), ctype, extra)
        elif mode == "malformed":
            b = p.get("body")
            b = b.encode() if isinstance(b, str) else prov.prefix + b"0.5,0.25,}]oops"
            return self.send_raw(200, b, ctype, extra)
        elif mode == "drop":
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", "1000")
            for k, v in extra.items():
                self.send_header(str(k), str(v))
            self.end_headers()
            self.wfile.write((prov.prefix + b" " * 10)[:10])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        elif mode == "close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        elif mode == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        elif mode == "redirect":
            status = int(p.get("status", 302))
            loc = str(p.get("location", self.path))
            return self.send_raw(status, b"", None, dict(extra, Location=loc))

        try:
            r = prov.parse(body, self.server.state.dim, query)
        except Bad as e:
            return self.send_raw(e.status, json.dumps(prov.error(e.status, e.message), separators=(",", ":")).encode(), "application/json")
        dims = [d + 1 for d in r.dims] if mode == "wrong_dims" else r.dims
        vecs = [mock_vector(t, d) for t, d in zip(r.texts, dims)]
        if mode == "wrong_count":
            vecs = vecs[:-1]
        bad = {"nan": float("nan"), "infinity": float("inf"), "null_value": None}
        if mode in bad and vecs and vecs[0]:
            vecs[0][0] = bad[mode]
        obj = prov.ok(r, vecs, reorder=(mode == "reorder" and prov.has_index))
        self.send_obj(200, obj, extra, ctype, allow_nan=True)

    def send_huge(self, prov, nbytes, chunked, ctype, extra):
        nbytes = max(0, nbytes)
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(nbytes))
        for k, v in extra.items():
            self.send_header(str(k), str(v))
        self.send_header("Connection", "close")
        self.end_headers()
        block = b"0.125," * ((1 << 20) // 6 + 1)
        block = block[: 1 << 20]
        head = prov.prefix[:nbytes]
        left = nbytes
        first = True
        while left > 0:
            if first:
                piece = head + block[: min(left, len(block)) - len(head)]
                first = False
            else:
                piece = block[: min(left, len(block))]
            left -= len(piece)
            if chunked:
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                self.wfile.write(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    ap = argparse.ArgumentParser(description="Mock embedding APIs (openai, azure, ollama, google, cohere, voyage, tei) for tests.")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--log", help="append one JSON line per received request to this file")
    ap.add_argument("--dim", type=int, default=8, help="vector dimension when a request names none (default 8)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="default 0: any free port")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    ap.add_argument("--print-vector", metavar="TEXT", help="print the vector for TEXT and exit")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM; with --tls-key)")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = ap.parse_args()
    if not 1 <= args.dim <= MAX_DIM:
        ap.error(f"--dim must be between 1 and {MAX_DIM}")
    if args.print_vector is not None:
        print("[" + ",".join(repr(x) for x in mock_vector(os.fsencode(args.print_vector), args.dim)) + "]")
        return
    if not args.port_file:
        ap.error("--port-file is required (unless --print-vector)")
    state = State(args.log, args.dim)
    try:
        server = LoopbackServer((args.host, args.port), Handler, args.verbose, state=state)
    except OSError as e:
        sys.exit(f"embedding_mock: cannot listen on {args.host}:{args.port}: {e}")
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    write_port_file(args.port_file, server.server_address[1])
    if args.verbose:
        sys.stderr.write(f"embedding_mock: listening on {args.host}:{server.server_address[1]}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
