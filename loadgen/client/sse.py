"""Server-sent events as OpenAI-compatible servers send them: ``data: {json}`` lines, ``[DONE]``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

DONE = object()
# Every chunk of every stream is decoded on the loop that stamps the others' chunks: msgspec
# decodes a vLLM chunk ~3x faster than the json module, into the same dicts and lists.
_DECODER = msgspec.json.Decoder()


class StreamError(ValueError):
    """The stream broke the SSE / JSON contract; ``kind`` becomes the record's ``error_kind``."""

    def __init__(self, message: str, kind: str = "malformed_sse") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Event:
    """One ``data:`` payload, decoded; ``payload is DONE`` marks the end sentinel."""

    payload: Any


def decode_line(raw: bytes) -> Event | None:
    """One line: its event, or None for comments (``:``), blank separators and other fields."""
    line = raw.rstrip(b"\r\n")
    if not line.startswith(b"data:"):
        return None
    data = line[5:].strip()
    if data == b"[DONE]":
        return Event(DONE)
    try:
        return Event(_DECODER.decode(data))
    except msgspec.DecodeError as exc:
        raise StreamError(f"malformed SSE data line: {data[:80]!r} ({exc})") from None


def iter_events(lines: Iterable[bytes]) -> Iterator[Event]:
    """Decode ``data:`` lines up to ``[DONE]``."""
    for raw in lines:
        event = decode_line(raw)
        if event is None:
            continue
        yield event
        if event.payload is DONE:
            return
