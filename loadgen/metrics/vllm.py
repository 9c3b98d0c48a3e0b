"""vLLM's metric names, declared as data, and the adapter that turns a window into figures.

Counters are summed over every label but ``position`` (several ``engine`` labels, replicas).

vLLM 0.32 exposes no count of decode steps per request (``Acceptance.target_steps`` stays None,
so tokens per target step comes from the client's chunks): ``spec_decode_num_drafts`` counts only
steps that proposed a draft, the per-request metrics (``--per-request-spec-decode-metrics``:
``num_spec_steps``, ``acceptance_histogram``) observe the same drafted steps only, and
``vllm:iteration_tokens_total`` counts engine iterations (whole batches, prefill chunks
included), which equal one request's steps only at concurrency 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.adapter import EngineAdapter, Poll, TokenCounters
from loadgen.metrics.window import Deltas, WindowCounters, text_deltas

DRAFTS = "vllm:spec_decode_num_drafts_total"
DRAFT_TOKENS = "vllm:spec_decode_num_draft_tokens_total"
ACCEPTED_TOKENS = "vllm:spec_decode_num_accepted_tokens_total"
ACCEPTED_PER_POS = "vllm:spec_decode_num_accepted_tokens_per_pos_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
PREFIX_CACHE_HITS = "vllm:prefix_cache_hits_total"
PREFIX_CACHE_QUERIES = "vllm:prefix_cache_queries_total"
REQUEST_SUCCESS = "vllm:request_success_total"
REQUEST_LATENCY = "vllm:e2e_request_latency_seconds"  # arrival in the server to its last output
METRICS_PATH = "/metrics"
SOURCE = "vllm:/metrics counters"

__all__ = ["ADAPTER", "WindowCounters", "acceptance", "window_counters"]


def reduce(deltas: Deltas, polls: Sequence[Sequence[Poll]]) -> Acceptance:
    """Exact figures: vLLM counts drafts, draft tokens and accepted tokens per position."""
    drafts = deltas.total(DRAFTS)
    if drafts is None:
        return Acceptance(source=SOURCE)  # baseline: the engine exposes no SD counters
    return Acceptance(
        source=SOURCE,
        drafts=drafts,
        draft_tokens=deltas.total(DRAFT_TOKENS),
        accepted_tokens=deltas.total(ACCEPTED_TOKENS),
        per_position=[v / drafts if drafts else 0.0 for v in deltas.positions(ACCEPTED_PER_POS)],
        counter_reset=deltas.reset,
    )


ADAPTER = EngineAdapter(
    engine="vllm",
    source=SOURCE,
    metrics_path=METRICS_PATH,
    sd_counters=(DRAFTS, DRAFT_TOKENS, ACCEPTED_TOKENS, ACCEPTED_PER_POS),
    tokens=TokenCounters(
        GENERATION_TOKENS, PROMPT_TOKENS, PREFIX_CACHE_HITS, PREFIX_CACHE_QUERIES, REQUEST_SUCCESS
    ),
    reduce=reduce,
    request_latency=REQUEST_LATENCY,
)


def acceptance(before_text: str, after_text: str) -> Acceptance:
    """Two scrapes of one server -> acceptance over the window between them."""
    return reduce(text_deltas([before_text], [after_text], ADAPTER.counters), ())


def window_counters(before_text: str, after_text: str) -> WindowCounters:
    return ADAPTER.window_counters(text_deltas([before_text], [after_text], ADAPTER.counters))
