"""Validation on held-out cells: refit without them, predict them as they ran, compare.

``cell``: leave one (bucket, load) point out -- every server's cell there, so the speedup at that
point is predicted too. ``load``: leave one load point out across all buckets (the harder test:
the model must interpolate or extrapolate along the load axis).

A held-out cell is predicted as it ran: its prompt and output lengths in the order they were sent
(the workload is the input, not a prediction: in a closed loop of a few users, which prompts come
together decides whether one's prefill stalls another's decode), its open-loop schedule; each
figure is the median over ``SEEDS`` simulations: the model's expected figure, not one more draw
(one 160-request draw of an SD cell's TTFT p90 wanders by a third; docs/BENCHMARKS.md).

Each open-loop row carries its ``utilization``, its rate over the refitted model's saturation
rate (``loadgen.predict.capacity``): near 1 a small error in the rate the engine sustains becomes a
large one in the latencies, and at or above 1 the cell is ``overloaded``: its latencies depend on
how long it ran. Each row also carries its ``support`` against the cells the model was fitted on
(``loadgen.predict.support``): leaving out the lowest or highest load, or the only bucket whose
requests found the server idle, makes the held-out cell an extrapolation. The errors are
summarised over every held-out cell, over the others (``steady``), the ones the model claims a
steady figure for, and over those ``inside`` the fitted cells' span (not extrapolated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from loadgen.predict.capacity import saturation_rate, utilization
from loadgen.predict.forecast import MAX_SIM_REQUESTS, fit_all
from loadgen.predict.limits import ServerLimits
from loadgen.predict.model import CannotFit, ServerModel
from loadgen.predict.observe import CellObs
from loadgen.predict.simulate import simulate
from loadgen.predict.support import EXTRAPOLATED, Support, support, weakest

FIGURES = ("tok_s", "tpot_mean_ms", "ttft_p90_ms")
SEEDS = 5


def holdout(
    cells: Sequence[CellObs],
    mode: str,
    limits: Mapping[str, ServerLimits] | None = None,
    own_acceptance: bool = False,
) -> dict[str, Any]:
    """``own_acceptance`` (a diagnostic, not a prediction): SD cells are simulated with their
    own measured tokens per step, which separates the step-time model's error from that of
    the held-out prompts' acceptance (never measured: a sweep's cells send disjoint prompts)."""
    key = (lambda c: (c.bucket, c.load)) if mode == "cell" else (lambda c: c.load)
    rows: list[dict[str, Any]] = []
    for held in sorted({key(c) for c in cells}, key=str):
        train = [c for c in cells if key(c) != held]
        try:
            fitted = fit_all(train, 0, 0, limits)
        except CannotFit:
            continue  # e.g. only one load left to fit from: not a prediction this model makes
        models = {s: f.point for s, f in fitted.items()}
        rows += judge(models, [c for c in cells if key(c) == held], train, own_acceptance)
    return {"mode": mode, "rows": rows, "errors": summary(rows)}


def judge(
    models: Mapping[str, ServerModel],
    out: Sequence[CellObs],
    train: Sequence[CellObs],
    own_acceptance: bool = False,
) -> list[dict[str, Any]]:
    """One row per cell of ``out`` predicted as it ran, and one per SD cell's speedup over its
    baseline's cell (both in ``out``); cells of servers not in ``models`` are left out. ``train``:
    the cells the models were fitted on (each row's support is judged against its server's)."""
    out = [c for c in out if c.server in models]
    rows: list[dict[str, Any]] = []
    predicted: dict[str, dict[str, float]] = {}  # by cell path: repeats are cells apart
    load_of: dict[str, float | None] = {}  # by cell path: utilization (open loop)
    supported: dict[str, Support] = {
        c.path: support([t for t in train if t.server == c.server], c.bucket, c.load) for c in out
    }
    for cell in out:
        n = int(min(MAX_SIM_REQUESTS, cell.measured["requests"]))
        model = models[cell.server]
        if own_acceptance:
            model = model.with_acceptance(cell.bucket, cell.step_tokens)
        draws = [
            simulate(
                model, cell.bucket, cell.load, n, cell.osl, s, cell.sends_ms, cell.prompts
            ).figures()
            for s in range(SEEDS)
        ]
        predicted[cell.path] = figures = {f: float(np.median([d[f] for d in draws]))
                                          for f in draws[0]}  # fmt: skip
        osl = float(np.median(cell.osl)) if cell.osl.size else None
        load_of[cell.path] = (
            utilization(cell.load, saturation_rate(model, cell.bucket, osl))
            if cell.load.is_open
            else None
        )
        rows.append(_row(cell, figures, load_of[cell.path], supported[cell.path]))
    for cell in out:
        base = _baseline_of(cell, out)
        if base is not None:
            measured = cell.measured["tok_s"] / base.measured["tok_s"]
            pred = predicted[cell.path]["tok_s"] / predicted[base.path]["tok_s"]
            both = [u for u in (load_of[cell.path], load_of[base.path]) if u is not None]
            rows.append(
                _row(
                    cell,
                    {"speedup": pred},
                    max(both, default=None),
                    weakest(supported[cell.path], supported[base.path]),
                    {"speedup": measured},
                )
            )
    return rows


def _baseline_of(cell: CellObs, cells: Sequence[CellObs]) -> CellObs | None:
    """The baseline's cell at the same bucket and load, of the same run and repeat when there
    are several (a sweep writes ``cells/<server>/<bucket>/<load>[/r<repeat>]``)."""
    same = [
        b
        for b in cells
        if b.server == cell.baseline and b.bucket == cell.bucket and b.load == cell.load
    ]
    mine = cell.path.replace(f"/cells/{cell.server}/", f"/cells/{cell.baseline}/", 1)
    return next((b for b in same if b.path == mine), same[0] if same else None)


def _row(
    cell: CellObs,
    predicted: dict[str, float],
    used: float | None,
    held: Support,
    measured: dict[str, float] | None = None,
) -> dict[str, Any]:
    truth = measured or cell.measured
    figs = [f for f in predicted if f in truth and (f in FIGURES or f == "speedup")]
    return {
        "server": cell.server,
        "bucket": cell.bucket,
        "load": cell.load.label,
        "utilization": used,  # open loop: rate / the refitted model's saturation rate
        "overloaded": used is not None and used >= 1,
        "support": held.to_dict(),
        **{
            f: {
                "measured": truth[f],
                "predicted": predicted[f],
                "error": predicted[f] / truth[f] - 1,
            }
            for f in figs
        },
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for figure in (*FIGURES, "speedup"):
        every = _errors([r for r in rows if figure in r], figure)
        if every:
            steady = _errors([r for r in rows if figure in r and not r["overloaded"]], figure)
            inside = [r for r in rows if figure in r and r["support"]["kind"] != EXTRAPOLATED]
            out[figure] = {**every, "steady": steady, "inside": _errors(inside, figure)}
    return out


def _errors(rows: list[dict[str, Any]], figure: str) -> dict[str, Any]:
    """Median and max absolute relative error of one figure over ``rows`` (none: empty)."""
    errs = np.abs([r[figure]["error"] for r in rows])
    if not len(errs):
        return {}
    return {"median_abs": float(np.median(errs)), "max_abs": float(errs.max()), "cells": len(errs)}
