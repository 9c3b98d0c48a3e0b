"""Server-sent events as OpenAI-compatible servers send them: ``data: {json}`` lines, ``[DONE]``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

DONE = object()


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
        return Event(json.loads(data))
    except json.JSONDecodeError as exc:
        raise StreamError(f"malformed SSE data line: {data[:80]!r} ({exc.msg})") from None


def iter_events(lines: Iterable[bytes]) -> Iterator[Event]:
    """Decode ``data:`` lines up to ``[DONE]``."""
    for raw in lines:
        event = decode_line(raw)
        if event is None:
            continue
        yield event
        if event.payload is DONE:
            return
