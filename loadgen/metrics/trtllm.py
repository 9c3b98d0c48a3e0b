"""TensorRT-LLM (``trtllm-serve``): Prometheus counters plus the JSON iteration stats.

``/prometheus/metrics`` (needs ``return_perf_metrics: true``) counts draft and accepted tokens
(``trtllm_spec_decode_num_*_tokens_total``) but not drafts, so the acceptance length needs the
JSON iteration stats on ``/metrics`` (``enable_iter_perf_stats: true``): each iteration's
``specDecodingStats.numRequestsWithDraftTokens`` is the number of drafts verified in it. Those
stats are drained when read, so the sampler polls during the window and the iterations are summed
(``polls[0]``, taken before the load, only empties the queue). When the JSON covered fewer draft
tokens than the counters (the server's own collector drains the same queue in some versions),
drafts are scaled to the counters and the record is marked as an estimate.

Decode steps are counted exactly: each iteration's ``inflightBatchingStats.numGenRequests`` is
the requests that took a generation step in it, drafted or not, so their sum is the window's
target steps (scaled like drafts when the JSON missed iterations). With attention data
parallelism (rows of ranks > 0) how steps split over ranks is not known: no step count then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.adapter import EngineAdapter, Poll, TokenCounters
from loadgen.metrics.window import Deltas

DRAFT_TOKENS = "trtllm_spec_decode_num_draft_tokens_total"
ACCEPTED_TOKENS = "trtllm_spec_decode_num_accepted_tokens_total"
ACCEPTANCE_LENGTH = "trtllm_spec_decode_acceptance_length"
GENERATION_TOKENS = "trtllm_generation_tokens_total"
PROMPT_TOKENS = "trtllm_prompt_tokens_total"
CACHED_PROMPT_TOKENS = "trtllm_prompt_cached_tokens_total"
REQUESTS = "trtllm_request_success_total"
METRICS_PATH = "/prometheus/metrics"
ITERATION_STATS_PATH = "/metrics"
SOURCE = "trtllm:/prometheus/metrics counters + /metrics iteration stats"


@dataclass(frozen=True)
class IterationTotals:
    iterations: int = 0
    drafts: float = 0.0  # sum of numRequestsWithDraftTokens
    draft_tokens: float = 0.0
    accepted_tokens: float = 0.0
    generation_steps: float | None = 0.0  # sum of numGenRequests; None: attention DP


def _stats(target_polls: Sequence[Poll]) -> Iterator[dict[str, Any]]:
    for poll in target_polls[1:]:
        if poll.error is None:
            for item in json.loads(poll.body or "[]"):
                yield json.loads(item) if isinstance(item, str) else item


def _iterations(target_polls: Sequence[Poll]) -> Iterator[dict[str, Any]]:
    """Iteration stats of one target's polls 1..n, once each (attention-DP ranks > 0 repeat
    rank 0's SD stats, so they are skipped)."""
    seen: set[Any] = set()
    for stat in _stats(target_polls):
        key = (stat.get("iter"), stat.get("timestamp"))
        if stat.get("attentionDpRank", 0) != 0 or key in seen:
            continue
        seen.add(key)
        yield stat


def iteration_totals(polls: Sequence[Sequence[Poll]]) -> IterationTotals:
    totals = IterationTotals()
    for stat in (s for target in polls for s in _iterations(target)):
        spec = stat.get("specDecodingStats") or {}
        batch = stat.get("inflightBatchingStats") or {}
        totals = IterationTotals(
            totals.iterations + 1,
            totals.drafts + spec.get("numRequestsWithDraftTokens", 0),
            totals.draft_tokens + spec.get("numDraftTokens", 0),
            totals.accepted_tokens + spec.get("numAcceptedTokens", 0),
            (totals.generation_steps or 0.0) + batch.get("numGenRequests", 0),
        )
    attention_dp = any(s.get("attentionDpRank", 0) for t in polls for s in _stats(t))
    return totals if not attention_dp else replace(totals, generation_steps=None)


def reduce(deltas: Deltas, polls: Sequence[Sequence[Poll]]) -> Acceptance:
    it = iteration_totals(polls)
    draft_tokens = deltas.total(DRAFT_TOKENS)
    accepted = deltas.total(ACCEPTED_TOKENS)
    if draft_tokens is None:  # no Prometheus SD counters: the iteration stats are all there is
        draft_tokens, accepted = it.draft_tokens or None, it.accepted_tokens
    if not draft_tokens:
        return Acceptance(source=SOURCE, counter_reset=deltas.reset)  # baseline or no drafts
    coverage = it.draft_tokens / draft_tokens
    drafts = it.drafts / coverage if it.drafts and coverage else None
    steps = it.generation_steps / coverage if it.generation_steps and coverage else None
    return Acceptance(
        source=SOURCE,
        drafts=drafts,
        draft_tokens=draft_tokens,
        accepted_tokens=accepted,
        counter_reset=deltas.reset,
        estimate=drafts is not None and abs(coverage - 1.0) > 1e-9,
        target_steps=steps,
    )


ADAPTER = EngineAdapter(
    engine="trtllm",
    source=SOURCE,
    metrics_path=METRICS_PATH,
    sd_counters=(DRAFT_TOKENS, ACCEPTED_TOKENS),
    tokens=TokenCounters(
        GENERATION_TOKENS, PROMPT_TOKENS, CACHED_PROMPT_TOKENS, PROMPT_TOKENS, REQUESTS
    ),
    reduce=reduce,
    gauges=(ACCEPTANCE_LENGTH,),
    poll_path=ITERATION_STATS_PATH,
)
