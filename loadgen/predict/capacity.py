"""Capacity answers from the simulated model: saturation (the most requests/s one replica
completes), SLO capacity (highest Poisson rate one replica sustains within TTFT/TPOT percentile
limits, never above saturation), replicas for a target rate, SD's crossover load, and which
unmeasured cells would narrow the intervals most."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from loadgen.analysis.groups import bucket_order
from loadgen.load.point import LoadPoint
from loadgen.predict.forecast import Fitted
from loadgen.predict.model import ServerModel
from loadgen.predict.simulate import simulate
from loadgen.predict.support import MIN_IDLE

SLO_REQUESTS = 400
SATURATION_PER_USER = 3
UNBOUNDED_SLOTS = 256  # batch slots when nothing bounds the batch (vLLM's max_num_seqs default)


@dataclass(frozen=True)
class Slo:
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    percentile: str = "p90"

    @property
    def given(self) -> bool:
        """Whether any limit was set (else there is no SLO capacity to find)."""
        return self.ttft_ms is not None or self.tpot_ms is not None

    def met(self, figures: dict[str, float]) -> bool:
        ttft = figures[f"ttft_{self.percentile}_ms"]
        tpot = figures.get(f"tpot_{self.percentile}_ms", figures["tpot_p90_ms"])
        return (self.ttft_ms is None or ttft <= self.ttft_ms) and (
            self.tpot_ms is None or tpot <= self.tpot_ms
        )

    def to_dict(self) -> dict[str, Any]:
        return {"ttft_ms": self.ttft_ms, "tpot_ms": self.tpot_ms, "percentile": self.percentile}


def batch_slots(model: ServerModel) -> int:
    """Sequences one step can hold: the batch limit, else the token budget over the verification
    width, else ``UNBOUNDED_SLOTS``."""
    if model.batch_limit:
        return model.batch_limit
    if model.token_budget:
        return max(1, model.token_budget // model.width)
    return UNBOUNDED_SLOTS


def saturation_rate(model: ServerModel, bucket: str, osl: float | None = None) -> float:
    """Requests/s one replica completes when it is never short of work: a closed loop of twice
    as many users as it has batch slots, over the middle half of its completions. An open loop
    above it queues without bound, so its latencies grow with how long the load lasts: no steady
    figure exists there (``overloaded`` in a prediction)."""
    users = 2 * batch_slots(model)
    load = LoadPoint.closed(users)
    return simulate(model, bucket, load, SATURATION_PER_USER * users, osl, seed=7).steady_rate()


def utilization(load: LoadPoint, saturation: float) -> float | None:
    """An open loop's rate over the saturation rate (None: a closed loop, which cannot queue
    without bound). Near 1 a latency is fragile: a queue's wait grows as u / (1 - u), so an error
    of 1% in the rate the replica sustains is one of about u / (1 - u) % in the wait."""
    return float(load.rate or 0.0) / saturation if load.is_open and saturation > 0 else None


def overloaded(load: LoadPoint, saturation: float) -> bool:
    """An open loop at or above the saturation rate: no steady latency exists."""
    u = utilization(load, saturation)
    return u is not None and u >= 1


def slo_rate(
    model: ServerModel, bucket: str, slo: Slo, osl: float | None = None, ceiling: float = 0.0
) -> float:
    """Highest Poisson rate (requests/s) within the SLO, found by bisection below ``ceiling`` (the
    saturation rate: a short simulation at or above it may still meet the SLO while its queue
    grows); 0 when even a trickle (1% of saturation) misses it."""

    def ok(rate: float) -> bool:
        load = LoadPoint.open(rate)
        return slo.met(simulate(model, bucket, load, SLO_REQUESTS, osl, seed=7).figures())

    low, high = 0.0, ceiling or saturation_rate(model, bucket, osl)
    if not ok(0.01 * high):
        return 0.0
    for _ in range(8):  # to 0.4% of the saturation rate
        mid = (low + high) / 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


def replica_limits(
    model: ServerModel, bucket: str, slo: Slo | None, osl: float | None = None
) -> tuple[float, float | None]:
    """One model's saturation rate and SLO capacity (None without an SLO), in requests/s."""
    saturation = saturation_rate(model, bucket, osl)
    return saturation, (slo_rate(model, bucket, slo, osl, saturation) if slo else None)


def capacity(
    server: str,
    bucket: str,
    limits: Sequence[tuple[float, float | None]],
    target_rps: float | None,
) -> dict[str, Any]:
    """SLO capacity and replicas from ``replica_limits`` of the point model, then of refits
    (their 5-95% range is the interval)."""
    saturation = [s for s, _ in limits]
    rates = [r or 0.0 for _, r in limits]
    out: dict[str, Any] = {
        "server": server,
        "bucket": bucket,
        "max_rate_rps": rates[0],
        "interval": _interval(rates[1:]),
        "saturation_rps": saturation[0],
        "saturation_interval": _interval(saturation[1:]),
    }
    if target_rps is not None:
        out["target_rps"] = target_rps
        out["replicas"] = math.ceil(target_rps / rates[0]) if rates[0] > 0 else None
    return out


def _interval(values: Sequence[float]) -> list[float]:
    return [float(np.quantile(values, q)) for q in (0.05, 0.95)] if values else []


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
    predictions: Mapping[tuple[str, str, LoadPoint], dict[str, Any]],
    fitted: Mapping[str, Fitted],
    count: int,
) -> list[dict[str, Any]]:
    """Unmeasured (bucket, load) points ranked by the widest relative tok/s interval over all
    servers: where the refits disagree most, a measurement constrains the model most. Ahead of
    them, c=1 in each measured bucket where fewer than ``MIN_IDLE`` of a server's requests found
    it idle: only such TTFTs pin the prefill terms, and refits of the same busy cells share one
    guess at them, so their intervals cannot show what is missing (``loadgen.predict.support``)."""
    width: dict[tuple[str, LoadPoint], float] = {}
    for (_, bucket, load), p in predictions.items():
        if p["intervals"] and not all(f.measured(bucket, load) for f in fitted.values()):
            low, high = p["intervals"]["tok_s"]
            width[(bucket, load)] = width.get((bucket, load), 0.0) + (high - low) / p["tok_s"]
    alone = LoadPoint.closed(1)
    pins: dict[str, list[str]] = {}  # bucket -> servers whose prefill it would pin
    for server, f in fitted.items():
        for bucket, idle in f.point.idle_requests.items():
            if idle < MIN_IDLE and not f.measured(bucket, alone):
                pins.setdefault(bucket, []).append(server)
    first = [
        {
            "bucket": b,
            "load": alone.label,
            "relative_width": width.get((b, alone), 0.0),
            "reason": f"pins the prefill of {', '.join(servers)} (too few requests found it "
            f"idle in {b})",
        }
        for b, servers in sorted(pins.items(), key=lambda item: bucket_order(item[0]))
    ]
    pinning = {(b, alone) for b in pins}
    ranked = sorted(((k, w) for k, w in width.items() if k not in pinning), key=lambda i: -i[1])
    then = [
        {"bucket": b, "load": ld.label, "relative_width": w, "reason": "widest tok/s interval"}
        for (b, ld), w in ranked
    ]
    return (first + then)[:count]
