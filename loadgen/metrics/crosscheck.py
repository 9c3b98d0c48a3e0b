"""Server figures against the client's own counts, for any engine (through its adapter's
``WindowCounters`` and ``Acceptance``). Each mismatch becomes a flag in summary and report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadgen.metrics.acceptance import Acceptance, StepFigures
from loadgen.metrics.exposition import parse_exposition
from loadgen.metrics.window import WindowCounters

# Every Python engine's Prometheus client exposes its process's start time (standard collector).
PROCESS_START = "process_start_time_seconds"

# Server and client token counts may differ by in-flight rounding only; more means foreign traffic.
TOKEN_MISMATCH_TOLERANCE = 0.02
# Drafted tokens accepted past max_tokens are counted by the server but never streamed.
ACCEPTED_MISMATCH_TOLERANCE = 0.15
# Figures reconstructed from interval gauges (SGLang) are looser.
ESTIMATE_MISMATCH_TOLERANCE = 0.30
PREFIX_CACHE_HIT_LIMIT = 0.05
# AL while drafting above tokens per target step by more than this: steps without a draft.
DRAFTING_GAP_TOLERANCE = 0.10


@dataclass(frozen=True)
class ClientCounts:
    requests: int  # records, ok or not
    output_tokens: int
    accepted_tokens: int  # tokens beyond one per chunk
    tokens_per_chunk: float | None  # after the first chunk


def server_flags(
    counters: WindowCounters | None, acceptance: Acceptance, client: ClientCounts
) -> list[str]:
    flags = []
    if acceptance.counter_reset or (counters is not None and counters.reset):
        flags.append("a server counter went down in the window: the engine restarted")
    if counters is not None:
        flags += _traffic_flags(counters, client)
    flags += _acceptance_flags(acceptance, client)
    return flags


def _traffic_flags(counters: WindowCounters, client: ClientCounts) -> list[str]:
    flags = []
    generated, received = counters.generation_tokens, client.output_tokens
    if (
        generated is not None
        and received
        and abs(generated - received) > TOKEN_MISMATCH_TOLERANCE * received
    ):
        flags.append(
            f"server generated {generated:.0f} tokens in the window, client received "
            f"{received}: foreign traffic or lost requests"
        )
    if counters.requests is not None and counters.requests > client.requests:
        flags.append(
            f"server finished {counters.requests:.0f} requests in the window, client sent "
            f"{client.requests}: foreign traffic"
        )
    hits, queries = counters.prefix_cache_hits, counters.prefix_cache_queries
    if hits is not None and hits > PREFIX_CACHE_HIT_LIMIT * max(queries or 0.0, 1.0):
        flags.append(
            f"prefix cache served {hits:.0f} of {queries or 0:.0f} prompt tokens: TTFT is flattered"
        )
    return flags


def _acceptance_flags(acceptance: Acceptance, client: ClientCounts) -> list[str]:
    """Each engine step streams 1 + (accepted drafts) tokens, so tokens beyond one per chunk are
    the client's count of accepted tokens, and tokens per chunk cannot exceed the acceptance
    length (steps without a draft make it smaller, never larger)."""
    flags = []
    tolerance = ESTIMATE_MISMATCH_TOLERANCE if acceptance.estimate else ACCEPTED_MISMATCH_TOLERANCE
    kind = "estimated" if acceptance.estimate else "counted"
    server = acceptance.accepted_tokens
    # The last step of a request may accept up to k drafts past max_tokens: counted by the
    # server, never streamed (k = the positions the engine reports; unknown: 0).
    past_end = len(acceptance.per_position) * client.requests
    shortfall = 0.0 if server is None else server - client.accepted_tokens
    slack = tolerance * max(server or 0, 1)
    if server is not None and (shortfall > past_end + slack or -shortfall > slack):
        flags.append(
            f"client saw {client.accepted_tokens} accepted tokens (tokens beyond one per chunk), "
            f"server {kind} {server:.0f}: chunks were merged in transit, or foreign traffic"
        )
    length, per_chunk = acceptance.acceptance_length, client.tokens_per_chunk
    if length is not None and per_chunk is not None and per_chunk > length * (1 + tolerance):
        flags.append(
            f"client got {per_chunk:.2f} tokens per chunk, more than the server's acceptance "
            f"length {length:.2f}: chunks were merged in transit (per-token latencies are coarse)"
        )
    return flags


def restart_flags(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """A target whose process start time changed between the two scrapes restarted, even if its
    counters grew back past their old values (which two-point deltas alone cannot see)."""
    flags = []
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        started = [_process_start(a), _process_start(b)]
        if None not in started and started[0] != started[1]:
            flags.append(
                f"metrics target {index}: the engine process restarted in the window (start time "
                f"{started[0]:.0f} -> {started[1]:.0f}): its counters restarted from zero, "
                "window figures are lower bounds"
            )
    return flags


def _process_start(text: str) -> float | None:
    found = [s.value for s in parse_exposition(text) if s.name == PROCESS_START]
    return found[0] if found else None


def drafting_gap_flag(figures: StepFigures) -> list[str]:
    """AL while drafting well above tokens per target step: many decode steps drafted nothing,
    so the engines' AL overstates what the speedup follows."""
    al, per_step = figures.al_while_drafting, figures.tokens_per_target_step
    if al is None or per_step is None or al <= per_step * (1 + DRAFTING_GAP_TOLERANCE):
        return []
    share = "n/a" if figures.drafted_share is None else f"{figures.drafted_share:.0%}"
    return [
        f"AL while drafting {al:.2f} is more than {DRAFTING_GAP_TOLERANCE:.0%} above the "
        f"{per_step:.2f} tokens per target step because only {share} of decode steps drafted "
        "(the method proposes nothing where it finds no match), and the speedup follows tokens "
        "per step"
    ]
