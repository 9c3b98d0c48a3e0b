"""The ``fast`` transport: one keep-alive gevent socket per user, geventhttpclient's C HTTP parser
(the stack of Locust's ``FastHttpUser``), and every SSE line stamped with the arrival of the
socket read that delivered it.

``requests`` stamps a line when Python gets round to yielding it (after urllib3's chunk decoding
and ``iter_lines`` splitting) and starts the clock before it has prepared the request. Here the
body is serialized first, the clock starts just before the request is written to an open
connection (a user's connection is opened once, before its first request's clock), and every
line of a read carries that read's arrival stamp whatever the parsing after it costs. On Linux
the arrival is the kernel's receive time of the read's data (``SO_TIMESTAMPNS``), so a client
busy with other streams that reads a socket late still stamps when the bytes came, not when it
got to them. When several packets waited, the kernel has merged them and keeps the latest one's
time: lines that came earlier carry that later time (never later than the read itself). Same
record, same error kinds (``client.response``) as the ``requests`` transport.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import gevent.monkey
import gevent.socket
from geventhttpclient.response import HTTPParseError, HTTPResponse

from loadgen.client.record import RequestRecord
from loadgen.client.response import (
    DRAIN_TIMEOUT_S,
    Clock,
    Failure,
    LineObserver,
    Stamped,
    fail,
    http_failure,
    read_stream,
)
from loadgen.client.sse import StreamError

BLOCK_SIZE = 64 * 1024
# Linux's SO_TIMESTAMPNS (not in Python's socket module): each read carries a ``struct timespec``
# of CLOCK_REALTIME, the time the kernel received the read's (last) data.
SO_TIMESTAMPNS = 35
KERNEL_STAMPS = sys.platform == "linux"
_TIMESPEC = struct.Struct("@qq")
ANCILLARY_SIZE = socket.CMSG_SPACE(_TIMESPEC.size)


_POLL = gevent.monkey.get_original("select", "poll")


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
        self.kernel_stamps = False  # this socket's reads carry the kernel's receive time
        self._sock: Any = None
        self._peer: tuple[str, int] | None = None

    def socket_for(self, host: str, port: int, timeout_s: float) -> Any:
        """The open socket to (host, port): the kept one unless the server closed it while it
        was idle (its keep-alive timeout), else a new one. Checked before the request is sent,
        as urllib3 does: once sent, a request is never sent again (a retry changes the load)."""
        if self._sock is not None and self._peer == (host, port) and not _dropped(self._sock):
            self._sock.settimeout(timeout_s)
            return self._sock
        self.close()
        sock = connect(host, port, timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.kernel_stamps = KERNEL_STAMPS and enable_kernel_stamps(sock)
        self._sock, self._peer = sock, (host, port)
        return sock

    def send(
        self,
        url: str,
        body: dict[str, Any],
        record: RequestRecord,
        timeout_s: float,
        observe: LineObserver | None = None,
    ) -> RequestRecord:
        """This connection as a transport (``client.transport.Transport``)."""
        return send_completion_fast(self, url, body, record, timeout_s, observe=observe)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = self._peer = None


def _dropped(sock: Any) -> bool:
    """An idle keep-alive socket that is readable has been closed by the server (or holds
    bytes nobody asked for): either way it can't carry the next request."""
    poller = _POLL()  # the system's poll, not gevent's: a look without waiting, any fd number
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def enable_kernel_stamps(sock: Any) -> bool:
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


class KernelStampKeeper:
    """Linux stamps received packets only while some socket asks, and turns that on a moment
    after the first one does: a socket asking for the whole run keeps the first responses
    stamped too. The caller owns it for the run (one per process is enough) and closes it."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        if KERNEL_STAMPS:
            keeper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if enable_kernel_stamps(keeper):
                self._sock = keeper
            else:
                keeper.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class StampedReader:
    """Reads of one socket, each with its arrival time on ``perf_counter_ns``'s clock: the
    kernel's receive time when the socket has kernel stamps, else the time the read returned."""

    def __init__(self, sock: Any, kernel_stamps: bool, clock: Clock = time.perf_counter_ns) -> None:
        self.sock, self.kernel_stamps, self.clock = sock, kernel_stamps, clock

    def read(self) -> tuple[bytes, int]:
        if not self.kernel_stamps:
            data = self.sock.recv(BLOCK_SIZE)
            return data, self.clock()
        data, ancillary, _, _ = self.sock.recvmsg(BLOCK_SIZE, ANCILLARY_SIZE)
        return data, arrival_ns(ancillary, self.clock())


