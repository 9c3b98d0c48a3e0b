"""FAKE metrics endpoint for harness tests: serves whatever body the test sets, on any path.

Not an engine. It lets the sampler, the window machinery and a real Prometheus be tested with
exposition texts whose values the test controls (the texts come from tests/fixtures)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Exposition:
    def __init__(self, body: str = "", content_type: str = "text/plain; version=0.0.4") -> None:
        self.body = body
        self.content_type = content_type
        self.hits = 0
        self.lock = threading.Lock()

    def set(self, body: str) -> None:
        with self.lock:
            self.body = body


@contextmanager
def serving(exposition: Exposition) -> Iterator[str]:
    """Yields ``http://127.0.0.1:PORT``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with exposition.lock:
                body = exposition.body.encode()
                exposition.hits += 1
            self.send_response(200)
            self.send_header("Content-Type", exposition.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
