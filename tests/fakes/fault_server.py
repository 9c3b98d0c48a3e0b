"""FAKE ENGINE that injects faults, for the fault tests listed in docs/RELIABILITY.md.

Not an engine. Request ``i`` (in arrival order) gets ``faults[i]`` (``"ok"`` past the list's end);
an ``"ok"`` request streams ``max_tokens`` tokens in vLLM's wire format. Faults:

- ``http_500`` / ``http_503``: that status with a JSON error body;
- ``http_429``: 429 with a ``Retry-After`` header;
- ``reset``: the request is read, then the connection is reset (TCP RST, no response);
- ``hold``: the request is read, then nothing is sent until the server stops;
- ``stall``: two chunks, then silence until the server stops (the client's read timeout ends it);
- ``malformed``: two chunks, then a ``data:`` line that is not JSON;
- ``bad_shape``: two chunks, then JSON of the wrong shape (``choices`` is a string);
- ``truncate``: two chunks, then the stream ends cleanly without ``[DONE]``;
- ``cut``: two chunks, then the connection is reset mid-stream;
- ``short``: ``[DONE]`` after half of ``max_tokens`` (``finish_reason`` "stop");
- ``done_hold``: every token and ``[DONE]``, then the connection held open (no end of body);
- ``usage_double``: usage says twice the tokens streamed (one token per chunk, no SD);
- ``usage_drop``: the last chunk's usage falls 3 below the previous one's.

``/metrics`` carries vLLM-named counters that count what was streamed. ``restart_at=k`` drops them
to zero when request ``k`` arrives, as a restarted engine does; ``metrics_broken_at=k`` makes
``/metrics`` hang (``metrics_fault="hang"``), reset its connections (``"reset"``) or answer 200 with
an HTML error page, as a proxy in front of a dead engine does (``"html"``), from then on.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = (
    "ok", "http_500", "http_503", "http_429", "reset", "hold", "stall", "malformed", "bad_shape",
    "truncate", "cut", "short", "done_hold", "usage_double", "usage_drop",
)  # fmt: skip
COMPLETE = ("ok", "short", "done_hold", "usage_double", "usage_drop")  # streams that end in [DONE]
RETRY_AFTER_S = 7
COUNTERS = (
    "vllm:generation_tokens_total", "vllm:request_success_total",
    "vllm:spec_decode_num_drafts_total", "vllm:spec_decode_num_draft_tokens_total",
    "vllm:spec_decode_num_accepted_tokens_total",
)  # fmt: skip


@dataclass
class FaultPlan:
    faults: list[str] = field(default_factory=list)
    ttft_s: float = 0.01
    step_s: float = 0.005
    tokens_per_chunk: int = 2
    restart_at: int | None = None
    metrics_broken_at: int | None = None  # -1: broken from the start (before any request)
    metrics_fault: str = "hang"

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}; known: {FAULTS}"

    def fault(self, index: int) -> str:
        return self.faults[index] if index < len(self.faults) else "ok"


@dataclass
class ServerState:
    """What the fake did, for the tests' assertions; guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    arrived: int = 0
    counters: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0.0))

    def count(self, name: str, value: float) -> None:
        self.counters[name] = self.counters.get(name, 0.0) + value


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: what a crashed peer or a proxy dropping the link does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _handler(plan: FaultPlan, state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _event(self, payload: object) -> None:
            self._chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

        def do_GET(self) -> None:
            with state.lock:
                broken = plan.metrics_broken_at is not None and (
                    state.arrived > plan.metrics_broken_at
                )
                text = "".join(f'{n}{{engine="0"}} {v}\n' for n, v in state.counters.items())
            if self.path == "/v1/models":  # what the preflight asks, as vLLM answers it
                card = {"id": "fake", "object": "model", "max_model_len": 1 << 20}
                self._send(200, json.dumps({"data": [card]}).encode())
            elif self.path != "/metrics":
                self._send(200 if self.path == "/health" else 404, b"")
            elif broken and plan.metrics_fault == "html":
                page = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"
                self._send(200, page, {"Content-Type": "text/html"})
            elif broken and plan.metrics_fault == "hang":
                state.stopping.wait()
                self.close_connection = True
            elif broken:
                _reset(self.connection)
                self.close_connection = True
            else:
                self._send(200, text.encode(), {"Content-Type": "text/plain; version=0.0.4"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v1/completions":  # e.g. the preflight's /tokenize: not a fault slot
                self._send(404, b"")
                return
            with state.lock:
                index = state.arrived
                state.arrived += 1
                if plan.restart_at == index:
                    state.counters = {n: 0.0 for n in state.counters}
            fault = plan.fault(index)
            if fault.startswith("http_"):
                status = int(fault.removeprefix("http_"))
                extra = {"Retry-After": str(RETRY_AFTER_S)} if status == 429 else {}
                self._send(status, b'{"error": "injected by the FAKE fault server"}', extra)
                return
            if fault in ("reset", "hold"):
                if fault == "hold":
                    state.stopping.wait()
                _reset(self.connection)
                self.close_connection = True
                return
            self._stream(body, fault)

        def _stream(self, body: dict[str, Any], fault: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            if fault not in COMPLETE:  # the stream will break: no keep-alive reuse
                self.send_header("Connection", "close")
            self.end_headers()
            max_tokens = int(body["max_tokens"])
            k = 1 if fault == "usage_double" else plan.tokens_per_chunk
            limit = max_tokens // 2 if fault == "short" else max_tokens
            time.sleep(plan.ttft_s)
            sent = chunks = 0
            while sent < limit:
                if fault not in COMPLETE and chunks == 2:
                    self._break(fault)
                    return
                n = 1 if sent == 0 else min(k, limit - sent)
                time.sleep(plan.step_s if sent else 0.0)
                sent, chunks = sent + n, chunks + 1
                finish = ("stop" if fault == "short" else "length") if sent == limit else None
                self._event(
                    {
                        "choices": [{"index": 0, "text": "x" * n, "finish_reason": finish}],
                        "usage": {
                            "prompt_tokens": len(body["prompt"]),
                            "completion_tokens": _usage(fault, sent, sent == limit),
                        },
                    }
                )
                with state.lock:
                    state.count("vllm:generation_tokens_total", n)
                    if sent > n:  # a decode step: k-1 drafted, n-1 accepted
                        state.count("vllm:spec_decode_num_drafts_total", 1)
                        state.count("vllm:spec_decode_num_draft_tokens_total", k - 1)
                        state.count("vllm:spec_decode_num_accepted_tokens_total", n - 1)
            with state.lock:
                state.count("vllm:request_success_total", 1)
            self._chunk(b"data: [DONE]\n\n")
            if fault == "done_hold":
                state.stopping.wait()
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")

        def _break(self, fault: str) -> None:
            self.close_connection = True
            if fault == "stall":
                state.stopping.wait()
            elif fault == "malformed":
                self._chunk(b'data: {"choices": [{"text": "x"\n\n')
            elif fault == "bad_shape":
                self._chunk(b'data: {"choices": "x"}\n\n')
            elif fault == "cut":
                _reset(self.connection)
                return
            self.wfile.write(b"0\r\n\r\n")  # "truncate" and the two above: a clean end, no [DONE]

    return Handler


def _usage(fault: str, sent: int, last: bool) -> int:
    """The ``completion_tokens`` a chunk reports: the truth, or the injected disagreement."""
    if fault == "usage_double":
        return 2 * sent
    if fault == "usage_drop" and last:
        return sent - 3 - 2  # below the previous chunk's (sent - 2)
    return sent


class FaultServer:
    """``with FaultServer(FaultPlan([...])) as srv: srv.url``; ``srv.state`` says what happened."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.state = ServerState()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(plan, self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.stopping.set()  # stalled streams and hanging /metrics end
        self._server.shutdown()
        self._server.server_close()
