#!/usr/bin/env python3
"""GigaVector demo embedding server: an OpenAI-compatible /v1/embeddings endpoint
backed by a real (if small) local model, for loopback use by gigavector.embed().

The model ("glove-100-mean") embeds a text as the L2-normalised mean of the GloVe
word vectors (../shared/data/glove-100: 100,000 words x 100 dimensions) of its words.
Standard library only (python3 from Debian); no numpy, no network access needed.

Run (from the repository root):

    python3 scripts/embedding_server.py --data ../shared/data/glove-100
    python3 scripts/embedding_server.py --data ../shared/data/glove-100 --port 0 --port-file /tmp/gv.port

  --data DIR       directory holding base.fvecs and base_words.txt
                   (default: <repo>/../shared/data/glove-100)
  --host H         address to bind (default 127.0.0.1; an IPv6 address such as ::1 works too)
  --port P         port (default 8765); 0 binds any free port
  --port-file F    write the bound port (and a newline) to F once listening (atomic rename)
  --verbose        log every request to stderr (default: only the start-up line)

Then, e.g.:

    curl -s http://127.0.0.1:8765/v1/embeddings -H 'Content-Type: application/json' \\
         -d '{"model":"glove-100-mean","input":["the king and the queen","paris"]}'
    SELECT gigavector.embed('the king and the queen');   -- with the OpenAI provider
                                                          -- pointed at http://127.0.0.1:8765/v1

Endpoints:
  POST /v1/embeddings  {"model": str?, "input": str | [str], "dimensions": 100?,
                        "encoding_format": "float" | "base64"?, "user": str?}
      -> 200 {"object": "list", "data": [{"object": "embedding", "index": i,
              "embedding": [100 floats]}, ...], "model": model,
              "usage": {"prompt_tokens": n, "total_tokens": n}}
  GET  /v1/models, GET /v1/models/<id>   (OpenAI's list/retrieve shape)
  GET  /health -> 200 "ok"
Errors use OpenAI's shape {"error": {"message", "type": "invalid_request_error",
"param", "code"}}: 400 bad JSON / missing or empty input / an input without any known
word (the message names the input's index) / "dimensions" other than 100 / unknown
"encoding_format"; 404 unknown path; 405 wrong method; 413 body over 16 MiB or more
than 2048 inputs.

Embedding of one input (deterministic):
  tokens = runs of letters, digits and apostrophes of text.lower()
           (regex (?:[^\\W_]|')+ , Unicode-aware);
  a token not in the vocabulary is looked up once more without surrounding apostrophes
  and without a trailing possessive 's ("'king's'" -> "king"); still unknown: skipped;
  v = sum of the known words' vectors (float64, in token order) / count;
  v = v / ||v||_2, then each component is rounded to float32 and written with repr(),
  so the JSON holds exact float32 values that gvector reads back bit for bit.
usage.prompt_tokens counts all tokens (known or not).
"""

import argparse
import array
import base64
import json
import math
import os
import re
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler

from loopback_http import LoopbackServer, read_body, write_port_file

MODEL_NAME = "glove-100-mean"
MAX_BODY = 16 * 1024 * 1024
MAX_INPUTS = 2048
TOKEN_RE = re.compile(r"(?:[^\W_]|')+")


