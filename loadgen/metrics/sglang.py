"""SGLang (``--enable-metrics``): SD figures are only gauges holding the latest log interval.

``sglang:spec_accept_length`` (tokens per verify step, the bonus token included) and
``sglang:spec_accept_rate`` (accepted / drafted tokens) are set each time the scheduler logs decode
stats; there is no SD counter. So the sampler polls ``/metrics`` during the window, and each
interval between two polls is weighted by the generated tokens counted in it: that interval made
``tokens / AL`` steps and ``tokens - steps`` accepted draft tokens. The sums give drafts, accepted
and drafted tokens, and the record says it is an estimate (a gauge may lag its interval).
Gauges carry ``dp_rank`` / ``tp_rank``: tensor-parallel ranks repeat one scheduler's value and are
averaged within a data-parallel rank; data-parallel ranks are then averaged with equal weight.
SGLang exposes no count of decode steps (the steps above are reconstructed from the gauge), so
tokens per target step comes from the client's chunks.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from statistics import fmean

from loadgen.metrics.acceptance import Acceptance, counter_delta
from loadgen.metrics.adapter import EngineAdapter, Poll, TokenCounters
from loadgen.metrics.exposition import Sample, parse_exposition
from loadgen.metrics.window import Deltas

ACCEPT_LENGTH = "sglang:spec_accept_length"
ACCEPT_RATE = "sglang:spec_accept_rate"
GENERATION_TOKENS = "sglang:generation_tokens_total"
PROMPT_TOKENS = "sglang:prompt_tokens_total"
CACHED_TOKENS = "sglang:cached_tokens_total"
REQUESTS = "sglang:num_requests_total"
# TokenizerMetricsCollector: each request's time from the tokenizer manager's receipt to its finish
REQUEST_LATENCY = "sglang:e2e_request_latency_seconds"
METRICS_PATH = "/metrics"
SOURCE = "sglang:/metrics gauges (estimate)"


def rank_mean(samples: Sequence[Sample], name: str) -> float | None:
    by_dp: dict[str | None, list[float]] = defaultdict(list)
    for s in samples:
        if s.name == name:
            by_dp[s.label("dp_rank")].append(s.value)
    return fmean(fmean(values) for values in by_dp.values()) if by_dp else None


def _generated(samples: Sequence[Sample]) -> float:
    return sum(s.value for s in samples if s.name == GENERATION_TOKENS)


def reduce(deltas: Deltas, polls: Sequence[Sequence[Poll]]) -> Acceptance:
    steps = accepted = drafted = 0.0
    intervals = (
        pair
        for target in polls
        for pair in itertools.pairwise(parse_exposition(p.body) for p in target if not p.error)
    )
    for previous, current in intervals:
        generated = counter_delta(_generated(previous), _generated(current)).value
        length, rate = rank_mean(current, ACCEPT_LENGTH), rank_mean(current, ACCEPT_RATE)
        if not generated or not length or length < 1.0:
            continue  # no tokens in the interval, or SD off (the gauge stays 0)
        interval_steps = generated / length
        steps += interval_steps
        accepted += generated - interval_steps
        drafted += (generated - interval_steps) / rate if rate else 0.0
    if not steps:
        return Acceptance(source=SOURCE, counter_reset=deltas.reset)
    return Acceptance(
        source=SOURCE,
        drafts=steps,
        draft_tokens=drafted or None,
        accepted_tokens=accepted,
        counter_reset=deltas.reset,
        estimate=True,
    )


ADAPTER = EngineAdapter(
    engine="sglang",
    source=SOURCE,
    metrics_path=METRICS_PATH,
    sd_counters=(),
    tokens=TokenCounters(GENERATION_TOKENS, PROMPT_TOKENS, CACHED_TOKENS, PROMPT_TOKENS, REQUESTS),
    reduce=reduce,
    gauges=(ACCEPT_LENGTH, ACCEPT_RATE),
    poll_path=METRICS_PATH,
    request_latency=REQUEST_LATENCY,
)
