"""One prompt of a prepared set -> one streamed request -> one record. Shared by the Locust user,
the CLI's warm-up and the tests, so all of them measure the same way. The transport is whatever
session the caller holds: a ``FastConnection`` (what ``auto`` picks for plain http) or a
``requests.Session`` (https)."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from loadgen.client.access import ServerAccess
from loadgen.client.fast import FastConnection, send_completion_fast, turn_kernel_stamps_on
from loadgen.client.record import RequestRecord
from loadgen.client.stream import completion_body, send_completion
from loadgen.data.prepared import PreparedPrompt

COMPLETIONS_PATH = "/v1/completions"
TRANSPORTS = ("auto", "requests", "fast")
Session = requests.Session | FastConnection


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


def new_session(transport: str, access: ServerAccess) -> Session:
    """A fresh per-user session of the named (chosen) transport, with the server's API key and
    CA."""
    if transport == "fast":
        return FastConnection(access.bearer_headers())
    if transport != "requests":
        raise ValueError(f"unknown transport {transport!r}: choose one of requests, fast")
    return access.session()


def warm_up(base_url: str, transport: str) -> None:
    """Before the clock runs: resolve the host once (under gevent the first look-up in a process
    starts the resolver's thread pool, ~25 ms here, which the first requests would measure) and
    turn on the kernel's receive stamps the fast transport reads."""
    if transport == "fast":
        turn_kernel_stamps_on()
    parts = urlsplit(base_url)
    if parts.hostname:
        with contextlib.suppress(OSError):  # unreachable hosts fail in the requests, by kind
            socket.getaddrinfo(parts.hostname, parts.port or 80, 0, socket.SOCK_STREAM)


@dataclass(frozen=True)
class RequestSettings:
    """What every request of a run shares: the server, output length, model name, timeout."""

    base_url: str
    osl: int
    model: str | None
    timeout_s: float

    def send(
        self, session: Session, prompt: PreparedPrompt, intended_send_ns: int | None = None
    ) -> RequestRecord:
        return run_prompt(
            session, self.base_url, prompt, self.osl, self.model, self.timeout_s, intended_send_ns
        )


def run_prompt(
    session: Session,
    base_url: str,
    prompt: PreparedPrompt,
    osl: int,
    model: str | None,
    timeout_s: float,
    intended_send_ns: int | None = None,
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
    url = base_url.rstrip("/") + COMPLETIONS_PATH
    if isinstance(session, FastConnection):
        return send_completion_fast(session, url, body, record, timeout_s)
    return send_completion(session, url, body, record, timeout_s)
