"""Predictions with intervals: the point model's simulation, and the 5-95% range over refits on
bootstrap draws (common random numbers: every refit replays the same seed, so the range is the
fit's uncertainty, not the simulation's sampling noise)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadgen.load.point import LoadPoint
from loadgen.predict.model import CannotFit, ServerModel, bootstrap_models
from loadgen.predict.observe import CellObs
from loadgen.predict.simulate import simulate

MAX_SIM_REQUESTS = 2000


@dataclass
class Fitted:
    point: ServerModel
    refits: list[ServerModel]
    cells: list[CellObs] = field(repr=False)

    def measured(self, bucket: str, load: LoadPoint) -> CellObs | None:
        return next((c for c in self.cells if c.bucket == bucket and c.load == load), None)


def fit_all(cells: Sequence[CellObs], draws: int, seed: int = 0) -> dict[str, Fitted]:
    by_server: dict[str, list[CellObs]] = {}
    for cell in cells:
        by_server.setdefault(cell.server, []).append(cell)
    problems, fitted = [], {}
    for server, mine in sorted(by_server.items()):
        try:
            point, refits = bootstrap_models(mine, draws, seed)
            fitted[server] = Fitted(point, refits, mine)
        except CannotFit as exc:
            problems.append(str(exc))
    if problems:
        raise CannotFit("cannot predict yet:\n  " + "\n  ".join(problems))
    return fitted


def sim_requests(load: LoadPoint) -> int:
    """Enough requests that ramp-up and drain weigh as little as in a usual cell."""
    if load.is_open:
        return 400
    return min(MAX_SIM_REQUESTS, max(200, 8 * int(load.concurrency or 1)))


def predict(
    fit: Fitted, bucket: str, load: LoadPoint, osl: float | None = None, seed: int = 0
) -> dict[str, Any]:
    """Figures at one cell: ``{figure: value}`` plus ``intervals`` ``{figure: [low, high]}`` and
    ``samples`` (the refits' tok/s, for paired ratios). A measured cell is replayed as it ran:
    its request count, output lengths and open-loop schedule."""
    cell = fit.measured(bucket, load)
    n, sends = sim_requests(load), None
    lengths: np.ndarray | float | None = osl
    if cell is not None and osl is None:
        n = int(min(MAX_SIM_REQUESTS, cell.measured["requests"]))
        lengths, sends = cell.osl, cell.sends_ms

    def one(model: ServerModel) -> dict[str, float]:
        return simulate(model, bucket, load, n, lengths, seed, sends).figures()

    point = one(fit.point)
    refits = [one(m) for m in fit.refits]
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
