"""One timings record per request, and every figure derived from it.

Times are ``perf_counter_ns`` (monotonic); ``wall_start`` only labels the record. SD delivers
several tokens per chunk, so per-token figures (ITL, TPOT) spread a chunk's gap over its tokens.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

NS_PER_MS = 1_000_000


@dataclass
class RequestRecord:
    request_id: str
    question_id: str
    bucket: str
    category: str
    prompt_len: int
    max_tokens: int
    intended_send_ns: int
    wall_start: float
    send_ns: int = 0
    headers_ns: int = 0
    end_ns: int = 0
    chunk_ns: list[int] = field(default_factory=list)
    chunk_tokens: list[int] = field(default_factory=list)
    token_count_source: str = ""
    usage_prompt_tokens: int | None = None
    usage_output_tokens: int | None = None
    # What the stream itself showed (token ids, else chunks with text), beside the usage above,
    # and how the two disagreed, if they did (client.response; the cell flags such records).
    stream_output_tokens: int | None = None
    token_count_note: str | None = None
    finish_reason: str | None = None
    http_status: int | None = None
    error_kind: str | None = None
    error: str | None = None
    # Multi-turn rows (qualitative): this request is turn ``turn`` of ``turns``; a prompt is
    # finished when its last turn (or a failed one, which ends the conversation) is.
    turn: int = 0
    turns: int = 1
    # vLLM's per-request SD metrics (``--per-request-spec-decode-metrics``), as the server sent them
    spec_decode: dict[str, Any] | None = None

    # -- derived figures (never stored) --------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def ends_prompt(self) -> bool:
        """The last request of its prompt: the last turn, or a failed one (nothing to reply to)."""
        return not self.ok or self.turn + 1 >= self.turns

    @property
    def output_tokens(self) -> int:
        """Server ``usage`` when it came, else the sum over chunks."""
        if self.usage_output_tokens is not None:
            return self.usage_output_tokens
        return sum(self.chunk_tokens)

    @property
    def first_token_ns(self) -> int | None:
        for t, n in zip(self.chunk_ns, self.chunk_tokens, strict=True):
            if n > 0:
                return t
        return None

    @property
    def ttft_ms(self) -> float | None:
        first = self.first_token_ns
        return None if first is None else (first - self.send_ns) / NS_PER_MS

    @property
    def e2e_ms(self) -> float:
        return (self.end_ns - self.send_ns) / NS_PER_MS

    @property
    def token_chunks(self) -> list[tuple[int, int]]:
        """(time, tokens) of the chunks that carried tokens."""
        return [(t, n) for t, n in zip(self.chunk_ns, self.chunk_tokens, strict=True) if n > 0]

    @property
    def tpot_ms(self) -> float | None:
        """Time per output token after the first chunk: (last - first) / tokens after the first."""
        chunks = self.token_chunks
        if len(chunks) < 2:
            return None
        later_tokens = sum(n for _, n in chunks[1:])
        return (chunks[-1][0] - chunks[0][0]) / later_tokens / NS_PER_MS

    @property
    def itl_ms(self) -> list[float]:
        """One inter-token latency per token after the first chunk: gap / tokens in the chunk."""
        chunks = self.token_chunks
        out: list[float] = []
        for (prev, _), (now, n) in itertools.pairwise(chunks):
            out += [(now - prev) / n / NS_PER_MS] * n
        return out

    @property
    def chunk_gap_ms(self) -> list[float]:
        chunks = self.token_chunks
        return [(b[0] - a[0]) / NS_PER_MS for a, b in itertools.pairwise(chunks)]

    @property
    def tokens_per_chunk(self) -> float | None:
        """Client-side view of acceptance length (the first chunk is prefill: left out)."""
        later = [n for _, n in self.token_chunks[1:]]
        return sum(later) / len(later) if later else None

    def to_dict(self) -> dict[str, Any]:
        """The fields as they are (lists shared, not copied: ``asdict``'s deep copy cost ~0.2 ms
        per record, on the loop that stamps every stream's chunks)."""
        return dict(vars(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        return cls(**data)
