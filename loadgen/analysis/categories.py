"""Acceptance per category from one mixed run, from per-request figures.

Server counters (``vllm:spec_decode_*``) are global, so a mixed qualitative run cannot split them
by category. Two per-request sources can:

- ``client_tokens_per_chunk``: from every record, the tokens of each streamed chunk after the
  first (prefill) one (:mod:`loadgen.client.figures`: steps, tokens per step, client accepted
  tokens); one chunk is one target-model step when the server streams every step, so tokens per
  chunk is the acceptance length and the tokens beyond one per chunk are accepted drafts.
  An estimate: a server that coalesces steps into one chunk inflates it.
- ``vllm_per_request``: vLLM's own per-request SD metrics (``--per-request-spec-decode-metrics
  summary``, present in vLLM 0.32), which arrive in the stream's final usage chunk as
  ``metrics.speculative_decoding`` and are kept in ``RequestRecord.spec_decode``; exact, when the
  server has them enabled.

Each figure says which source it came from (``Acceptance.source``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loadgen.client import figures
from loadgen.client.record import RequestRecord
from loadgen.metrics.acceptance import Acceptance

CLIENT_SOURCE = "client_tokens_per_chunk"
SERVER_SOURCE = "vllm_per_request"


@dataclass(frozen=True)
class CategoryAcceptance:
    category: str
    requests: int
    client: Acceptance
    server: Acceptance | None  # None when no request of the category carried server metrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "requests": self.requests,
            "client": self.client.to_dict(),
            "server": None if self.server is None else self.server.to_dict(),
        }


def client_acceptance(records: Iterable[RequestRecord], num_spec_tokens: int | None) -> Acceptance:
    """Pooled over requests: steps = chunks after the first, accepted = tokens beyond one each."""
    tokens, steps = figures.pooled_steps(r.step_sizes for r in records)
    return Acceptance(
        source=CLIENT_SOURCE,
        drafts=float(steps),
        draft_tokens=None if num_spec_tokens is None else float(steps * num_spec_tokens),
        accepted_tokens=figures.accepted_tokens(tokens, steps),
    )


def server_acceptance(metrics: Iterable[Mapping[str, Any]]) -> Acceptance | None:
    """Pooled vLLM per-request figures (``num_spec_steps`` etc. as vLLM 0.32 names them)."""
    items = list(metrics)
    if not items:
        return None
    return Acceptance(
        source=SERVER_SOURCE,
        drafts=float(sum(m["num_spec_steps"] for m in items)),
        draft_tokens=float(sum(m["num_draft_tokens"] for m in items)),
        accepted_tokens=float(sum(m["num_accepted_draft_tokens"] for m in items)),
    )


def category_acceptance(
    records: Iterable[RequestRecord], num_spec_tokens: int | None = None
) -> list[CategoryAcceptance]:
    """One row per category (sorted), over the successful requests (every turn) only.

    The server figure pools each record's ``spec_decode`` (vLLM's per-request metrics, kept by
    the client when the server sends them); ``num_spec_tokens`` (the draft length k) lets the
    client figure give a rate too, and defaults to the k the server reported.
    """
    by_category: dict[str, list[RequestRecord]] = defaultdict(list)
    for record in records:
        if record.ok:
            by_category[record.category].append(record)
    spec = [r.spec_decode for group in by_category.values() for r in group if r.spec_decode]
    k = num_spec_tokens or next((int(m["num_spec_tokens"]) for m in spec), None)
    return [
        CategoryAcceptance(
            category=category,
            requests=len(group),
            client=client_acceptance(group, k),
            server=server_acceptance(r.spec_decode for r in group if r.spec_decode),
        )
        for category, group in sorted(by_category.items())
    ]
