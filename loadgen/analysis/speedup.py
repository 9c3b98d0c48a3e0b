"""Speedup of an SD variant over its baseline: same engine, inputs, bucket and concurrency.

Point estimates come from the cell summaries (measured output tokens/s over the window). The
confidence intervals resample requests: for throughput the closed-loop estimator
``concurrency * sum(tokens) / sum(e2e)`` (Little's law; concurrency cancels in the ratio), for TPOT
and E2E their means. Ratios are oriented so that > 1 means SD is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from loadgen.analysis.stats import bootstrap_ratio_ci
from loadgen.client.record import RequestRecord


@dataclass(frozen=True)
class SpeedupRow:
    bucket: str
    concurrency: int
    baseline: str
    variant: str
    baseline_output_tps: float | None
    variant_output_tps: float | None
    speedup_output_tps: float | None
    ci_low: float | None
    ci_high: float | None
    tpot_speedup: float | None
    tpot_ci_low: float | None
    tpot_ci_high: float | None
    e2e_speedup: float | None
    acceptance_length: float | None
    client_tokens_per_chunk: float | None
    flags: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _tokens_latency(records: Sequence[RequestRecord]) -> np.ndarray:
    return np.array([[r.output_tokens, r.e2e_ms] for r in records if r.ok], dtype=float)


def _tpots(records: Sequence[RequestRecord]) -> np.ndarray:
    return np.array([[t] for r in records if r.ok and (t := r.tpot_ms) is not None], dtype=float)


def speedup_row(
    baseline: dict[str, Any],
    base_records: Sequence[RequestRecord],
    variant: dict[str, Any],
    variant_records: Sequence[RequestRecord],
) -> SpeedupRow:
    low, high = bootstrap_ratio_ci(
        _tokens_latency(base_records),
        _tokens_latency(variant_records),
        lambda rows: float(rows[:, 0].sum() / rows[:, 1].sum()),
    )
    # TPOT: lower is better, so the sides swap: mean(baseline) / mean(variant).
    t_low, t_high = bootstrap_ratio_ci(
        _tpots(variant_records), _tpots(base_records), lambda rows: float(rows[:, 0].mean())
    )
    flags = [f"{side['server']}: {flag}" for side in (baseline, variant) for flag in side["flags"]]
    return SpeedupRow(
        bucket=variant["bucket"],
        concurrency=variant["concurrency"],
        baseline=baseline["server"],
        variant=variant["server"],
        baseline_output_tps=baseline["output_tokens_per_s"],
        variant_output_tps=variant["output_tokens_per_s"],
        speedup_output_tps=_ratio(variant["output_tokens_per_s"], baseline["output_tokens_per_s"]),
        ci_low=low,
        ci_high=high,
        tpot_speedup=_ratio(baseline["tpot_ms"]["mean"], variant["tpot_ms"]["mean"]),
        tpot_ci_low=t_low,
        tpot_ci_high=t_high,
        e2e_speedup=_ratio(baseline["e2e_ms"]["mean"], variant["e2e_ms"]["mean"]),
        acceptance_length=variant["acceptance"]["acceptance_length"],
        client_tokens_per_chunk=variant["client_tokens_per_chunk"],
        flags="; ".join(flags),
    )
