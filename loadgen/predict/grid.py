"""Every simulation of one ``speedbench predict``, run as one batch over the machine's cores.

The grid (each server's point model and refits at every bucket x load), each server x bucket's
saturation rate and, with an SLO, its SLO capacity (the point model's and the first refits') are
independent, seeded simulations: one ``parallel_map`` runs them all (results come back in input
order, so no figure depends on the split) and they are assembled here.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from loadgen.analysis.parallel import parallel_map
from loadgen.load.point import LoadPoint
from loadgen.predict.capacity import Slo, capacity, replica_limits
from loadgen.predict.forecast import Fitted, figures, summarise

CAPACITY_DRAWS = 4  # refits whose SLO capacity gives its interval (each one is a bisection)

Cell = tuple[str, str, LoadPoint]  # server, bucket, load


@dataclass(frozen=True)
class Simulated:
    predictions: dict[Cell, dict[str, Any]]  # loadgen.predict.forecast.summarise
    saturation: dict[tuple[str, str], float]  # the point model's, requests/s
    capacity: dict[tuple[str, str], dict[str, Any]]  # loadgen.predict.capacity (with an SLO)


def simulate_all(
    fitted: Mapping[str, Fitted],
    buckets: Sequence[str],
    loads: Sequence[LoadPoint],
    slo: Slo,
    target_rps: float | None = None,
    osl: float | None = None,
) -> Simulated:
    cells = [(s, b, ld) for s in fitted for b in buckets for ld in loads]
    sides = [(s, b) for s in fitted for b in buckets]
    bounded = {
        s: (f.models[: 1 + CAPACITY_DRAWS] if slo.given else [f.point]) for s, f in fitted.items()
    }
    jobs: list[partial[Any]] = [
        partial(replica_limits, m, b, slo if slo.given else None, osl)
        for s, b in sides
        for m in bounded[s]
    ]  # the longest jobs first: the pool's last chunks are then short ones
    jobs += [partial(figures, m, b, ld, osl) for s, b, ld in cells for m in fitted[s].models]
    done = iter(parallel_map(operator.call, jobs, min_items=8))
    limits = {side: [next(done) for _ in bounded[side[0]]] for side in sides}
    predictions = {}
    for cell in cells:
        point = next(done)
        predictions[cell] = summarise(point, [next(done) for _ in fitted[cell[0]].refits])
    return Simulated(
        predictions,
        {side: lim[0][0] for side, lim in limits.items()},
        {side: capacity(*side, lim, target_rps) for side, lim in limits.items()}
        if slo.given
        else {},
    )
