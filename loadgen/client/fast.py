"""The ``fast`` transport: one keep-alive gevent socket per user, geventhttpclient's C HTTP parser
(the stack of Locust's ``FastHttpUser``), and every SSE line stamped at the socket read that
delivered it.

``requests`` stamps a line when Python gets round to yielding it (after urllib3's chunk decoding
and ``iter_lines`` splitting) and starts the clock before it has prepared the request. Here the
body is serialized first, the clock starts just before the socket is used, and the time is taken
right after ``recv`` returns, so every line of that read carries the same arrival stamp whatever
the parsing after it costs. Same record, same error kinds as ``stream.send_completion``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import gevent.socket
from geventhttpclient.response import HTTPParseError, HTTPResponse

from loadgen.client.record import RequestRecord
from loadgen.client.sse import StreamError
from loadgen.client.stream import Clock, consume_stamped

BLOCK_SIZE = 64 * 1024


class ConnectionClosed(ConnectionError):
    """The server closed the connection before the response ended."""


class _Response(HTTPResponse):
    def take_body(self) -> bytes:
        body = bytes(self._body_buffer)
        del self._body_buffer[:]
        return body


class FastConnection:
    """One HTTP/1.1 keep-alive connection, opened on first use and reopened when the server
    closed it. Plain ``http://`` only: use the ``requests`` transport for TLS."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.headers = headers or {}  # sent with every request (the server's API key)
        self._sock: Any = None
        self._peer: tuple[str, int] | None = None

    def socket_for(self, host: str, port: int, timeout_s: float) -> tuple[Any, bool]:
        """The socket to (host, port) and whether it was already open (a reused connection)."""
        if self._sock is not None and self._peer == (host, port):
            self._sock.settimeout(timeout_s)
            return self._sock, True
        self.close()
        sock = connect(host, port, timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._peer = sock, (host, port)
        return sock, False

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = self._peer = None


def connect(host: str, port: int, timeout_s: float) -> Any:
    """A numeric address skips the resolver: gevent's first look-up in a process starts its
    thread pool (~25 ms here), which would land in the first requests' TTFT."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        socket.inet_pton(family, host)
    except OSError:
        return gevent.socket.create_connection((host, port), timeout=timeout_s)
    sock = gevent.socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def request_bytes(url: str, body: dict[str, Any], headers: dict[str, str] | None) -> bytes:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"the fast transport speaks plain http only, not {url!r}: use requests")
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        "Accept: text/event-stream",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def read_response(sock: Any, clock: Clock) -> tuple[_Response, int, Iterator[tuple[int, bytes]]]:
    """Read up to the end of the headers; return the parser, the headers' stamp and the body as
    stamped lines (each stamped at the ``recv`` that completed it)."""
    parser = _Response(method="POST")
    now = 0
    while not parser.headers_complete:
        data = sock.recv(BLOCK_SIZE)
        now = clock()
        if not data:
            raise ConnectionClosed("connection closed before the response headers")
        parser.feed(data)
    return parser, now, _stamped_lines(sock, parser, now, clock)


def _stamped_lines(
    sock: Any, parser: _Response, now: int, clock: Clock
) -> Iterator[tuple[int, bytes]]:
    pending = parser.take_body()
    while True:
        *lines, rest = pending.split(b"\n")
        for line in lines:
            yield now, line
        if parser.message_complete:
            if rest:
                yield now, rest
            return
        data = sock.recv(BLOCK_SIZE)
        now = clock()
        if not data:
            raise ConnectionClosed("connection closed mid-stream")
        parser.feed(data)
        pending = rest + parser.take_body()


def send_completion_fast(
    conn: FastConnection,
    url: str,
    body: dict[str, Any],
    record: RequestRecord,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    clock: Clock = time.perf_counter_ns,
) -> RequestRecord:
    """Run the request to its end; failures land in ``record.error_kind``, never as exceptions."""
    try:
        request = request_bytes(url, body, {**conn.headers, **(headers or {})})
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        record.send_ns = clock()
        for attempt in (0, 1):  # a reused connection the server closed while idle: once more
            sock, reused = conn.socket_for(host, port, timeout_s)
            try:
                sock.sendall(request)
                parser, record.headers_ns, lines = read_response(sock, clock)
                break
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                conn.close()
                if not reused or attempt:
                    raise
        record.http_status = parser.get_code()
        if record.http_status != 200:
            record.error_kind = f"http_{record.http_status}"
            record.error = b"".join(line for _, line in lines).decode(errors="replace")[:300]
        else:
            consume_stamped(lines, record)
            for _ in lines:  # read to the end of the response (untimed): keep the connection
                pass
            if record.output_tokens < record.max_tokens:
                record.error_kind = "short_output"
                record.error = f"{record.output_tokens} of {record.max_tokens} tokens"
        if parser.should_close():
            conn.close()
    except StreamError as exc:
        conn.close()
        record.error_kind, record.error = exc.kind, str(exc)
    except HTTPParseError as exc:
        conn.close()
        kind = "truncated" if record.headers_ns else "connection"
        record.error_kind, record.error = kind, f"bad HTTP response: {exc}"[:300]
    except TimeoutError as exc:  # the same kinds as the requests transport (docs/RELIABILITY.md)
        conn.close()
        kind = "stalled" if record.headers_ns else "timeout"
        record.error_kind, record.error = kind, str(exc)[:300] or "timed out"
    except OSError as exc:
        conn.close()
        kind = "truncated" if record.headers_ns else "connection"
        record.error_kind, record.error = kind, str(exc)[:300]
    except ValueError as exc:
        record.error_kind, record.error = "request", str(exc)[:300]
    if not record.end_ns:
        record.end_ns = clock()
    return record
