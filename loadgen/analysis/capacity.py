"""Capacity-planning answers drawn from the speedup rows and the cell groups.

- crossover: per SD variant and bucket, the lowest measured concurrency from which SD no longer
  pays off (tok/s speedup <= 1 there and at every higher concurrency), or "not reached";
- SLO capacity: per server and bucket, the highest concurrency whose TTFT and TPOT percentiles
  meet the plan's SLOs, and the output tok/s it delivers;
- best draft length: among SD variants of one method and baseline, the best per bucket x
  concurrency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from loadgen.analysis.bootstrap import ALL
from loadgen.analysis.groups import CellGroup, bucket_order
from loadgen.analysis.speedup import SpeedupRow

NOT_REACHED = "not reached"


@dataclass(frozen=True)
class Crossover:
    variant: str
    bucket: str
    concurrency: int | str
    ci_excludes_one: bool | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def crossovers(rows: Sequence[SpeedupRow]) -> list[Crossover]:
    series: dict[tuple[str, str], list[SpeedupRow]] = {}
    for row in rows:
        if row.category == ALL and row.speedup_output_tps is not None:
            series.setdefault((row.variant, row.bucket), []).append(row)
    out = []
    for (variant, bucket), points in sorted(series.items()):
        points.sort(key=lambda r: r.concurrency)
        found: SpeedupRow | None = None
        for row in reversed(points):
            if (row.speedup_output_tps or 0) > 1:
                break
            found = row
        if found is None:
            out.append(Crossover(variant, bucket, NOT_REACHED, None))
        else:
            excludes = None if found.ci_high is None else found.ci_high < 1
            out.append(Crossover(variant, bucket, found.concurrency, excludes))
    return out


@dataclass(frozen=True)
class SloCapacity:
    server: str
    baseline: str | None
    bucket: str
    concurrency: int | None
    output_tps: float | None
    ttft_ms: float | None
    tpot_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def slo_capacity(groups: Sequence[CellGroup], slos: Mapping[str, Any]) -> list[SloCapacity]:
    """``slos``: ``{"ttft_ms": .., "tpot_ms": .., "percentile": "p90"}`` (either may be null)."""
    pct = slos.get("percentile", "p90")
    series: dict[tuple[str, str], list[CellGroup]] = {}
    for g in groups:
        series.setdefault((g.server, g.bucket), []).append(g)
    out = []
    for (server, bucket), cells in sorted(
        series.items(), key=lambda i: (bucket_order(i[0][1]), i[0][0])
    ):
        best: tuple[CellGroup, float | None, float | None] | None = None
        for g in sorted(cells, key=lambda c: c.concurrency):
            ttft = g.summary_distribution("ttft_ms", pct)
            tpot = g.summary_distribution("tpot_ms", pct)
            if _meets(ttft, slos.get("ttft_ms")) and _meets(tpot, slos.get("tpot_ms")):
                best = (g, ttft, tpot)
        if best is None:
            out.append(SloCapacity(server, cells[0].baseline, bucket, None, None, None, None))
        else:
            g, ttft, tpot = best
            out.append(
                SloCapacity(server, g.baseline, bucket, g.concurrency, g.output_tps, ttft, tpot)
            )
    return out


def _meets(value: float | None, limit: float | None) -> bool:
    return limit is None or (value is not None and value <= limit)


@dataclass(frozen=True)
class BestDraft:
    baseline: str
    method: str
    bucket: str
    concurrency: int
    variant: str
    speedup_output_tps: float | None
    candidates: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def best_draft_lengths(
    rows: Sequence[SpeedupRow], methods: Mapping[str, str | None]
) -> list[BestDraft]:
    """Only where a plan holds several variants of one method against one baseline."""
    groups: dict[tuple[str, str, str, int], list[SpeedupRow]] = {}
    for row in rows:
        method = methods.get(row.variant)
        if row.category == ALL and method:
            groups.setdefault((row.baseline, method, row.bucket, row.concurrency), []).append(row)
    out = []
    for (baseline, method, bucket, conc), cands in groups.items():
        if len(cands) < 2:
            continue
        best = max(cands, key=lambda r: r.speedup_output_tps or 0.0)
        out.append(
            BestDraft(
                baseline, method, bucket, conc, best.variant, best.speedup_output_tps, len(cands)
            )
        )
    return sorted(out, key=lambda b: (bucket_order(b.bucket), b.concurrency, b.method))
