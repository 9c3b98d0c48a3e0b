"""One timings record per request, and every figure derived from it.

Times are ``perf_counter_ns`` (monotonic); ``wall_start`` only labels the record. SD delivers
several tokens per chunk, so per-token figures (ITL, TPOT) spread a chunk's gap over its tokens;
the definitions live in :mod:`loadgen.client.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadgen.client import figures
from loadgen.client.figures import NS_PER_MS

__all__ = ["NS_PER_MS", "RequestRecord"]


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
    def token_chunks(self) -> list[figures.Chunk]:
        """(time, tokens) of the chunks that carried tokens."""
        return figures.token_chunks(self.chunk_ns, self.chunk_tokens)

    @property
    def first_token_ns(self) -> int | None:
        chunks = self.token_chunks
        return chunks[0][0] if chunks else None

    @property
    def ttft_ms(self) -> float | None:
        return figures.ttft_ms(self.token_chunks, self.send_ns)

    @property
    def e2e_ms(self) -> float:
        return figures.e2e_ms(self.send_ns, self.end_ns)

    @property
    def tpot_ms(self) -> float | None:
        return figures.tpot_ms(self.token_chunks)

    @property
    def itl_ms(self) -> list[float]:
        return figures.itl_ms(self.token_chunks)

    @property
    def stall_ms(self) -> float:
        """Longest stall of the stream's delivery (0.0: none), see :mod:`loadgen.client.figures`."""
        return figures.stall_ms(self.token_chunks, self.send_ns)

    @property
    def chunk_gap_ms(self) -> list[float]:
        return figures.chunk_gap_ms(self.token_chunks)

    @property
    def step_sizes(self) -> list[int]:
        """Tokens of each step (token chunk after the first), see :mod:`loadgen.client.figures`."""
        return figures.step_sizes(self.token_chunks)

    @property
    def tokens_per_chunk(self) -> float | None:
        """Client-side view of acceptance length (the first chunk is prefill: left out)."""
        sizes = self.step_sizes
        return figures.tokens_per_step(sum(sizes), len(sizes))

    @property
    def accepted_tokens(self) -> int:
        """Client accepted tokens: tokens beyond one per step (first chunk left out)."""
        sizes = self.step_sizes
        return int(figures.accepted_tokens(sum(sizes), len(sizes)))

    def to_dict(self) -> dict[str, Any]:
        """The fields as they are (lists shared, not copied: ``asdict``'s deep copy cost ~0.2 ms
        per record, on the loop that stamps every stream's chunks)."""
        return dict(vars(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        return cls(**data)
