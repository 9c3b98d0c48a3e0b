"""Send one streaming ``/v1/completions`` request with a token-id prompt and fill its record.

The transport is a ``requests.Session`` (the Locust user, the CLI warm-up and the tests all pass
one in), so the timing code is the same everywhere. ``iter_lines`` on a streamed response yields
each SSE line as it arrives; each raw line is stamped with ``perf_counter_ns`` at once, before its
JSON is parsed (the parse must not delay the stamp). Other transports hand over lines already
stamped at the socket read (``consume_stamped``).

A failed request keeps what arrived and gets one ``error_kind`` (docs/RELIABILITY.md):
``http_<status>`` (429 keeps its Retry-After in ``error``), ``connection`` (refused or reset before
a response), ``timeout`` (no response headers within the timeout), ``stalled`` (the stream started,
then nothing arrived for the timeout: the read timeout is per read, so it is an idle timeout),
``truncated`` (the stream ended or broke without ``[DONE]``), ``malformed_sse`` (a line that is
not JSON of the completion shape), ``server_error`` (an error object inside the stream),
``short_output`` (``[DONE]`` before ``max_tokens``), ``request`` (anything else requests raised).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import requests
from urllib3.exceptions import ReadTimeoutError

from loadgen.client.record import RequestRecord
from loadgen.client.sse import DONE, StreamError, decode_line

Clock = Callable[[], int]


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


def consume_stamped(stamped: Iterable[tuple[int, bytes]], record: RequestRecord) -> None:
    """Record every chunk at its arrival stamp and count its tokens; raise ``StreamError`` on a
    broken stream."""
    completed = 0
    for now, raw in stamped:
        event = decode_line(raw)
        if event is None:
            continue
        if event.payload is DONE:
            record.end_ns = now
            return
        payload = event.payload
        if isinstance(payload, dict) and "error" in payload:
            raise StreamError(
                f"server error in stream: {str(payload['error'])[:200]}", "server_error"
            )
        try:
            completed += _count_chunk(payload, record, completed, now)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise StreamError(
                f"malformed completion chunk {str(payload)[:80]!r}: {exc!r}"
            ) from None
    raise StreamError("stream ended without [DONE]", "truncated")


def _count_chunk(payload: dict[str, Any], record: RequestRecord, completed: int, now: int) -> int:
    """One chunk's tokens (usage delta, else token ids, else 1 per text chunk) into the record."""
    tokens = 0
    usage = payload.get("usage") or {}
    choices = payload.get("choices") or []
    if choices:
        choice = choices[0]
        if "completion_tokens" in usage:
            tokens, source = int(usage["completion_tokens"]) - completed, "usage"
        elif choice.get("token_ids") is not None:
            tokens, source = len(choice["token_ids"]), "token_ids"
        else:
            tokens, source = (1 if choice.get("text") else 0), "chunks"
        record.chunk_ns.append(now)
        record.chunk_tokens.append(tokens)
        record.token_count_source = source
        record.finish_reason = choice.get("finish_reason") or record.finish_reason
    if usage:
        record.usage_prompt_tokens = usage.get("prompt_tokens")
        record.usage_output_tokens = usage.get("completion_tokens")
    return tokens


def send_completion(
    session: requests.Session,
    url: str,
    body: dict[str, Any],
    record: RequestRecord,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    clock: Clock = time.perf_counter_ns,
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
                record.error_kind = f"http_{response.status_code}"
                record.error = _http_error(response)
            else:
                lines = response.iter_lines(chunk_size=None, delimiter=b"\n")
                consume_stream(lines, record, clock)
                for _ in lines:  # read to the end (after [DONE]: untimed) so the connection
                    pass  # goes back to the pool instead of being closed
                if record.output_tokens < record.max_tokens:
                    record.error_kind = "short_output"
                    record.error = f"{record.output_tokens} of {record.max_tokens} tokens"
    except StreamError as exc:
        record.error_kind, record.error = exc.kind, str(exc)
    except requests.RequestException as exc:
        record.error_kind = _transport_kind(exc, streaming=bool(record.headers_ns))
        record.error = f"{type(exc).__name__}: {str(exc)[:300]}"
    if not record.end_ns:
        record.end_ns = clock()
    return record


def _http_error(response: requests.Response) -> str:
    retry_after = response.headers.get("Retry-After")
    prefix = f"Retry-After: {retry_after}; " if retry_after is not None else ""
    return prefix + response.text[:300]


def _transport_kind(exc: requests.RequestException, streaming: bool) -> str:
    """Before the response headers: timeout / connection; after: stalled / truncated. (requests
    wraps a read timeout inside a stream in ``ConnectionError``, and a broken chunked body in
    ``ChunkedEncodingError``.)"""
    timed_out = isinstance(exc, requests.Timeout) or (
        bool(exc.args) and isinstance(exc.args[0], ReadTimeoutError)
    )
    if streaming:
        if timed_out:
            return "stalled"
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return "truncated"
    elif timed_out:
        return "timeout"
    elif isinstance(exc, requests.ConnectionError):
        return "connection"
    return "request"