class ApiError(Exception):
    def __init__(self, status, message, param=None, etype="invalid_request_error", code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.etype = etype
        self.code = code


class GloveModel:
    """Word vectors in one flat array('f'); vocabulary word -> row."""

    def __init__(self, data_dir):
        fvecs = os.path.join(data_dir, "base.fvecs")
        words_path = os.path.join(data_dir, "base_words.txt")
        with open(fvecs, "rb") as f:
            raw = f.read()
        if len(raw) < 4:
            raise ValueError(f"{fvecs}: empty file")
        ints = array.array("i")
        ints.frombytes(raw[: len(raw) - len(raw) % 4])
        if sys.byteorder == "big":
            ints.byteswap()
        dim = ints[0]
        if dim <= 0 or dim > 65535:
            raise ValueError(f"{fvecs}: bad dimension {dim}")
        rec = dim + 1
        if len(raw) % (4 * rec):
            raise ValueError(f"{fvecs}: size {len(raw)} is not a multiple of {4 * rec}")
        n = len(raw) // (4 * rec)
        if ints[::rec].count(dim) != n:
            raise ValueError(f"{fvecs}: vectors of differing dimension")
        del ints
        allf = array.array("f")
        allf.frombytes(raw)
        del raw
        if sys.byteorder == "big":
            allf.byteswap()
        # Drop the int32 dimension headers: keep rows as one contiguous float array.
        flat = array.array("f")
        mv = memoryview(allf)
        for i in range(n):
            base = i * rec + 1
            flat.frombytes(mv[base : base + dim].tobytes())
        mv.release()
        del allf
        with open(words_path, encoding="utf-8") as f:
            words = f.read().split("\n")
        if words and words[-1] == "":
            words.pop()
        if len(words) != n:
            raise ValueError(f"{words_path}: {len(words)} words for {n} vectors")
        vocab = {}
        for i, w in enumerate(words):
            w = w.rstrip("\r")
            if w not in vocab:
                vocab[w] = i
        self.dim = dim
        self.rows = n
        self.flat = flat
        self.vocab = vocab

    def lookup(self, token):
        row = self.vocab.get(token)
        if row is not None:
            return row
        t = token.strip("'")
        if t.endswith("'s"):
            t = t[:-2].rstrip("'")
        if t and t != token:
            return self.vocab.get(t)
        return None

    def embed(self, text):
        """Returns (list of float32-exact floats or None if no known word, token count)."""
        tokens = TOKEN_RE.findall(text.lower())
        dim = self.dim
        flat = self.flat
        acc = [0.0] * dim
        known = 0
        for tok in tokens:
            row = self.lookup(tok)
            if row is None:
                continue
            off = row * dim
            acc = list(map(float.__add__, acc, flat[off : off + dim]))
            known += 1
        if known == 0:
            return None, len(tokens)
        mean = [x / known for x in acc]
        norm = math.sqrt(math.fsum(x * x for x in mean))
        if norm == 0.0 or not math.isfinite(norm):
            return None, len(tokens)
        return array.array("f", [x / norm for x in mean]).tolist(), len(tokens)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gigavector-embedding-server/1.0"
    timeout = 120  # idle keep-alive connections are closed after this many seconds

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s - [%s] %s\n" % (self.client_address[0], self.log_date_time_string(), fmt % args))

    # ---------------------------------------------------------------- replies
    def send_bytes(self, status, body, ctype, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
        self.send_bytes(status, body, "application/json", extra)

    def send_api_error(self, err):
        self.send_json(
            err.status,
            {"error": {"message": err.message, "type": err.etype, "param": err.param, "code": err.code}},
            {"Allow": "GET, POST"} if err.status == 405 else None,
        )

    # ---------------------------------------------------------------- request body
    def read_body(self):
        return read_body(self, MAX_BODY, ApiError)

    # ---------------------------------------------------------------- dispatch
    def route(self):
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def dispatch(self, method):
        try:
            path = self.route()
            # Always consume any body so a keep-alive connection stays in sync.
            body = self.read_body()
            if path in ("/v1/embeddings", "/embeddings"):
                if method != "POST":
                    raise ApiError(405, f"method {method} not allowed on {path}: use POST")
                self.embeddings(body)
            elif path in ("/health", "/healthz"):
                if method == "POST":
                    raise ApiError(405, f"method {method} not allowed on {path}: use GET")
                self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
            elif path in ("/v1/models", "/models"):
                if method == "POST":
                    raise ApiError(405, f"method {method} not allowed on {path}: use GET")
                self.send_json(200, {"object": "list", "data": [self.model_obj()]})
            elif path.startswith("/v1/models/"):
                if method == "POST":
                    raise ApiError(405, f"method {method} not allowed on {path}: use GET")
                self.send_json(200, self.model_obj(path[len("/v1/models/"):]))
            else:
                raise ApiError(404, f"unknown path {path}: use POST /v1/embeddings", code="not_found")
        except ApiError as e:
            self.send_api_error(e)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # a bug: answer rather than drop the connection
            self.close_connection = True
            try:
                self.send_api_error(ApiError(500, f"internal error: {type(e).__name__}: {e}", etype="server_error"))
            except Exception:
                pass

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def model_obj(self, name=MODEL_NAME):
        return {"id": name, "object": "model", "created": int(self.server.started), "owned_by": "gigavector"}

    # ---------------------------------------------------------------- /v1/embeddings
    def embeddings(self, body):
        model = self.server.model
        try:
            req = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ApiError(400, f"request body is not valid JSON: {e}")
        if not isinstance(req, dict):
            raise ApiError(400, "request body must be a JSON object")
        name = req.get("model")
        if name is None or name == "":
            name = MODEL_NAME
        elif not isinstance(name, str):
            raise ApiError(400, "'model' must be a string", param="model")
        inputs = req.get("input")
        if inputs is None:
            raise ApiError(400, "missing 'input': a string or an array of strings", param="input")
        if isinstance(inputs, str):
            inputs = [inputs]
        elif not isinstance(inputs, list):
            raise ApiError(400, "'input' must be a string or an array of strings", param="input")
        if not inputs:
            raise ApiError(400, "'input' is an empty array", param="input")
        if len(inputs) > MAX_INPUTS:
            raise ApiError(413, f"too many inputs: {len(inputs)} > {MAX_INPUTS}", param="input")
        dims = req.get("dimensions")
        if dims is not None:
            if isinstance(dims, bool) or not isinstance(dims, (int, float)) or dims != int(dims):
                raise ApiError(400, "'dimensions' must be an integer", param="dimensions")
            if int(dims) != model.dim:
                raise ApiError(
                    400, f"model {name} produces {model.dim} dimensions; 'dimensions' = {int(dims)} is not supported",
                    param="dimensions")
        fmt = req.get("encoding_format")
        if fmt is None:
            fmt = "float"
        if fmt not in ("float", "base64"):
            raise ApiError(400, f"'encoding_format' must be \"float\" or \"base64\", not {json.dumps(fmt)}",
                           param="encoding_format")
        data, ntok = [], 0
        for i, text in enumerate(inputs):
            if not isinstance(text, str):
                raise ApiError(400, f"input[{i}] is not a string (token arrays are not supported)", param="input")
            if not text.strip():
                raise ApiError(400, f"input[{i}] is empty", param="input")
            vec, n = model.embed(text)
            ntok += n
            if vec is None:
                raise ApiError(400, f"input[{i}] has no word known to {MODEL_NAME}: {text[:80]!r}", param="input")
            if fmt == "base64":
                a = array.array("f", vec)
                if sys.byteorder == "big":
                    a.byteswap()
                vec = base64.b64encode(a.tobytes()).decode("ascii")
            data.append({"object": "embedding", "index": i, "embedding": vec})
        self.send_json(200, {"object": "list", "data": data, "model": name,
                             "usage": {"prompt_tokens": ntok, "total_tokens": ntok}})


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description="OpenAI-compatible embedding server over GloVe-100 (mean of word vectors).")
    ap.add_argument("--data", default=os.path.join(repo, "..", "shared", "data", "glove-100"),
                    help="directory with base.fvecs and base_words.txt")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765, help="0 = any free port")
    ap.add_argument("--port-file", help="write the bound port to this file once listening")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args()

    t0 = time.monotonic()
    try:
        model = GloveModel(args.data)
    except (OSError, ValueError) as e:
        sys.exit(f"embedding_server: cannot load model from {args.data}: {e}")
    t_load = time.monotonic() - t0
    try:
        server = LoopbackServer((args.host, args.port), Handler, args.verbose, model=model)
    except OSError as e:
        sys.exit(f"embedding_server: cannot listen on {args.host}:{args.port}: {e}")
    server.started = time.time()
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    sys.stderr.write(f"embedding_server: {MODEL_NAME}: {model.rows} words x {model.dim} dims loaded in "
                     f"{t_load:.2f}s; listening on http://{host}:{port}/v1/embeddings\n")
    sys.stderr.flush()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
