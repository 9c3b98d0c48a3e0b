"""One prompt of a prepared set -> one streamed request -> one record, over a ``Transport``.

Shared by the Locust user, the CLI's and the sweep's warm-up prompts and the tests, so all of them
measure the same way. Two transports implement the protocol: ``FastConnection`` (what ``auto``
picks for plain http: the least client-side error) and ``RequestsTransport`` (a
``requests.Session``, for https). Callers hold one and never ask which it is.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args
from urllib.parse import urlsplit

from loadgen.client.access import ServerAccess
from loadgen.client.fast import FastConnection, KernelStampKeeper
from loadgen.client.record import RequestRecord
from loadgen.client.response import LineObserver
from loadgen.client.stream import RequestsTransport, completion_body
from loadgen.data.prepared import PreparedPrompt

COMPLETIONS_PATH = "/v1/completions"
TransportName = Literal["auto", "requests", "fast"]
TRANSPORTS: tuple[TransportName, ...] = get_args(TransportName)


class Transport(Protocol):
    """Sends one streamed request and fills its record; failures land in ``record.error_kind``,
    never as exceptions. ``observe`` (optional, per request) sees every raw line of the body
    after its arrival stamp was taken: the conversation's reply and SD-metrics tap."""

    def send(
        self,
        url: str,
        body: dict[str, Any],
        record: RequestRecord,
        timeout_s: float,
        observe: LineObserver | None = None,
    ) -> RequestRecord: ...

    def close(self) -> None: ...


def choose_transport(requested: str, base_url: str) -> str:
    """The client a run uses: ``auto`` takes ``fast`` (the least client-side error) for plain
    http and ``requests`` for https; an explicit ``fast`` on https is refused with the fix."""
    https = urlsplit(base_url).scheme == "https"
    if requested == "auto":
        return "requests" if https else "fast"
    if requested == "fast" and https:
        raise ValueError("--transport fast speaks plain http only: use --transport requests")
    if requested not in TRANSPORTS:
        raise ValueError(f"unknown transport {requested!r}: choose one of {', '.join(TRANSPORTS)}")
    return requested


def new_transport(transport: str, access: ServerAccess) -> Transport:
    """A fresh per-user transport of the named (chosen) kind, with the server's API key and
    CA."""
    if transport == "fast":
        return FastConnection(access.bearer_headers())
    if transport != "requests":
        raise ValueError(f"unknown transport {transport!r}: choose one of requests, fast")
    return RequestsTransport(access.session())


def prepare_process(base_url: str, transport: str) -> KernelStampKeeper | None:
    """Once per process, before the clock runs: resolve the host (under gevent the first look-up
    in a process starts the resolver's thread pool, ~25 ms here, which the first requests would
    measure) and, for the fast transport, turn on the kernel's receive stamps it reads: the
    keeper returned must stay open for the run (the caller closes it)."""
    keeper = KernelStampKeeper() if transport == "fast" else None
    parts = urlsplit(base_url)
    if parts.hostname:
        with contextlib.suppress(OSError):  # unreachable hosts fail in the requests, by kind
            socket.getaddrinfo(parts.hostname, parts.port or 80, 0, socket.SOCK_STREAM)
    return keeper


@dataclass(frozen=True)
class RequestSettings:
    """What every request of a run shares: the server, output length, model name, timeout."""

    base_url: str
    osl: int
    model: str | None
    timeout_s: float

    def send(
        self,
        transport: Transport,
        prompt: PreparedPrompt,
        intended_send_ns: int | None = None,
        observe: LineObserver | None = None,
    ) -> RequestRecord:
        return run_prompt(
            transport,
            self.base_url,
            prompt,
            self.osl,
            self.model,
            self.timeout_s,
            intended_send_ns,
            observe,
        )


def run_prompt(
    transport: Transport,
    base_url: str,
    prompt: PreparedPrompt,
    osl: int,
    model: str | None,
    timeout_s: float,
    intended_send_ns: int | None = None,
    observe: LineObserver | None = None,
) -> RequestRecord:
    record = RequestRecord(
        request_id=uuid.uuid4().hex,
        question_id=prompt.question_id,
        bucket=prompt.bucket,
        category=prompt.category,
        prompt_len=prompt.isl,
        max_tokens=osl,
        intended_send_ns=intended_send_ns or time.perf_counter_ns(),
        wall_start=time.time(),
    )
    body = completion_body(prompt.prompt_token_ids, osl, model)
    return transport.send(base_url.rstrip("/") + COMPLETIONS_PATH, body, record, timeout_s, observe)
