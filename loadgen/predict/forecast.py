"""Predictions with intervals: the point model's simulation, and the 5-95% range over refits on
bootstrap draws (common random numbers: every refit replays the same seed, so the range is the
fit's uncertainty, not the simulation's sampling noise)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadgen.load.point import LoadPoint
from loadgen.predict.limits import UNKNOWN, ServerLimits
from loadgen.predict.model import CannotFit, ServerModel, bootstrap_models
from loadgen.predict.observe import CellObs
from loadgen.predict.simulate import simulate

MAX_SIM_REQUESTS = 2000


@dataclass
class Fitted:
    point: ServerModel
    refits: list[ServerModel]
    cells: list[CellObs] = field(repr=False)

    @property
    def models(self) -> list[ServerModel]:
        """The point model, then the refits."""
        return [self.point, *self.refits]

    def measured(self, bucket: str, load: LoadPoint) -> CellObs | None:
        return next((c for c in self.cells if c.bucket == bucket and c.load == load), None)

    def for_category(self, category: str | None) -> Fitted:
        """Point and refits for one category's traffic (None: each bucket's measured mix)."""
        if category is None:
            return self
        refits = [m.for_category(category) for m in self.refits]
        return Fitted(self.point.for_category(category), refits, self.cells)


def fit_all(
    cells: Sequence[CellObs],
    draws: int,
    seed: int = 0,
    limits: Mapping[str, ServerLimits] | None = None,
) -> dict[str, Fitted]:
    """Every server's point model and refits; ``limits`` per server (absent: none known)."""
    by_server: dict[str, list[CellObs]] = {}
    for cell in cells:
        by_server.setdefault(cell.server, []).append(cell)
    problems, fitted = [], {}
    for server, mine in sorted(by_server.items()):
        try:
            known = (limits or {}).get(server, UNKNOWN)
            point, refits = bootstrap_models(mine, draws, seed, known)
            fitted[server] = Fitted(point, refits, mine)
        except CannotFit as exc:
            problems.append(str(exc))
    if problems:
        raise CannotFit("cannot predict yet:\n  " + "\n  ".join(problems))
    return fitted


# Closed loop: every user sends at once at the start, so the first wave's TTFT (c prefills in
# one step) is 1/requests_per_user of the requests; at 20 per user it stays above p90.
PER_USER = 20


def sim_requests(load: LoadPoint) -> int:
    """Requests of a predicted cell: long enough that the grid means steady operation. (Replaying
    a measured cell's own few requests made a curve's points mean different things: at the
    measured c=8 with 16 requests half of them were the first wave, at c=16 with 200 a tenth,
    so the predicted TTFT p90 fell from 279 ms at c=8 to 89 ms at c=16 on vLLM-CPU.)"""
    if load.is_open:
        return 400
    users = int(load.concurrency or 1)
    return max(200, min(MAX_SIM_REQUESTS, PER_USER * users), 4 * users)


def figures(
    model: ServerModel, bucket: str, load: LoadPoint, osl: float | None = None, seed: int = 0
) -> dict[str, float]:
    """One model's figures at one cell of steady operation (``osl`` None: the model's own)."""
    return simulate(model, bucket, load, sim_requests(load), osl, seed).figures()


def summarise(point: dict[str, float], refits: Sequence[dict[str, float]]) -> dict[str, Any]:
    """A prediction from the point model's figures and its refits': ``{figure: value}`` plus
    ``intervals`` ``{figure: [low, high]}`` and ``samples`` (the refits' tok/s, for paired
    ratios), measured or not (held-out validation replays measured cells as they ran:
    loadgen.predict.holdout)."""
    out: dict[str, Any] = dict(point)
    out["intervals"] = (
        {k: [float(np.quantile([r[k] for r in refits], q)) for q in (0.05, 0.95)] for k in point}
        if refits
        else {}
    )
    out["samples"] = [r["tok_s"] for r in refits]
    return out


def speedup(sd: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """tok/s of SD over its baseline, the interval from paired refits."""
    ratios = np.asarray(sd["samples"]) / np.asarray(base["samples"]) if sd["samples"] else []
    low, high = np.quantile(ratios, [0.05, 0.95]) if len(ratios) else (np.nan, np.nan)
    return {"value": sd["tok_s"] / base["tok_s"], "interval": [float(low), float(high)]}


def public(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if k != "samples"}
