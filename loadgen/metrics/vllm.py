"""vLLM's metric names, declared as data, and the adapter that turns two scrapes into figures.

Counters are summed over every label but ``position`` (several ``engine`` labels, replicas).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from loadgen.metrics.acceptance import Acceptance, counter_delta
from loadgen.metrics.exposition import Sample, parse_exposition

DRAFTS = "vllm:spec_decode_num_drafts_total"
DRAFT_TOKENS = "vllm:spec_decode_num_draft_tokens_total"
ACCEPTED_TOKENS = "vllm:spec_decode_num_accepted_tokens_total"
ACCEPTED_PER_POS = "vllm:spec_decode_num_accepted_tokens_per_pos_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
PREFIX_CACHE_HITS = "vllm:prefix_cache_hits_total"
PREFIX_CACHE_QUERIES = "vllm:prefix_cache_queries_total"
METRICS_PATH = "/metrics"
SOURCE = "vllm:/metrics counters"


@dataclass(frozen=True)
class WindowCounters:
    """Deltas of the non-SD counters the harness cross-checks against the client."""

    generation_tokens: float
    prompt_tokens: float
    prefix_cache_hits: float
    prefix_cache_queries: float
    reset: bool


def _totals(samples: Iterable[Sample]) -> dict[tuple[str, str | None], float]:
    sums: dict[tuple[str, str | None], float] = defaultdict(float)
    for s in samples:
        sums[(s.name, s.label("position"))] += s.value
    return sums


def acceptance(before_text: str, after_text: str) -> Acceptance:
    before, after = _totals(parse_exposition(before_text)), _totals(parse_exposition(after_text))
    if (DRAFTS, None) not in after:
        return Acceptance(source=SOURCE)  # baseline: the engine exposes no SD counters
    deltas = {key: counter_delta(before.get(key, 0.0), after[key]) for key in after}
    positions = sorted(
        (int(pos), deltas[(name, pos)].value)
        for name, pos in after
        if name == ACCEPTED_PER_POS and pos is not None
    )
    drafts = deltas[(DRAFTS, None)].value
    return Acceptance(
        source=SOURCE,
        drafts=drafts,
        draft_tokens=deltas[(DRAFT_TOKENS, None)].value,
        accepted_tokens=deltas[(ACCEPTED_TOKENS, None)].value,
        per_position=[value / drafts if drafts else 0.0 for _, value in positions],
        counter_reset=any(d.reset for d in deltas.values()),
    )


def window_counters(before_text: str, after_text: str) -> WindowCounters:
    before, after = _totals(parse_exposition(before_text)), _totals(parse_exposition(after_text))
    names = (GENERATION_TOKENS, PROMPT_TOKENS, PREFIX_CACHE_HITS, PREFIX_CACHE_QUERIES)
    deltas = [counter_delta(before.get((n, None), 0.0), after.get((n, None), 0.0)) for n in names]
    any_reset = any(d.reset for d in deltas)
    generation, prompt, hits, queries = (d.value for d in deltas)
    return WindowCounters(generation, prompt, hits, queries, reset=any_reset)
