"""What the project's two loopback HTTP servers share (standard library only):
scripts/embedding_server.py, the demo's embedding API, and
test/scripts/embedding_mock.py, the tests' misbehaving providers.

    LoopbackServer(addr, handler, verbose, **attrs)  threaded, IPv6-aware, quiet
                                                     unless verbose; attrs become
                                                     attributes the handler reads
    read_body(handler, max_body, error)              a request's body, chunked or by
                                                     Content-Length, at most max_body
                                                     bytes; error(status, message)
                                                     makes the exception to raise
    write_port_file(path, port)                      the bound port, written atomically
"""
import os
import socket
from http.server import ThreadingHTTPServer


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, verbose, **attrs):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.verbose = verbose
        for name, value in attrs.items():
            setattr(self, name, value)
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        # clients that hang up are the normal case in tests: say nothing
        if self.verbose:
            super().handle_error(request, client_address)


def read_body(handler, max_body, error):
    te = (handler.headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        chunks, total = [], 0
        while True:
            line = handler.rfile.readline(1024)
            if not line:
                handler.close_connection = True
                raise error(400, "truncated chunked body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                handler.close_connection = True
                raise error(400, "bad chunk size in chunked body")
            if size == 0:
                while handler.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > max_body:
                handler.close_connection = True
                raise error(413, f"request body larger than {max_body} bytes")
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline(1024)
    cl = handler.headers.get("Content-Length")
    if cl is None:
        return b""
    try:
        n = int(cl)
        if n < 0:
            raise ValueError
    except ValueError:
        handler.close_connection = True
        raise error(400, "bad Content-Length")
    if n > max_body:
        handler.close_connection = True
        raise error(413, f"request body larger than {max_body} bytes")
    body = handler.rfile.read(n)
    if len(body) != n:
        handler.close_connection = True
        raise error(400, "truncated request body")
    return body


def write_port_file(path, port):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)
