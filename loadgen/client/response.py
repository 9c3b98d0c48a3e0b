"""One streamed response into its record, written once for every transport.

A transport delivers the body as stamped lines (each with its arrival on ``perf_counter_ns``'s
clock) and says which of its own exceptions mean what (``Failure``); everything after that is
here, so the two transports cannot drift apart: how a chunk's tokens are counted, when a stream
counts as complete, and which ``error_kind`` a failed request gets (docs/RELIABILITY.md):
``http_<status>`` (429 keeps its Retry-After in ``error``), ``connection`` (refused or reset
before a response), ``timeout`` (no response headers within the timeout), ``stalled`` (the
stream started, then nothing arrived for the timeout), ``truncated`` (the stream ended or broke
without ``[DONE]``), ``malformed_sse`` (a line that is not JSON of the completion shape),
``server_error`` (an error object inside the stream), ``short_output`` (``[DONE]`` before
``max_tokens``), ``request`` (anything else the transport raised).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from enum import Enum
from typing import Any

from loadgen.client.record import RequestRecord
from loadgen.client.sse import DONE, StreamError, decode_line

Clock = Callable[[], int]
# After ``[DONE]`` the body's end (a chunked terminator) normally follows in the same packet; a
# server that holds the connection open instead costs this long, then the connection is closed.
DRAIN_TIMEOUT_S = 1.0
# Reads each raw line of a response after its arrival stamp was taken (the conversation's tap:
# the reply text and per-request SD metrics); passed per request, so no state outlives a turn.
LineObserver = Callable[[bytes], None]
Stamped = Iterator[tuple[int, bytes]]


class Failure(Enum):
    """What went wrong, in a transport's own terms; ``failure_kind`` names it for the record."""

    TIMEOUT = "timeout"  # nothing arrived within the (per-read) timeout
    BROKEN = "broken"  # the connection was refused, reset or closed
    OTHER = "other"  # anything else the transport raised


def failure_kind(failure: Failure, streaming: bool) -> str:
    """Before the response headers: timeout / connection; after (``streaming``): stalled /
    truncated, since the request reached the server and its stream broke off."""
    if failure is Failure.TIMEOUT:
        return "stalled" if streaming else "timeout"
    if failure is Failure.BROKEN:
        return "truncated" if streaming else "connection"
    return "request"


def fail(record: RequestRecord, failure: Failure, message: str) -> None:
    record.error_kind = failure_kind(failure, streaming=bool(record.headers_ns))
    record.error = message


def http_failure(record: RequestRecord, status: int, body: str, retry_after: str | None) -> None:
    """A non-200 answer: its status as the kind, and the server's words (a 429's Retry-After
    first, so a run that was rate-limited says for how long)."""
    prefix = f"Retry-After: {retry_after}; " if retry_after is not None else ""
    record.error_kind = f"http_{status}"
    record.error = prefix + body[:300]


def read_stream(
    stamped: Stamped, record: RequestRecord, observe: LineObserver | None = None
) -> None:
    """Count the stream into the record up to ``[DONE]``, which ends the request whatever the
    connection does next (the transport reads the body's end, bounded by ``DRAIN_TIMEOUT_S``),
    and check the output length. Raises ``StreamError`` on a broken stream."""
    consume_stamped(stamped if observe is None else _observed(stamped, observe), record)
    if record.output_tokens < record.max_tokens:
        record.error_kind = "short_output"
        record.error = f"{record.output_tokens} of {record.max_tokens} tokens"


def _observed(stamped: Stamped, observe: LineObserver) -> Stamped:
    """The lines unchanged, each shown to ``observe`` once its stamp has been taken."""
    for stamp, line in stamped:
        observe(line)
        yield stamp, line


def consume_stamped(stamped: Iterable[tuple[int, bytes]], record: RequestRecord) -> None:
    """Record every chunk at its arrival stamp and count its tokens; raise ``StreamError`` on a
    broken stream."""
    counts = _Counts()
    for now, raw in stamped:
        event = decode_line(raw)
        if event is None:
            continue
        if event.payload is DONE:
            record.end_ns = now
            counts.check(record)
            return
        payload = event.payload
        if isinstance(payload, dict) and "error" in payload:
            raise StreamError(
                f"server error in stream: {str(payload['error'])[:200]}", "server_error"
            )
        try:
            counts.chunk(payload, record, now)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise StreamError(
                f"malformed completion chunk {str(payload)[:80]!r}: {exc!r}"
            ) from None
    raise StreamError("stream ended without [DONE]", "truncated")


class _Counts:
    """Token counts of one stream from two sources: the server's cumulative ``usage`` (the
    chunk's tokens are its increase: several per chunk under SD) and the stream itself (returned
    token ids, else one per chunk with text: a lower bound). A chunk never counts below zero;
    where the sources disagree the record keeps both and says how (``token_count_note``)."""

    def __init__(self) -> None:
        self.completed = 0  # tokens counted into chunks so far
        self.ids_seen = False
        self.notes: list[str] = []

    def chunk(self, payload: dict[str, Any], record: RequestRecord, now: int) -> None:
        usage = payload.get("usage") or {}
        choices = payload.get("choices") or []
        if choices:
            choice = choices[0]
            ids = choice.get("token_ids")
            streamed = len(ids) if ids is not None else (1 if choice.get("text") else 0)
            self.ids_seen = self.ids_seen or ids is not None
            record.stream_output_tokens = (record.stream_output_tokens or 0) + streamed
            tokens, source = streamed, "token_ids" if ids is not None else "chunks"
            if "completion_tokens" in usage:
                tokens, source = int(usage["completion_tokens"]) - self.completed, "usage"
                if tokens < 0:
                    self.notes.append(
                        f"usage went down to {usage['completion_tokens']} after {self.completed}"
                    )
                    tokens = 0
            self.completed += tokens
            record.chunk_ns.append(now)
            record.chunk_tokens.append(tokens)
            record.token_count_source = source
            record.finish_reason = choice.get("finish_reason") or record.finish_reason
        if usage:
            record.usage_prompt_tokens = usage.get("prompt_tokens")
            record.usage_output_tokens = usage.get("completion_tokens")

    def check(self, record: RequestRecord) -> None:
        """At ``[DONE]``: does the server's usage agree with what streamed?"""
        usage, streamed = record.usage_output_tokens, record.stream_output_tokens or 0
        if usage is not None:
            if usage > record.max_tokens:
                self.notes.append(f"usage {usage} is above the {record.max_tokens} asked for")
            if self.ids_seen and usage != streamed:
                self.notes.append(f"usage {usage} vs {streamed} token ids streamed")
            elif usage < streamed:
                self.notes.append(f"usage {usage} vs {streamed} chunks with text")
        record.token_count_note = "; ".join(self.notes) or None
