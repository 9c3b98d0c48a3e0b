"""Send one streaming ``/v1/completions`` request with a token-id prompt and fill its record.

The transport is a ``requests.Session`` (the Locust user, the CLI warm-up and the tests all pass
one in), so the timing code is the same everywhere. ``iter_lines`` on a streamed response yields
each SSE line as it arrives; each raw line is stamped with ``perf_counter_ns`` at once, before its
JSON is parsed (the parse must not delay the stamp). Other transports hand over lines already
stamped at the socket read (``consume_stamped``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import requests

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
        if "error" in payload:
            raise StreamError(f"server error in stream: {str(payload['error'])[:200]}")
        usage = payload.get("usage") or {}
        choices = payload.get("choices") or []
        if choices:
            choice = choices[0]
            if "completion_tokens" in usage:
                tokens, source = usage["completion_tokens"] - completed, "usage"
            elif choice.get("token_ids") is not None:
                tokens, source = len(choice["token_ids"]), "token_ids"
            else:
                tokens, source = (1 if choice.get("text") else 0), "chunks"
            completed += tokens
            record.chunk_ns.append(now)
            record.chunk_tokens.append(tokens)
            record.token_count_source = source
            record.finish_reason = choice.get("finish_reason") or record.finish_reason
        if usage:
            record.usage_prompt_tokens = usage.get("prompt_tokens")
            record.usage_output_tokens = usage.get("completion_tokens")
    raise StreamError("stream ended without [DONE] (truncated)")


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
                record.error = response.text[:300]
            else:
                lines = response.iter_lines(chunk_size=None, delimiter=b"\n")
                consume_stream(lines, record, clock)
                for _ in lines:  # read to the end (after [DONE]: untimed) so the connection
                    pass  # goes back to the pool instead of being closed
                if record.output_tokens < record.max_tokens:
                    record.error_kind = "short_output"
                    record.error = f"{record.output_tokens} of {record.max_tokens} tokens"
    except StreamError as exc:
        record.error_kind, record.error = "stream", str(exc)
    except requests.Timeout as exc:
        record.error_kind, record.error = "timeout", str(exc)[:300]
    except requests.ConnectionError as exc:
        record.error_kind, record.error = "connection", str(exc)[:300]
    except requests.RequestException as exc:
        record.error_kind, record.error = "request", str(exc)[:300]
    if not record.end_ns:
        record.end_ns = clock()
    return record
