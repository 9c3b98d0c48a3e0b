"""Capacity answers from the simulated model: SLO capacity (highest Poisson rate one replica
sustains within TTFT/TPOT percentile limits), replicas for a target rate, SD's crossover load, and
which unmeasured cells would narrow the intervals most."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from loadgen.load.point import LoadPoint
from loadgen.predict.forecast import Fitted, predict
from loadgen.predict.model import ServerModel
from loadgen.predict.simulate import simulate

SLO_REQUESTS = 400


@dataclass(frozen=True)
class Slo:
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    percentile: str = "p90"

    def met(self, figures: dict[str, float]) -> bool:
        ttft = figures[f"ttft_{self.percentile}_ms"]
        tpot = figures.get(f"tpot_{self.percentile}_ms", figures["tpot_p90_ms"])
        return (self.ttft_ms is None or ttft <= self.ttft_ms) and (
            self.tpot_ms is None or tpot <= self.tpot_ms
        )

    def to_dict(self) -> dict[str, Any]:
        return {"ttft_ms": self.ttft_ms, "tpot_ms": self.tpot_ms, "percentile": self.percentile}


def slo_rate(model: ServerModel, bucket: str, slo: Slo, osl: float | None = None) -> float:
    """Highest Poisson rate (requests/s) within the SLO; 0 when even a trickle misses it."""

    def ok(rate: float) -> bool:
        load = LoadPoint.open(rate)
        return slo.met(simulate(model, bucket, load, SLO_REQUESTS, osl, seed=7).figures())

    low, high = 0.0, 0.5
    if not ok(0.01):
        return 0.0
    while ok(high) and high < 1e5:
        low, high = high, high * 2
    for _ in range(7):  # within 1% of the doubling bracket
        mid = (low + high) / 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


def capacity(
    fit: Fitted,
    bucket: str,
    slo: Slo,
    target_rps: float | None,
    draws: int = 4,
    osl: float | None = None,
) -> dict[str, Any]:
    rate = slo_rate(fit.point, bucket, slo, osl)
    spread = [slo_rate(m, bucket, slo, osl) for m in fit.refits[:draws]]
    out: dict[str, Any] = {
        "server": fit.point.server,
        "bucket": bucket,
        "max_rate_rps": rate,
        "interval": [float(np.quantile(spread, q)) for q in (0.05, 0.95)] if spread else [],
    }
    if target_rps is not None:
        out["target_rps"] = target_rps
        out["replicas"] = math.ceil(target_rps / rate) if rate > 0 else None
    return out


def crossover(variant: str, bucket: str, ratios: dict[int, float]) -> dict[str, Any]:
    """Lowest concurrency from which SD's predicted speedup (``ratios`` by concurrency, closed
    loop) stays <= 1."""
    found = None
    for c in sorted(ratios, reverse=True):
        if ratios[c] > 1:
            break
        found = c
    return {"variant": variant, "bucket": bucket, "concurrency": found or "not reached"}


def suggest(
    fitted: dict[str, Fitted],
    buckets: Sequence[str],
    loads: Sequence[LoadPoint],
    count: int,
    osl: float | None = None,
) -> list[dict[str, Any]]:
    """Unmeasured (bucket, load) points ranked by the widest relative tok/s interval over all
    servers: where the refits disagree most, a measurement constrains the model most."""
    scored: list[dict[str, Any]] = []
    for bucket in buckets:
        for load in loads:
            if all(f.measured(bucket, load) for f in fitted.values()):
                continue
            width = 0.0
            for fit in fitted.values():
                p = predict(fit, bucket, load, osl)
                low, high = p["intervals"]["tok_s"]
                width += (high - low) / p["tok_s"]
            scored.append({"bucket": bucket, "load": load.label, "relative_width": width})
    return sorted(scored, key=lambda s: -s["relative_width"])[:count]
