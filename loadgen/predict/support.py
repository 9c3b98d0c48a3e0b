"""Where a predicted point stands against what was measured: ``measured``, ``interpolated``
(inside the measured span on every axis) or ``extrapolated`` (with the reasons, each naming what to
measure to support it).

The model is linear in batch and context with one admission rule; outside the measured span it
extends straight through regime changes (batch limit, chunked prefill, preemption), so a reader
must see which figures rest on data and which on the straight line. Spans are per server:
closed-loop concurrencies, open-loop rates of each arrival process, buckets (by their token size)
and output lengths (the measured requests' range).

One more span is not an axis of the grid: the prompt sizes at which requests found the server
idle (c=1, a slow open loop). Their TTFTs pin the prefill terms (p, q; o where no engine histogram
measures it). Without them the prefill rests on the decode steps it slowed, where it is one term
among several, so a point whose bucket lies outside that span is extrapolated even inside the
grid's (a sweep of c=2 and 4 only: held-out tok/s off by up to 17%, docs/BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadgen.analysis.groups import bucket_order
from loadgen.load.point import LoadPoint
from loadgen.predict.observe import CellObs, idle_requests

MEASURED = "measured"
INTERPOLATED = "interpolated"
EXTRAPOLATED = "extrapolated"
MIN_IDLE = 3  # requests of a bucket that found the server idle, for its prefill to be pinned


@dataclass(frozen=True)
class Support:
    kind: str
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "reasons": list(self.reasons)}


def weakest(*supports: Support) -> Support:
    """The least supported of several (a speedup rests on both its servers' predictions)."""
    rank = (MEASURED, INTERPOLATED, EXTRAPOLATED)
    kind = max((s.kind for s in supports), key=rank.index)
    reasons = tuple(dict.fromkeys(r for s in supports for r in s.reasons))
    return Support(kind, reasons)


def _span(values: Sequence[float]) -> tuple[float, float] | None:
    return (min(values), max(values)) if values else None


def _outside(value: float, span: tuple[float, float] | None) -> bool:
    return span is None or not span[0] <= value <= span[1]


def _bucket_reason(cells: Sequence[CellObs], bucket: str) -> str | None:
    measured = sorted({c.bucket for c in cells}, key=bucket_order)
    if bucket in measured:
        return None
    if len(measured) == 1:
        return (
            f"bucket {bucket}: only {measured[0]} measured, so prefill per token and the fixed "
            f"overhead are not separable; measure a second bucket (e.g. {bucket})"
        )
    key = bucket_order(bucket)
    if bucket_order(measured[0]) < key < bucket_order(measured[-1]):
        return None
    return f"bucket {bucket} outside the measured {measured[0]}-{measured[-1]}; measure {bucket}"


def _load_reason(cells: Sequence[CellObs], load: LoadPoint) -> str | None:
    same = [c.load.level for c in cells if c.load.series == load.series]
    if not _outside(load.level, _span(same)):
        return None
    if not same:
        return f"{load.label}: no {load.series} cell measured; measure one"
    lo, hi = _span(same) or (0.0, 0.0)
    span = f"{lo:g} only" if lo == hi else f"{lo:g}-{hi:g}"
    return f"{load.label} outside the measured {load.series} loads ({span}); measure it"


def _osl_reason(cells: Sequence[CellObs], osl: int | None) -> str | None:
    if osl is None:
        return None
    lengths = [float(x) for c in cells for x in (c.osl.min(), c.osl.max()) if c.osl.size]
    span = _span(lengths)
    if not _outside(float(osl), span):
        return None
    lo, hi = span or (0.0, 0.0)
    return f"output length {osl} outside the measured {lo:g}-{hi:g} tokens; measure at --osl {osl}"


def idle_buckets(cells: Sequence[CellObs]) -> list[str]:
    """The buckets in which at least ``MIN_IDLE`` requests found the server idle, in size order."""
    seen = idle_requests(cells)
    return sorted((b for b, n in seen.items() if n >= MIN_IDLE), key=bucket_order)


def _prefill_reason(cells: Sequence[CellObs], bucket: str, beyond_grid: bool) -> str | None:
    """``beyond_grid``: the bucket lies outside the measured ones, a reason already given that
    measuring it (at c=1) cures, unless no request anywhere found the server idle."""
    idle = idle_buckets(cells)
    if not idle:
        return (
            f"no request found the server idle (no c=1 or open-loop cell), so prefill per token "
            f"rests on decode steps alone; measure {bucket} at c=1"
        )
    if beyond_grid or bucket_order(idle[0]) <= bucket_order(bucket) <= bucket_order(idle[-1]):
        return None
    span = idle[0] if len(idle) == 1 else f"{idle[0]}-{idle[-1]}"
    return (
        f"bucket {bucket}: requests found the server idle in {span} only, so its prefill rests "
        f"on decode steps; measure {bucket} at c=1"
    )


def support(
    cells: Sequence[CellObs],
    bucket: str,
    load: LoadPoint,
    osl: int | None = None,
    category: str | None = None,
) -> Support:
    """How far a prediction from one server's cells at (bucket, load, osl) rests on measurements;
    a measured cell predicted at another output length or for one category is interpolated."""
    axes = (_bucket_reason(cells, bucket), _load_reason(cells, load), _osl_reason(cells, osl))
    same_traffic = osl is None and category is None
    measured = any(c.bucket == bucket and c.load == load for c in cells)
    if same_traffic and measured and not any(axes):
        return Support(MEASURED)
    prefill = _prefill_reason(cells, bucket, beyond_grid=axes[0] is not None)
    reasons = tuple(r for r in (*axes, prefill) if r)
    return Support(EXTRAPOLATED, reasons) if reasons else Support(INTERPOLATED)
