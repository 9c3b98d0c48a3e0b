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

The conditional acceptance rate per position, AR_k (:mod:`loadgen.metrics.acceptance`), per
category: from vLLM's per-request ``acceptance_histogram`` (drafted steps accepting exactly j)
where every request of the category carries it, else from the client's tokens per chunk after the
first (a chunk of n tokens accepted n - 1): that one is over *all* decode steps, drafted or not,
and holds only while one chunk is one step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadgen.client import figures
from loadgen.client.record import RequestRecord
from loadgen.metrics.acceptance import Acceptance, conditional_rates, reached_from_histogram

CLIENT_SOURCE = "client_tokens_per_chunk"
SERVER_SOURCE = "vllm_per_request"
SERVER_AR_SOURCE = "vllm_per_request acceptance_histogram (drafted steps)"
CLIENT_AR_SOURCE = (
    "client tokens per chunk (all decode steps, drafted or not; valid while one chunk is one step)"
)


@dataclass(frozen=True)
class ConditionalAr:
    """AR_1..AR_K of one category and where they came from."""

    source: str
    values: list[float | None]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "values": self.values}


@dataclass(frozen=True)
class CategoryAcceptance:
    category: str
    requests: int
    client: Acceptance
    server: Acceptance | None  # None when no request of the category carried server metrics
    conditional_ar: ConditionalAr | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "requests": self.requests,
            "client": self.client.to_dict(),
            "server": None if self.server is None else self.server.to_dict(),
            "conditional_ar": None
            if self.conditional_ar is None
            else self.conditional_ar.to_dict(),
        }


def conditional_ar(records: Sequence[RequestRecord], k: int | None) -> ConditionalAr | None:
    """AR_k of a category's requests: the server's histograms when every request has one, else
    the client's chunk sizes (positions up to k, or the largest chunk's accepted tokens)."""
    histograms = [(r.spec_decode or {}).get("acceptance_histogram") for r in records]
    if records and all(histograms):
        width = max(len(h) for h in histograms if h)
        total = [sum(h[j] for h in histograms if h and j < len(h)) for j in range(width)]
        return ConditionalAr(SERVER_AR_SOURCE, conditional_rates(reached_from_histogram(total)))
    accepted = [n - 1 for r in records for n in r.step_sizes]
    if not accepted:
        return None
    width = (k if k is not None else max(accepted)) + 1
    counts = [0.0] * width
    for j in accepted:
        counts[min(j, width - 1)] += 1
    return ConditionalAr(CLIENT_AR_SOURCE, conditional_rates(reached_from_histogram(counts)))


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
            conditional_ar=conditional_ar(group, k),
        )
        for category, group in sorted(by_category.items())
    ]
