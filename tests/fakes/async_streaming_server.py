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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np


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


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", 0))
    body = await reader.readexactly(length) if length else b""
    return method, path, body, headers


def plain(status: str, body: bytes, ctype: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def stream(
    writer: asyncio.StreamWriter, request: dict[str, Any], sched: Schedule, request_id: str
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    prompt = request.get("prompt") or []
    sent_ns: list[int] = []
    sched.log.append(
        {
            "request_id": request_id,
            "number": sched.requests,
            "prompt0": prompt[0] if isinstance(prompt, list) and prompt else None,
            "arrive_ns": time.perf_counter_ns(),
            "sent_ns": sent_ns,
        }
    )
    tag = f"r{sched.requests}"
    sched.requests += 1
    sched.first_start = sched.first_start or start
    writer.write(
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
        writer.write(chunk(b"data: " + json.dumps(event).encode() + b"\n\n"))
        sent_ns.append(time.perf_counter_ns())  # in the kernel's send buffer (or queued: see drain)
        sched.lateness_ms.append((loop.time() - target) * 1000)
        sched.chunks += 1
        sched.last_chunk = loop.time()
        step += 1
        await writer.drain()
    final = {"choices": [], "usage": {"prompt_tokens": prompt_len, "completion_tokens": sent}}
    writer.write(chunk(b"data: " + json.dumps(final).encode() + b"\n\n"))
    writer.write(chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    await writer.drain()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def handler(sched: Schedule, model: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                method, path, body, headers = request
                if method == "POST" and path.startswith("/v1/completions"):
                    await stream(writer, json.loads(body), sched, headers.get("x-request-id", ""))
                    continue
                if path.startswith("/v1/models"):
                    out = {"object": "list", "data": [{"id": model, "object": "model"}]}
                    writer.write(plain("200 OK", json.dumps(out).encode()))
                elif path.startswith("/log"):
                    writer.write(plain("200 OK", json.dumps(sched.log).encode()))
                elif path.startswith("/stats"):
                    writer.write(plain("200 OK", json.dumps(sched.stats()).encode()))
                    if method == "POST":  # POST /stats: read and reset
                        sched.reset()
                elif path.startswith("/health"):
                    writer.write(plain("200 OK", b""))
                else:
                    writer.write(plain("404 Not Found", b"{}"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return handle


async def serve(port: int, sched: Schedule, model: str) -> None:
    server = await asyncio.start_server(handler(sched, model), "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


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