def arrival_ns(ancillary: list[tuple[int, int, bytes]], now_ns: int) -> int:
    """The kernel's receive time of a ``recvmsg`` (its SO_TIMESTAMPNS, CLOCK_REALTIME) on the
    monotonic clock of ``now_ns``, the time the read returned (never later than that); ``now_ns``
    when there is none (e.g. the end of a stream: no data, no stamp)."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            received: int = seconds * 1_000_000_000 + nanoseconds - _wall_minus_monotonic()
            return min(now_ns, received)
    return now_ns


def _wall_minus_monotonic() -> int:
    """CLOCK_REALTIME minus CLOCK_MONOTONIC, from two monotonic reads around a wall read: if the
    process was paused between the reads, that pause would shift every stamp, so the closest
    pair of a few tries is used."""
    best_gap, offset = -1, 0
    for _ in range(4):
        before = time.perf_counter_ns()
        wall = time.time_ns()
        after = time.perf_counter_ns()
        if best_gap < 0 or after - before < best_gap:
            best_gap, offset = after - before, wall - (before + after) // 2
        if best_gap < 5_000:  # 5 µs: no pause in between
            break
    return offset


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
        f"Host: {parts.netloc.rpartition('@')[2]}",  # never userinfo (loadgen.urls refuses it)
        "Content-Type: application/json",
        "Accept: text/event-stream",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def read_response(reader: StampedReader) -> tuple[_Response, int, Stamped]:
    """Read up to the end of the headers; return the parser, the headers' stamp and the body as
    stamped lines (each stamped with the arrival of the read that completed it)."""
    parser = _Response(method="POST")
    now = 0
    while not parser.headers_complete:
        data, now = reader.read()
        if not data:
            raise ConnectionClosed("connection closed before the response headers")
        parser.feed(data)
    return parser, now, _stamped_lines(reader, parser, now)


def _stamped_lines(reader: StampedReader, parser: _Response, now: int) -> Stamped:
    pending = parser.take_body()
    while True:
        *lines, rest = pending.split(b"\n")
        for line in lines:
            yield now, line
        if parser.message_complete:
            if rest:
                yield now, rest
            return
        data, now = reader.read()
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
    observe: LineObserver | None = None,
) -> RequestRecord:
    """Run the request to its end; failures land in ``record.error_kind``, never as exceptions."""
    clock = time.perf_counter_ns  # kernel receive stamps are converted onto this clock
    try:
        request = request_bytes(url, body, {**conn.headers, **(headers or {})})
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        record.send_ns = clock()  # stamped again once connected; kept if connecting fails
        sock = conn.socket_for(host, port, timeout_s)
        # The clock starts on an open connection: a user's connection is set up once and kept,
        # and a connect yields to the other streams, whose work would land in this TTFT.
        record.send_ns = clock()
        sock.sendall(request)
        parser, record.headers_ns, lines = read_response(StampedReader(sock, conn.kernel_stamps))
        record.http_status = parser.get_code()
        if record.http_status != 200:
            text = b"".join(line for _, line in lines).decode(errors="replace")
            retry_after = parser.get("Retry-After")
            http_failure(record, record.http_status, text, _one(retry_after))
        else:
            read_stream(lines, record, observe)
            if not _drained(sock, lines):
                conn.close()
        if parser.should_close():
            conn.close()
    except StreamError as exc:
        conn.close()
        record.error_kind, record.error = exc.kind, str(exc)
    except HTTPParseError as exc:
        conn.close()
        fail(record, Failure.BROKEN, f"bad HTTP response: {exc}"[:300])
    except TimeoutError as exc:
        conn.close()
        fail(record, Failure.TIMEOUT, str(exc)[:300] or "timed out")
    except OSError as exc:
        conn.close()
        fail(record, Failure.BROKEN, str(exc)[:300])
    except ValueError as exc:  # a URL this transport cannot speak to: nothing was sent
        record.error_kind, record.error = "request", str(exc)[:300]
    if not record.end_ns:
        record.end_ns = clock()
    return record


def _drained(sock: Any, lines: Stamped) -> bool:
    """After ``[DONE]``: read the body's end so the connection can carry the next request; False
    when it did not come within ``DRAIN_TIMEOUT_S`` or broke (the record is complete anyway)."""
    sock.settimeout(DRAIN_TIMEOUT_S)
    try:
        for _ in lines:
            pass
    except (OSError, HTTPParseError):
        return False
    return True


def _one(value: str | list[str] | None) -> str | None:
    """A header's value (geventhttpclient gives a list when the header came several times)."""
    return value[-1] if isinstance(value, list) else value
