"""Records + acceptance + window counters -> the cell summary written as ``summary.json``."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from loadgen.analysis.stats import distribution
from loadgen.analysis.steady import cold_start_flag, steady_figures
from loadgen.client import figures
from loadgen.client.figures import NS_PER_MS
from loadgen.client.record import RequestRecord
from loadgen.metrics.acceptance import Acceptance, step_figures
from loadgen.metrics.crosscheck import ClientCounts, drafting_gap_flag, server_flags
from loadgen.metrics.window import WindowCounters
from loadgen.results.schemas import CellSummary

# Above this share of failed requests the figures describe a failing server, not its speed.
MAX_FAILED_SHARE = 0.05
# Kinds of failure that mean the server stopped answering (see loadgen/client/stream.py).
SERVER_GONE_KINDS = frozenset({"connection", "timeout", "stalled", "truncated"})
# This many such failures at the end of a cell (not one unlucky request) mean the server is gone.
GONE_AT_LEAST = 2


def summarize_cell(
    server: str,
    bucket: str,
    concurrency: int | None,  # None: an open-loop cell (its load block says the rate)
    records: Sequence[RequestRecord],
    acceptance: Acceptance,
    counters: WindowCounters | None,
) -> CellSummary:
    """The cell's figures; the caller (``run_cell``) adds what only the cell knows (load point,
    metrics evidence, schedule), then writes it with
    :func:`loadgen.results.io.write_cell_summary`."""
    ok = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    duration_s = _window_s(records)
    output_tokens = sum(r.output_tokens for r in ok)
    steps = [r.step_sizes for r in ok]
    step_tokens, step_count = figures.pooled_steps(steps)
    per_step = step_figures(acceptance, step_tokens, step_count)
    summary = CellSummary.model_validate(
        {
            "server": server,
            "bucket": bucket,
            "concurrency": concurrency,
            "requests_ok": len(ok),
            "requests_failed": len(failed),
            "errors_by_kind": dict(Counter(r.error_kind for r in failed)),
            "duration_s": duration_s,
            "output_tokens": output_tokens,
            "output_tokens_per_s": output_tokens / duration_s if duration_s else None,
            "prompt_tokens": sum(r.prompt_len for r in ok),
            "ttft_ms": distribution([t for r in ok if (t := r.ttft_ms) is not None]),
            "tpot_ms": distribution([t for r in ok if (t := r.tpot_ms) is not None]),
            "itl_ms": distribution([x for r in ok for x in r.itl_ms]),
            "e2e_ms": distribution([r.e2e_ms for r in ok]),
            "chunk_gap_ms": distribution([x for r in ok for x in r.chunk_gap_ms]),
            "acceptance": acceptance.to_dict() | asdict(per_step),
            "client_tokens_per_chunk": figures.tokens_per_step(step_tokens, step_count),
            "client_accepted_tokens": int(figures.accepted_tokens(step_tokens, step_count)),
            "tokens_per_chunk_histogram": {
                str(k): v for k, v in sorted(Counter(n for one in steps for n in one).items())
            },
            "server_counters": None if counters is None else vars(counters),
        }
    )
    gone = _gone_tail(records)
    # a resumed sweep redoes such a cell (loadgen/sweep/runner.py): its figures end mid-way
    summary.server_stopped_answering = len(gone) >= GONE_AT_LEAST
    summary.flags = _flags(summary, records, gone, counters, acceptance)
    send = np.array([r.send_ns for r in ok], dtype=np.int64)
    if concurrency is not None and ok:
        end = np.array([r.end_ns for r in ok], dtype=np.int64)
        tokens = np.array([r.output_tokens for r in ok], dtype=float)
        for key, value in steady_figures(send, end, tokens, (end - send) / NS_PER_MS,
                                         concurrency).items():  # fmt: skip
            setattr(summary, key, value)
    ttft = np.array([np.nan if r.ttft_ms is None else r.ttft_ms for r in ok], dtype=float)
    if cold := cold_start_flag(send, ttft, concurrency):
        summary.flags.append(cold)
    summary.flags += drafting_gap_flag(per_step)
    stalls = [stall for r in ok if (stall := r.stall_ms) > 0]
    summary.stalled_requests, summary.max_stall_ms = len(stalls), max(stalls, default=0.0)
    if stalls:
        summary.flags.append(
            f"{len(stalls)} of {len(ok)} requests' streams stalled for up to "
            f"{summary.max_stall_ms:.0f} ms, then came in a burst ({figures.BURST_CHUNKS}+ "
            f"chunks within {figures.BURST_GAP_NS // 1000} us): the client was not reading (or "
            "the server not sending), e.g. another process had the CPU; those requests' "
            "TTFT/TPOT/ITL time the stall, not the engine's steps"
        )
    return summary


def _gone_tail(records: Sequence[RequestRecord]) -> list[RequestRecord]:
    """The cell's last requests that all failed to connect or stream."""
    by_send = sorted(records, key=lambda r: r.send_ns, reverse=True)
    return list(itertools.takewhile(lambda r: r.error_kind in SERVER_GONE_KINDS, by_send))


def _window_s(records: Sequence[RequestRecord]) -> float:
    """From the first send to the last end of the measured requests."""
    if not records:
        return 0.0
    return (max(r.end_ns for r in records) - min(r.send_ns for r in records)) / NS_PER_MS / 1000


def _flags(
    summary: CellSummary,
    records: Sequence[RequestRecord],
    gone: Sequence[RequestRecord],
    counters: WindowCounters | None,
    acceptance: Acceptance,
) -> list[str]:
    flags = _failure_flags(records, gone)
    client = ClientCounts(
        requests=len(records),
        output_tokens=sum(r.output_tokens for r in records),
        accepted_tokens=summary.client_accepted_tokens,
        tokens_per_chunk=summary.client_tokens_per_chunk,
    )
    return flags + server_flags(counters, acceptance, client)


def _failure_flags(records: Sequence[RequestRecord], gone: Sequence[RequestRecord]) -> list[str]:
    """How many failed and of which kinds; whether that is too many to trust the figures; and
    whether the cell ended with the server gone (its last requests all failed to connect/stream)."""
    failed = [r for r in records if not r.ok]
    if not failed:
        return []
    share = len(failed) / len(records)
    verdict = (
        f", above {MAX_FAILED_SHARE:.0%}: the figures describe a failing server, not its speed"
        if share > MAX_FAILED_SHARE
        else ""
    )
    kinds = dict(Counter(r.error_kind for r in failed))
    flags = [f"{len(failed)} of {len(records)} requests failed ({share:.0%}{verdict}): {kinds}"]
    if len(gone) >= GONE_AT_LEAST:
        flags.append(
            f"the last {len(gone)} requests failed "
            f"({dict(Counter(r.error_kind for r in gone))}): the server stopped answering "
            "mid-cell (died, restarted or hung)"
        )
    return flags
