"""The ``requests`` transport: one streaming ``/v1/completions`` request over a
``requests.Session`` (what https needs), its record filled by the shared ``client.response``.

``iter_lines`` on a streamed response yields each SSE line as it arrives; each raw line is stamped
with ``perf_counter_ns`` at once, before its JSON is parsed (the parse must not delay the stamp).
requests wraps a read timeout inside a stream in ``ConnectionError`` and a broken chunked body in
``ChunkedEncodingError``: ``_failure`` says what they mean, ``client.response`` names the kind.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

import requests
from urllib3.exceptions import ReadTimeoutError

from loadgen.client.record import RequestRecord
from loadgen.client.response import (
    DRAIN_TIMEOUT_S,
    Clock,
    Failure,
    LineObserver,
    consume_stamped,
    fail,
    http_failure,
    read_stream,
)
from loadgen.client.sse import StreamError


def completion_body(
    prompt_ids: list[int], max_tokens: int, model: str | None, temperature: float = 0.0
) -> dict[str, Any]:
    """Fixed output length (``ignore_eos``) and per-chunk usage, so every chunk's tokens count."""
    body: dict[str, Any] = {
        "prompt": prompt_ids,
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "temperature": temperature,
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    }
    if model:
        body["model"] = model
    return body


def stamp_lines(lines: Iterable[bytes], clock: Clock) -> Iterator[tuple[int, bytes]]:
    for line in lines:
        yield clock(), line


def consume_stream(
    lines: Iterable[bytes], record: RequestRecord, clock: Clock = time.perf_counter_ns
) -> None:
    """Stamp every raw line as it arrives, then count its tokens (see ``consume_stamped``)."""
    consume_stamped(stamp_lines(lines, clock), record)


class RequestsTransport:
    """A ``requests.Session`` as a transport (``client.transport.Transport``): the caller's
    session, so Locust's own pool and the server's key and CA keep working."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session

    def send(
        self,
        url: str,
        body: dict[str, Any],
        record: RequestRecord,
        timeout_s: float,
        observe: LineObserver | None = None,
    ) -> RequestRecord:
        return send_completion(self.session, url, body, record, timeout_s, observe=observe)

    def close(self) -> None:
        self.session.close()


def send_completion(
    session: requests.Session,
    url: str,
    body: dict[str, Any],
    record: RequestRecord,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    clock: Clock = time.perf_counter_ns,
    observe: LineObserver | None = None,
) -> RequestRecord:
    """Run the request to its end; failures land in ``record.error_kind``, never as exceptions."""
    record.send_ns = clock()
    try:
        with session.post(
            url, json=body, stream=True, timeout=timeout_s, headers=headers
        ) as response:
            record.headers_ns = clock()
            record.http_status = response.status_code
            if response.status_code != 200:
                retry_after = response.headers.get("Retry-After")
                http_failure(record, response.status_code, response.text, retry_after)
            else:
                lines = response.iter_lines(chunk_size=None, delimiter=b"\n")
                read_stream(stamp_lines(lines, clock), record, observe)
                _drain(response, lines)
    except StreamError as exc:
        record.error_kind, record.error = exc.kind, str(exc)
    except requests.RequestException as exc:
        fail(record, _failure(exc), f"{type(exc).__name__}: {str(exc)[:300]}")
    if not record.end_ns:
        record.end_ns = clock()
    return record


def _drain(response: requests.Response, lines: Iterator[bytes]) -> None:
    """After ``[DONE]``: read the body's end so the kept connection can carry the next request,
    for at most ``DRAIN_TIMEOUT_S``; if it does not come, closing the unread response drops the
    connection (the record is complete anyway)."""
    sock = getattr(response.raw.connection, "sock", None)
    if sock is None:
        return
    sock.settimeout(DRAIN_TIMEOUT_S)
    with contextlib.suppress(requests.RequestException, OSError):
        for _ in lines:
            pass


def _failure(exc: requests.RequestException) -> Failure:
    """requests wraps a read timeout inside a stream in ``ConnectionError`` (its first argument
    is urllib3's ``ReadTimeoutError``) and a broken chunked body in ``ChunkedEncodingError``."""
    if isinstance(exc, requests.Timeout) or (
        bool(exc.args) and isinstance(exc.args[0], ReadTimeoutError)
    ):
        return Failure.TIMEOUT
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return Failure.BROKEN
    return Failure.OTHER
