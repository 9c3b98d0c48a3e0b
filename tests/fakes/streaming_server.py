"""FAKE ENGINE for harness tests: a deterministic OpenAI-style streaming server.

Not an engine: it sleeps ``ttft_s`` then streams ``max_tokens`` tokens in chunks of
``tokens_per_chunk`` every ``step_s`` seconds, with vLLM's wire format (``continuous_usage_stats``),
so the harness's own timing can be checked against known truth. It also serves a ``/metrics``
page holding vLLM-named SD counters that it increments as a real engine would, and logs when it
received each request and began writing each chunk (``perf_counter_ns``: Linux's system-wide
monotonic clock, the harness's too), the truth even when a loaded machine stretches its sleeps.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Behaviour:
    ttft_s: float = 0.05
    step_s: float = 0.01
    tokens_per_chunk: int = 3
    status: int = 200
    truncate_after_chunks: int | None = None  # drop the connection without [DONE]
    max_model_len: int = 1 << 20  # announced on /v1/models, as vLLM does
    # vLLM's --per-request-spec-decode-metrics: a final usage chunk with this request's SD figures
    per_request_spec_metrics: bool = False
    keep_alive_s: float | None = None  # close a connection idle this long (uvicorn's is 5 s)
    # Decode step i drafts only when i % draft_every == 0 (ngram finding no match drafts
    # nothing): other steps stream one token and count no draft, as vLLM counts them.
    draft_every: int = 1
    # Injected drift: a request arriving at perf_counter() = t runs slowdown(t) times slower
    # (TTFT and every step), e.g. a machine whose speed wanders between cells (A/A benchmark).
    slowdown: Callable[[float], float] | None = None
    # Injected stalled delivery: every stall_every-th request (1-based) holds its chunks 2 to
    # 1 + stall_chunks as it makes them, waits stall_s more, then writes them in one write: the
    # client sees a gap of stall_chunks * step_s + stall_s after chunk 1, then a burst.
    stall_every: int = 0
    stall_chunks: int = 10
    stall_s: float = 0.2


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.drafts = self.draft_tokens = self.accepted = self.generated = 0.0
        self.steps = 0  # decode steps, drafted or not: the truth the client must recover
        self.per_pos: list[float] = []  # accepted tokens per draft position
        self.requests: list[dict[str, Any]] = []
        self.seen: list[tuple[str, str | None]] = []  # (path, Authorization header) of each
        self.timings: list[ServerTimings] = []


@dataclass
class ServerTimings:
    prompt: list[int]
    received_ns: int  # the request's body read
    chunk_ns: list[int] = field(default_factory=list)  # just before each data chunk was written


def _handler(behaviour: Behaviour, counters: _Counters) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY, as engines' servers (uvicorn) set it: with Nagle on, the first chunk waits
        # for the client's delayed ACK of the headers (~40 ms on Linux) and every TTFT, TPOT and
        # speedup drifts from the step-time law the tests derive their expectations from
        disable_nagle_algorithm = True
        timeout = behaviour.keep_alive_s  # an idle connection's read times out: it is closed

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with counters.lock:
                counters.seen.append((self.path, self.headers.get("Authorization")))
            if self.path == "/health":
                self._send(200, b"", "text/plain")
            elif self.path == "/v1/models":
                card = {"id": "fake", "object": "model", "max_model_len": behaviour.max_model_len}
                self._send(200, json.dumps({"data": [card]}).encode(), "application/json")
            elif self.path == "/metrics":
                with counters.lock:
                    text = (
                        f'vllm:spec_decode_num_drafts_total{{engine="0"}} {counters.drafts}\n'
                        f'vllm:spec_decode_num_draft_tokens_total{{engine="0"}} '
                        f"{counters.draft_tokens}\n"
                        f'vllm:spec_decode_num_accepted_tokens_total{{engine="0"}} '
                        f"{counters.accepted}\n"
                        f'vllm:generation_tokens_total{{engine="0"}} {counters.generated}\n'
                    ) + "".join(
                        "vllm:spec_decode_num_accepted_tokens_per_pos_total"
                        f'{{engine="0",position="{i}"}} {v}\n'
                        for i, v in enumerate(counters.per_pos)
                    )
                self._send(200, text.encode(), "text/plain; version=0.0.4")
            else:
                self._send(404, b"not found", "text/plain")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(_frame(data))
            self.wfile.flush()

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            timings = ServerTimings(body["prompt"], time.perf_counter_ns())
            with counters.lock:
                counters.seen.append((self.path, self.headers.get("Authorization")))
            if self.path != "/v1/completions":  # e.g. /tokenize: this fake has no tokenizer
                self._send(404, b"not found", "text/plain")
                return
            with counters.lock:
                counters.requests.append(body)
                counters.timings.append(timings)
                number = len(counters.requests)
            stalls = behaviour.stall_every and number % behaviour.stall_every == 0
            held = b""
            if behaviour.status != 200:
                self._send(behaviour.status, b'{"error": "injected"}', "application/json")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            max_tokens, k = int(body["max_tokens"]), behaviour.tokens_per_chunk
            slower = behaviour.slowdown(time.perf_counter()) if behaviour.slowdown else 1.0
            time.sleep(behaviour.ttft_s * slower)
            sent, chunks = 0, 0
            while sent < max_tokens:
                drafting = sent > 0 and chunks % behaviour.draft_every == 0
                n = min(k, max_tokens - sent) if drafting else 1
                if sent:
                    time.sleep(behaviour.step_s * slower)
                sent += n
                chunks += 1
                event = {
                    "choices": [{"index": 0, "text": "x" * n, "finish_reason": None}],
                    "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": sent},
                }
                data = b"data: " + json.dumps(event).encode() + b"\n\n"
                timings.chunk_ns.append(time.perf_counter_ns())
                if stalls and 2 <= chunks <= 1 + behaviour.stall_chunks:
                    held += _frame(data)
                    if chunks == 1 + behaviour.stall_chunks or sent >= max_tokens:
                        time.sleep(behaviour.stall_s)
                        self.wfile.write(held)
                        self.wfile.flush()
                else:
                    self._chunk(data)
                if behaviour.truncate_after_chunks and chunks >= behaviour.truncate_after_chunks:
                    self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                    return
                with counters.lock:
                    counters.generated += n
                    counters.steps += sent > n
                    if drafting:  # a drafted step: n-1 accepted of k-1 proposed
                        counters.drafts += 1
                        counters.draft_tokens += k - 1
                        counters.accepted += n - 1
                        counters.per_pos += [0.0] * (k - 1 - len(counters.per_pos))
                        for i in range(n - 1):
                            counters.per_pos[i] += 1
            if behaviour.per_request_spec_metrics:
                self._chunk(
                    b"data: " + json.dumps(spec_metrics_event(chunks, sent, k)).encode() + b"\n\n"
                )
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

    return Handler


def _frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (Transfer-Encoding: chunked)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def spec_metrics_event(chunks: int, tokens: int, k: int) -> dict[str, Any]:
    """The final usage chunk's ``metrics.speculative_decoding`` as vLLM 0.32 shapes it: every
    decode step (chunk after the first) drafted ``k - 1`` tokens and accepted the ones it
    streamed beyond the first, like the fake's /metrics counters."""
    steps = chunks - 1
    return {
        "choices": [],
        "metrics": {
            "speculative_decoding": {
                "num_spec_steps": steps,
                "num_draft_tokens": steps * (k - 1),
                "num_accepted_draft_tokens": tokens - 1 - steps,
                "num_spec_tokens": k - 1,
            }
        },
    }


class FakeStreamingServer:
    """Context manager: ``with FakeStreamingServer(Behaviour(...)) as srv: srv.url``."""

    def __init__(
        self, behaviour: Behaviour | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self.counters = _Counters()
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", 0), _handler(self.behaviour, self.counters)
        )
        self.scheme = "https" if tls else "http"
        if tls:  # HTTPS with the test's own certificate (tests/tls.py)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def __enter__(self) -> FakeStreamingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
