"""Benchmark: ``speedbench predict``'s held-out errors on the FAKE step-law engine, judged against
the law's truth as well as against the single held-out cell.

A held-out cell is one draw of its figures: at 160 requests the FAKE engine's own TTFT p90 at SD
c=16 lands anywhere in +-30% of its seed-to-seed median. So the grid is measured ``--repeats``
more times on other seeds (open loop: the same arrival schedule, which the prediction replays,
with the engine's randomness redrawn); a figure's *truth* is its median over those repeats
(speedup: the median of the repeats' tok/s ratios), and the *floor* is how far a single repeat
lies from that truth (what a perfect model would still miss one cell by). Printed per held-out
mode and figure: median / max absolute error against the held-out cell, against the truth (over
every held-out cell, and over those inside the span of the cells the model was refitted on: not
the lowest or highest load), and the floor.

    python -m tests.benchmarks.bench_predict_fake [--requests 160] [--repeats 20] [--dir DIR]

The grid and laws are docs/BENCHMARKS.md's "Validation on a FAKE step-law engine".
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from loadgen.load.point import LoadPoint
from loadgen.predict.holdout import FIGURES, holdout
from loadgen.predict.observe import CellObs, read_cells
from loadgen.predict.support import EXTRAPOLATED
from tests.predict.fake_engine import Law, write_sweep

LAWS = [Law("base"), Law("sd", "base", a=9.0, b=0.9, k=3)]
BUCKETS = ["1k", "2k"]
LOADS = [LoadPoint.closed(c) for c in (1, 4, 16, 32)] + [LoadPoint.open(r) for r in (5.0, 10.0)]
Key = tuple[str, str, str]  # server, bucket, load label


def repeat_figures(runs: list[list[CellObs]]) -> dict[Key, dict[str, list[float]]]:
    """Per cell, each figure (and the speedup) as every repeat measured it."""
    out: dict[Key, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for cells in runs:
        mine = {c.key: c for c in cells}
        for c in cells:
            key = (c.server, c.bucket, c.load.label)
            for f in FIGURES:
                out[key][f].append(c.measured[f])
            base = mine.get((c.baseline or "", c.bucket, c.load))
            if base is not None:
                out[key]["speedup"].append(c.measured["tok_s"] / base.measured["tok_s"])
    return out


def judged(rows: list[dict[str, Any]], truth: dict[Key, dict[str, float]]) -> dict[str, Any]:
    """Per figure: |error| against the held-out cell and against the truth."""
    errs: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        key = (row["server"], row["bucket"], row["load"])
        for f in (*FIGURES, "speedup"):
            if f in row:
                errs[f]["cell"].append(abs(row[f]["error"]))
                errs[f]["truth"].append(abs(row[f]["predicted"] / truth[key][f] - 1))
                if row["support"]["kind"] != EXTRAPOLATED:
                    errs[f]["inside"].append(errs[f]["truth"][-1])
    return errs


def _pair(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{np.median(values):.1%} / {max(values):.1%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=160, help="requests per cell")
    ap.add_argument("--repeats", type=int, default=20, help="repeats that define the truth")
    ap.add_argument("--dir", type=Path, default=None, help="where the sweeps are written")
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-predict-fake-"))
    cells = read_cells(write_sweep(root / "held", LAWS, BUCKETS, LOADS, args.requests))
    runs = [
        read_cells(write_sweep(root / f"r{r}", LAWS, BUCKETS, LOADS, args.requests, 64, 1000 * r))
        for r in range(1, args.repeats + 1)
    ]
    seen = repeat_figures(runs)
    truth = {k: {f: float(np.median(v)) for f, v in figs.items()} for k, figs in seen.items()}
    floor: dict[str, list[float]] = defaultdict(list)
    for key, figs in seen.items():
        for f, values in figs.items():
            floor[f] += [abs(v / truth[key][f] - 1) for v in values]
    print(f"{args.requests} requests per cell, truth = median of {args.repeats} repeats")
    print(
        "| held out | figure | cells | vs the cell (median / max) | vs the truth | cells inside "
        "the refit's span | vs the truth there | floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for mode in ("cell", "load"):
        for f, e in judged(holdout(cells, mode)["rows"], truth).items():
            print(
                f"| one {mode} | {f} | {len(e['cell'])} | {_pair(e['cell'])} | "
                f"{_pair(e['truth'])} | {len(e['inside'])} | {_pair(e['inside'])} | "
                f"{_pair(floor[f])} |"
            )


if __name__ == "__main__":
    main()
