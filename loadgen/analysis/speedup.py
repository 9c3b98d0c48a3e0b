"""Speedup of an SD variant over its baseline: same engine, inputs, bucket and load point.

Ratios are oriented so that > 1 means SD is better: output tokens/s (variant / baseline), and
mean TPOT, p90 TPOT and mean E2E latency (baseline / variant). Every ratio carries a per-request
bootstrap interval (:mod:`loadgen.analysis.bootstrap`) of the same estimator as its point value.
The headline throughput is the steady-state tok/s (:mod:`loadgen.analysis.steady`: Little's law
over the requests that ran with all users busy); with two or more repeats per side its interval
is over repeats (:mod:`loadgen.analysis.intervals`), else the per-request one, labelled as such.
Beside it, labelled: Little's law over all requests, and the ratio of the measured windows
(tokens / first send to last end, repeats pooled); a window ratio outside the interval is
flagged (ramp-up and tail effects: too few requests per user).

Open loop (a rate): both sides get the same schedule, so the delivered tok/s is the offered rate's
while both keep up; the ratio that carries the interval is then per request, ``sum(tokens) /
sum(E2E from the intended send)`` -- how much faster each user's tokens came at that rate (it
falls below 1 where SD's extra work makes the queue longer). The delivered (window) ratio is shown
beside it, and the schedule flags say whether a side fell behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from loadgen.analysis.bootstrap import ALL, point_statistics, ratio_interval, resample_strata
from loadgen.analysis.columns import RequestColumns, columns_of
from loadgen.analysis.groups import CellGroup
from loadgen.analysis.intervals import Interval, repeat_interval, requests_interval
from loadgen.analysis.parallel import parallel_map
from loadgen.analysis.stats import BOOTSTRAP_RESAMPLES
from loadgen.client.record import RequestRecord
from loadgen.load.point import LoadPoint
from loadgen.results.schemas import CellSummary

SideKey = tuple[str, str, LoadPoint, str]


@dataclass(frozen=True)
class SpeedupRow:
    bucket: str
    load: LoadPoint
    baseline: str
    variant: str
    category: str
    baseline_output_tps: float | None
    variant_output_tps: float | None
    speedup_output_tps: float | None  # steady state (headline)
    littles_speedup_output_tps: float | None  # Little's law over all requests
    window_speedup_output_tps: float | None
    ci_low: float | None
    ci_high: float | None
    interval_method: str
    mde_output_tps: float | None  # smallest detectable relative speedup (80 % power)
    tpot_speedup: float | None
    tpot_ci_low: float | None
    tpot_ci_high: float | None
    tpot_p90_speedup: float | None
    tpot_p90_ci_low: float | None
    tpot_p90_ci_high: float | None
    e2e_speedup: float | None
    e2e_ci_low: float | None
    e2e_ci_high: float | None
    acceptance_length: float | None
    client_tokens_per_chunk: float | None
    baseline_requests: int
    variant_requests: int
    flags: str
    # beside acceptance_length (AL while drafting): what the speedup follows, all decode steps
    tokens_per_target_step: float | None = None
    drafted_share: float | None = None

    @property
    def concurrency(self) -> int | None:
        return self.load.concurrency

    def to_dict(self) -> dict[str, Any]:
        """Flat (a CSV row): the load point as its label, concurrency or rate, arrivals."""
        load = self.load.to_dict()
        flat = {"bucket": self.bucket, "load": load["label"]}
        flat |= {k: load[k] for k in LOAD_COLUMNS}
        return flat | {f.name: getattr(self, f.name) for f in fields(self)[2:]}

    @staticmethod
    def columns() -> list[str]:
        return ["bucket", "load", *LOAD_COLUMNS, *(f.name for f in fields(SpeedupRow)[2:])]


LOAD_COLUMNS = ("concurrency", "rate_rps", "arrivals", "burstiness")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


class SpeedupAnalysis:
    """Computes speedup rows, drawing each side's bootstrap resamples once."""

    def __init__(self, resamples: int = BOOTSTRAP_RESAMPLES) -> None:
        self.resamples = resamples
        self._sides: dict[SideKey, tuple[RequestColumns, Any, Any]] = {}

    def _side(self, group: CellGroup, category: str) -> tuple[RequestColumns, Any, Any]:
        if (*group.key, category) not in self._sides:
            self.draw_all([group])
        return self._sides[(*group.key, category)]

    def draw_all(self, groups: Sequence[CellGroup]) -> None:
        """Resample every group (all requests and each category) up front, on every core; each
        group is seeded by its own label, so the figures do not depend on where it ran."""
        todo = list({g.key: g for g in groups if (*g.key, ALL) not in self._sides}.values())
        tiers = [self.categories(g) for g in todo]
        draws = parallel_map(
            resample_strata,
            [g.columns for g in todo],
            [_label(g.key) for g in todo],
            [t if len(t) > 1 else [] for t in tiers],
            [self.resamples] * len(todo),
            min_items=8,
        )
        for group, drawn in zip(todo, draws, strict=True):
            for category, side in drawn.items():
                cols = _subset(group, category)
                self._sides[(*group.key, category)] = (cols, point_statistics(cols), side)

    def categories(self, group: CellGroup) -> list[str]:
        return sorted(set(group.columns.category.tolist()))

    def row(self, base: CellGroup, variant: CellGroup, category: str = ALL) -> SpeedupRow:
        b_cols, b_point, b_draws = self._side(base, category)
        v_cols, v_point, v_draws = self._side(variant, category)

        def draws(side: Any, name: str) -> np.ndarray | None:
            return None if side is None else side[name]

        b_tps, v_tps = b_point["output_tps"], v_point["output_tps"]
        window = (
            _ratio(variant.window_output_tps, base.window_output_tps) if category == ALL else None
        )
        closed = variant.load.concurrency
        speedup = _ratio(v_tps, b_tps)
        tps = self._interval(speedup, b_cols, v_cols, draws(b_draws, "output_tps"),
                             draws(v_draws, "output_tps"))  # fmt: skip
        tpot_ci = ratio_interval(draws(b_draws, "tpot_mean"), draws(v_draws, "tpot_mean"))
        p90_ci = ratio_interval(draws(b_draws, "tpot_p90"), draws(v_draws, "tpot_p90"))
        e2e_ci = ratio_interval(draws(b_draws, "e2e_mean"), draws(v_draws, "e2e_mean"))
        flags = [f"{g.server}: {flag}" for g in (base, variant) for flag in g.flags]
        if (
            closed is not None
            and window is not None
            and tps.low is not None
            and tps.high is not None
            and not tps.low <= window <= tps.high
        ):
            flags.append(
                f"window tok/s speedup {window:.2f} outside the steady-state interval: ramp-up "
                "and drain weigh on this cell (the headline leaves them out); run more requests "
                "per user"
            )
        return SpeedupRow(
            bucket=variant.bucket,
            load=variant.load,
            baseline=base.server,
            variant=variant.server,
            category=category,
            baseline_output_tps=_delivered(base, b_tps, category),
            variant_output_tps=_delivered(variant, v_tps, category),
            speedup_output_tps=speedup,
            littles_speedup_output_tps=_ratio(v_point["littles_tps"], b_point["littles_tps"]),
            window_speedup_output_tps=window,
            ci_low=tps.low,
            ci_high=tps.high,
            interval_method=tps.method,
            mde_output_tps=tps.mde,
            tpot_speedup=_ratio(b_point["tpot_mean"], v_point["tpot_mean"]),
            tpot_ci_low=tpot_ci[0],
            tpot_ci_high=tpot_ci[1],
            tpot_p90_speedup=_ratio(b_point["tpot_p90"], v_point["tpot_p90"]),
            tpot_p90_ci_low=p90_ci[0],
            tpot_p90_ci_high=p90_ci[1],
            e2e_speedup=_ratio(b_point["e2e_mean"], v_point["e2e_mean"]),
            e2e_ci_low=e2e_ci[0],
            e2e_ci_high=e2e_ci[1],
            acceptance_length=variant.acceptance_length if category == ALL else None,
            client_tokens_per_chunk=v_cols.tokens_per_step(),
            baseline_requests=len(b_cols),
            variant_requests=len(v_cols),
            flags="; ".join(flags) if category == ALL else "",
            tokens_per_target_step=(
                variant.tokens_per_target_step if category == ALL else v_cols.tokens_per_step()
            ),
            drafted_share=variant.drafted_share if category == ALL else None,
        )

    @staticmethod
    def _interval(
        speedup: float | None,
        base: RequestColumns,
        variant: RequestColumns,
        b_draws: np.ndarray | None,
        v_draws: np.ndarray | None,
    ) -> Interval:
        """Over repeats when both sides have two or more, else per request (labelled)."""
        over_repeats = repeat_interval(speedup, base, variant)
        if over_repeats is not None:
            return over_repeats
        low, high = ratio_interval(v_draws, b_draws)
        ratios = None if v_draws is None or b_draws is None else v_draws / b_draws
        return requests_interval(low, high, ratios)

    def rows(self, groups: Sequence[CellGroup], per_category: bool = True) -> list[SpeedupRow]:
        """Every SD group against its baseline's group: all requests, then each entropy tier."""
        by_key = {g.key: g for g in groups}
        pairs = []
        for group in groups:
            base = by_key.get((group.baseline or "", group.bucket, group.load))
            if group.baseline is not None and base is not None:
                tiers = self.categories(group) if per_category else []
                pairs += [(base, group, c) for c in [ALL, *(tiers if len(tiers) > 1 else [])]]
        self.draw_all([g for base, variant, _ in pairs for g in (base, variant)])
        return [self.row(base, variant, c) for base, variant, c in pairs]


