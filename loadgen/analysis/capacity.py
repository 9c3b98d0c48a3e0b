"""Capacity-planning answers drawn from the speedup rows and the cell groups.

Load points form series (closed loop ordered by concurrency; open loop, per arrival process,
ordered by rate), and each answer is given per series:

- crossover: per SD variant and bucket, the lowest measured load from which SD no longer pays off
  (tok/s speedup <= 1 there and at every higher load), or "not reached";
- SLO capacity: per server and bucket, the highest concurrency (or rate) whose TTFT and TPOT
  percentiles meet the plan's SLOs -- at a rate, only if the server also kept to the schedule --
  and the output tok/s it delivers;
- best draft length: among SD variants of one method and baseline, the best per bucket x load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadgen.analysis.bootstrap import ALL
from loadgen.analysis.groups import CellGroup, bucket_order
from loadgen.analysis.speedup import SpeedupRow
from loadgen.load.point import CLOSED, LoadPoint

NOT_REACHED = "not reached"


def _where(series: str, at: LoadPoint | None) -> dict[str, Any]:
    """The flat form of a series' answer: its label, concurrency or rate (null: none)."""
    return {
        "series": series,
        "load": at.label if at else None,
        "concurrency": at.concurrency if at else None,
        "rate_rps": at.rate if at else None,
    }


@dataclass(frozen=True)
class Crossover:
    variant: str
    bucket: str
    series: str
    at: LoadPoint | None  # None: SD pays off up to the highest load measured
    ci_excludes_one: bool | None

    @property
    def concurrency(self) -> int | str | None:
        return NOT_REACHED if self.at is None else self.at.concurrency

    @property
    def label(self) -> str:
        return NOT_REACHED if self.at is None else self.at.label

    def to_dict(self) -> dict[str, Any]:
        where = _where(self.series, self.at) | {"load": self.label}
        if self.at is None:
            where[("concurrency" if self.series == CLOSED else "rate_rps")] = NOT_REACHED
        return {"variant": self.variant, "bucket": self.bucket, **where,
                "ci_excludes_one": self.ci_excludes_one}  # fmt: skip


def crossovers(rows: Sequence[SpeedupRow]) -> list[Crossover]:
    series: dict[tuple[str, str, str], list[SpeedupRow]] = {}
    for row in rows:
        if row.category == ALL and row.speedup_output_tps is not None:
            series.setdefault((row.variant, row.bucket, row.load.series), []).append(row)
    out = []
    for (variant, bucket, kind), points in sorted(series.items()):
        points.sort(key=lambda r: r.load.level)
        found: SpeedupRow | None = None
        for row in reversed(points):
            if (row.speedup_output_tps or 0) > 1:
                break
            found = row
        if found is None:
            out.append(Crossover(variant, bucket, kind, None, None))
        else:
            excludes = None if found.ci_high is None else found.ci_high < 1
            out.append(Crossover(variant, bucket, kind, found.load, excludes))
    return out


@dataclass(frozen=True)
class SloCapacity:
    server: str
    baseline: str | None
    bucket: str
    series: str
    at: LoadPoint | None  # None: no measured load meets the SLOs
    output_tps: float | None
    ttft_ms: float | None
    tpot_ms: float | None

    @property
    def concurrency(self) -> int | None:
        return None if self.at is None else self.at.concurrency

    def to_dict(self) -> dict[str, Any]:
        return {"server": self.server, "baseline": self.baseline, "bucket": self.bucket,
                **_where(self.series, self.at), "output_tps": self.output_tps,
                "ttft_ms": self.ttft_ms, "tpot_ms": self.tpot_ms}  # fmt: skip


def slo_capacity(groups: Sequence[CellGroup], slos: Mapping[str, Any]) -> list[SloCapacity]:
    """``slos``: ``{"ttft_ms": .., "tpot_ms": .., "percentile": "p90"}`` (either may be null).
    Open-loop TTFT counts from the intended send time; a rate the server fell behind on fails."""
    pct = slos.get("percentile", "p90")
    series: dict[tuple[str, str, str], list[CellGroup]] = {}
    for g in groups:
        series.setdefault((g.server, g.bucket, g.load.series), []).append(g)
    out = []
    for (server, bucket, kind), cells in sorted(
        series.items(), key=lambda i: (bucket_order(i[0][1]), i[0][0], i[0][2])
    ):
        best: tuple[CellGroup, float | None, float | None] | None = None
        for g in sorted(cells, key=lambda c: c.load.level):
            ttft = g.summary_distribution("ttft_ms", pct)
            tpot = g.summary_distribution("tpot_ms", pct)
            if (
                _meets(ttft, slos.get("ttft_ms"))
                and _meets(tpot, slos.get("tpot_ms"))
                and g.kept_up
            ):
                best = (g, ttft, tpot)
        if best is None:
            out.append(SloCapacity(server, cells[0].baseline, bucket, kind, None, None, None, None))
        else:
            g, ttft, tpot = best
            out.append(
                SloCapacity(server, g.baseline, bucket, kind, g.load, g.output_tps, ttft, tpot)
            )
    return out


def _meets(value: float | None, limit: float | None) -> bool:
    return limit is None or (value is not None and value <= limit)


@dataclass(frozen=True)
class BestDraft:
    baseline: str
    method: str
    bucket: str
    load: LoadPoint
    variant: str
    speedup_output_tps: float | None
    candidates: int

    @property
    def concurrency(self) -> int | None:
        return self.load.concurrency

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "method": self.method, "bucket": self.bucket,
                **_where(self.load.series, self.load), "variant": self.variant,
                "speedup_output_tps": self.speedup_output_tps,
                "candidates": self.candidates}  # fmt: skip


def best_draft_lengths(
    rows: Sequence[SpeedupRow], methods: Mapping[str, str | None]
) -> list[BestDraft]:
    """Only where a plan holds several variants of one method against one baseline."""
    groups: dict[tuple[str, str, str, LoadPoint], list[SpeedupRow]] = {}
    for row in rows:
        method = methods.get(row.variant)
        if row.category == ALL and method:
            groups.setdefault((row.baseline, method, row.bucket, row.load), []).append(row)
    out = []
    for (baseline, method, bucket, load), cands in groups.items():
        if len(cands) < 2:
            continue
        best = max(cands, key=lambda r: r.speedup_output_tps or 0.0)
        out.append(
            BestDraft(
                baseline, method, bucket, load, best.variant, best.speedup_output_tps, len(cands)
            )
        )
    return sorted(out, key=lambda b: (bucket_order(b.bucket), b.load.sort_key(), b.method))
