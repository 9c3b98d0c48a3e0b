"""FAKE ENGINE for the harness benchmark: a deterministic asyncio streaming server, own process.

``python -m tests.fakes.async_streaming_server --port P --ttft-ms 50 --step-ms 10``

Every ``/v1/completions`` stream is scheduled on an absolute clock from the moment the request
body arrived: the first chunk (1 token) at ``ttft``, then ``tokens-per-chunk`` tokens every
``step`` until ``max_tokens``, with vLLM's wire format (``continuous_usage_stats``). So the true
TTFT, chunk gap and per-token ITL are known; the server measures its own lateness against that
schedule (``GET /stats``) so a benchmark can tell harness error from server overload. It also
logs, per request, when the body arrived and when each chunk was handed to the kernel
(``GET /log``, ``CLOCK_MONOTONIC`` ns: the same clock as ``perf_counter_ns`` in every process on the
machine), so a tool's stamp can be compared with the server's actual send, not only the nominal
schedule. Requests are keyed by ``X-Request-ID`` (AIPerf sends one), else by the first prompt token;
the first chunk's text starts with ``r<n>`` (the server's request number) for tools that save
texts. One event loop, raw asyncio: hundreds of concurrent streams, no thread per connection.

A request's arrival is the kernel's receive time of the read that completed it (SO_TIMESTAMPNS,
as the harness's fast transport reads), and its schedule starts there: when a herd of requests
lands at once, this one Python loop reads them one after another, and that intake is the
server's time (it shows as lateness), not the client's error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from loadgen.client.fast import ANCILLARY_SIZE, arrival_ns, enable_kernel_stamps


class Schedule:
    def __init__(self, ttft_s: float, step_s: float, tokens_per_chunk: int) -> None:
        self.ttft_s, self.step_s, self.k = ttft_s, step_s, tokens_per_chunk
        self.lateness_ms: list[float] = []
        self.requests = 0
        self.chunks = 0
        self.first_start = self.last_chunk = 0.0
        self.log: list[dict[str, Any]] = []  # per request: keys, arrive_ns, sent_ns per chunk

    def reset(self) -> None:
        self.lateness_ms.clear()
        self.log.clear()
        self.requests = self.chunks = 0
        self.first_start = self.last_chunk = 0.0

    def stats(self) -> dict[str, float | int]:
        late = np.asarray(self.lateness_ms or [0.0])
        return {
            "requests": self.requests,
            "chunks": self.chunks,
            "lateness_p50_ms": float(np.percentile(late, 50)),
            "lateness_p99_ms": float(np.percentile(late, 99)),
            "lateness_max_ms": float(late.max()),
            "busy_s": max(0.0, self.last_chunk - self.first_start),
            "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),  # since start: diff it
        }


Request = tuple[str, str, bytes, dict[str, str]]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Connection:
    """One client connection on raw non-blocking socket calls, so that every read keeps the
    kernel's receive time (asyncio's streams drop it)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.loop = sock, asyncio.get_running_loop()
        self.buffer = b""
        self.stamp = 0  # arrival of the last read

    async def _fill(self) -> None:
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(65536, ANCILLARY_SIZE)
                break
            except BlockingIOError:
                readable = self.loop.create_future()
                fd = self.sock.fileno()
                self.loop.add_reader(fd, _wake, readable)
                try:
                    await readable
                finally:
                    self.loop.remove_reader(fd)
        if not data:
            raise ConnectionError("closed by the client")
        self.buffer += data
        self.stamp = arrival_ns(ancillary, time.perf_counter_ns())

    async def read_request(self) -> tuple[Request, int]:
        """The next request and the arrival of the read that completed it."""
        while b"\r\n\r\n" not in self.buffer:
            await self._fill()
        end = self.buffer.index(b"\r\n\r\n") + 4
        lines = self.buffer[: end - 4].decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        while len(self.buffer) < end + length:
            await self._fill()
        body, self.buffer = self.buffer[end : end + length], self.buffer[end + length :]
        return (method, path, body, headers), self.stamp

    async def write(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)