def _delivered(group: CellGroup, per_user_tps: float | None, category: str) -> float | None:
    """Output tok/s shown for a side: closed loop, Little's law (users x per-user rate); open
    loop, the measured window's (its per-tier share is not measured: n/a)."""
    if group.load.concurrency is not None:
        return None if per_user_tps is None else per_user_tps * group.load.concurrency
    return group.output_tps if category == ALL else None


def _subset(group: CellGroup, category: str) -> RequestColumns:
    cols = group.columns
    return cols if category == ALL else cols.select(cols.category == category)


def _label(key: tuple[str, str, LoadPoint]) -> str:
    server, bucket, load = key
    return f"{server}/{bucket}/{load.concurrency if load.concurrency is not None else load.label}"


def speedup_row(
    baseline: CellSummary,
    base_records: Sequence[RequestRecord],
    variant: CellSummary,
    variant_records: Sequence[RequestRecord],
) -> SpeedupRow:
    """One cell pair held in memory (all requests)."""

    def group(summary: CellSummary, records: Sequence[RequestRecord], base: str | None) -> Any:
        load = summary.load_point()
        return CellGroup(
            summary.server,
            base,
            summary.bucket,
            load,
            [summary],
            columns_of(records, load.is_open, load.concurrency),
        )

    return SpeedupAnalysis().row(
        group(baseline, base_records, None), group(variant, variant_records, baseline.server)
    )
