"""Validation on another sweep: the model fitted on one results dir predicts the cells of another
(measured later, or on another day) as they ran, and is judged on them.

A held-out cell (``loadgen.predict.holdout``) still shares its sweep's hour, server launch and
machine state with the cells the model was fitted on; another sweep shares none of them, so its
errors are the ones a capacity review meets when it acts on a prediction. Where both sweeps
measured the same cell (server, bucket, load), the row also carries how far the first sweep's own
measurement lies from the second's: the error of "predicting" by re-using the earlier figure, and
the floor under any model's error on that cell (the same plan's closed-loop cells send the same
prompts, so what differs is the engine's and the machine's noise).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from loadgen.predict.holdout import FIGURES, judge, summary
from loadgen.predict.model import ServerModel
from loadgen.predict.observe import CellObs

MODE = "sweep"


class NothingToJudge(ValueError):
    """The other sweep has no cell of a server the model was fitted for."""


def against(
    models: Mapping[str, ServerModel],
    fitted_on: Sequence[CellObs],
    other: Sequence[CellObs],
    label: str,
    differences: Sequence[str] = (),
) -> dict[str, Any]:
    """``models`` fitted on ``fitted_on``; ``other``'s cells predicted as they ran (their prompt
    and output lengths in send order, open-loop schedule); ``label`` names the other sweep;
    ``differences``: how its launches differ (``loadgen.predict.launches``), kept with errors."""
    rows = judge(models, other, fitted_on)
    if not rows:
        servers = sorted({c.server for c in other})
        raise NothingToJudge(
            f"{label}: none of its servers ({', '.join(servers) or 'no cells'}) was fitted "
            f"here ({', '.join(sorted(models))}); validate on a sweep of the same servers"
        )
    earlier = _earlier_figures(fitted_on)
    for row in rows:
        mine = earlier.get((row["server"], row["bucket"], row["load"]), {})
        row["remeasured"] = {
            f: mine[f] / row[f]["measured"] - 1
            for f in (*FIGURES, "speedup")
            if f in row and f in mine
        }
    return {
        "mode": MODE,
        "against": label,
        "launch_differences": list(differences),
        "rows": rows,
        "errors": summary(rows),
        "remeasured": _remeasured(rows),
    }


def _earlier_figures(cells: Sequence[CellObs]) -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (server, bucket, load label): the median of each figure over the sweep's repeats,
    and an SD server's speedup as the ratio of its and its baseline's median tok/s."""
    repeats: dict[tuple[str, str, str], list[CellObs]] = defaultdict(list)
    for c in cells:
        repeats[(c.server, c.bucket, c.load.label)].append(c)
    out = {
        key: {f: float(np.median([c.measured[f] for c in cs])) for f in FIGURES}
        for key, cs in repeats.items()
    }
    for (server, bucket, load), cs in repeats.items():
        base = out.get((cs[0].baseline or "", bucket, load))
        if base is not None:
            mine = out[server, bucket, load]
            mine["speedup"] = mine["tok_s"] / base["tok_s"]
    return out


def _remeasured(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per figure, over the cells both sweeps measured: the earlier measurement's median / max
    absolute difference from this one, and the model's error on the same cells."""
    out: dict[str, dict[str, Any]] = {}
    for figure in (*FIGURES, "speedup"):
        both = [r for r in rows if figure in r.get("remeasured", {})]
        if both:
            again = np.abs([r["remeasured"][figure] for r in both])
            model = np.abs([r[figure]["error"] for r in both])
            out[figure] = {
                "cells": len(both),
                "median_abs": float(np.median(again)),
                "max_abs": float(again.max()),
                "model_median_abs": float(np.median(model)),
                "model_max_abs": float(model.max()),
            }
    return out