def plain(status: str, body: bytes, ctype: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def stream(
    conn: Connection, request: dict[str, Any], sched: Schedule, request_id: str, arrive_ns: int
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time() - (time.perf_counter_ns() - arrive_ns) / 1e9  # the same monotonic clock
    prompt = request.get("prompt") or []
    sent_ns: list[int] = []
    sched.log.append(
        {
            "request_id": request_id,
            "number": sched.requests,
            "prompt0": prompt[0] if isinstance(prompt, list) and prompt else None,
            "arrive_ns": arrive_ns,
            "sent_ns": sent_ns,
        }
    )
    tag = f"r{sched.requests}"
    sched.requests += 1
    sched.first_start = sched.first_start or start
    await conn.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    max_tokens, prompt_len = int(request["max_tokens"]), len(request.get("prompt") or [])
    sent, step = 0, 0
    while sent < max_tokens:
        n = 1 if sent == 0 else min(sched.k, max_tokens - sent)
        target = start + sched.ttft_s + step * sched.step_s
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent += n
        event: dict[str, Any] = {
            "id": "cmpl-fake",
            "object": "text_completion",
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "text": (tag if step == 0 else "") + " x" * n}],
            "usage": {
                "prompt_tokens": prompt_len,
                "completion_tokens": sent,
                "total_tokens": prompt_len + sent,
            },
        }
        event["choices"][0]["finish_reason"] = "length" if sent >= max_tokens else None
        await conn.write(chunk(b"data: " + json.dumps(event).encode() + b"\n\n"))
        sent_ns.append(time.perf_counter_ns())  # in the kernel's send buffer
        sched.lateness_ms.append((loop.time() - target) * 1000)
        sched.chunks += 1
        sched.last_chunk = loop.time()
        step += 1
    final = {"choices": [], "usage": {"prompt_tokens": prompt_len, "completion_tokens": sent}}
    await conn.write(
        chunk(b"data: " + json.dumps(final).encode() + b"\n\n")
        + chunk(b"data: [DONE]\n\n")
        + b"0\r\n\r\n"
    )


Handler = Callable[[Connection], Awaitable[None]]


def handler(sched: Schedule, model: str) -> Handler:
    async def handle(conn: Connection) -> None:
        try:
            while True:
                (method, path, body, headers), arrive_ns = await conn.read_request()
                if method == "POST" and path.startswith("/v1/completions"):
                    request_id = headers.get("x-request-id", "")
                    await stream(conn, json.loads(body), sched, request_id, arrive_ns)
                    continue
                if path.startswith("/v1/models"):
                    out = {"object": "list", "data": [{"id": model, "object": "model"}]}
                    await conn.write(plain("200 OK", json.dumps(out).encode()))
                elif path.startswith("/log"):
                    await conn.write(plain("200 OK", json.dumps(sched.log).encode()))
                elif path.startswith("/stats"):
                    await conn.write(plain("200 OK", json.dumps(sched.stats()).encode()))
                    if method == "POST":  # POST /stats: read and reset
                        sched.reset()
                elif path.startswith("/health"):
                    await conn.write(plain("200 OK", b""))
                else:
                    await conn.write(plain("404 Not Found", b"{}"))
        except ConnectionError:
            pass
        finally:
            conn.sock.close()

    return handle


async def serve(port: int, sched: Schedule, model: str) -> None:
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    enable_kernel_stamps(listener)  # accepted connections inherit it
    listener.bind(("127.0.0.1", port))
    listener.listen(2048)
    listener.setblocking(False)
    handle, tasks = handler(sched, model), set()
    while True:
        sock, _ = await loop.sock_accept(listener)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = loop.create_task(handle(Connection(sock)))
        tasks.add(task)  # keep a reference until it ends
        task.add_done_callback(tasks.discard)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--step-ms", type=float, default=10.0)
    parser.add_argument("--tokens-per-chunk", type=int, default=3)
    parser.add_argument("--model", default="fake")
    args = parser.parse_args()
    sched = Schedule(args.ttft_ms / 1000, args.step_ms / 1000, args.tokens_per_chunk)
    asyncio.run(serve(args.port, sched, args.model))


if __name__ == "__main__":
    main()
