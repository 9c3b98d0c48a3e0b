"""Benchmark: ``speedbench predict``'s held-out errors on real sweeps measured several times,
judged against the median of the repeats as well as against each single cell.

On a 2-core machine one 24-request cell of the real engine differs from its repeat by 5-22%
(median; ``bench_repeat_spread``), so a single held-out cell cannot tell a model's error from the
cell's noise. Here the same plan's sweeps (each from fresh servers) are pooled: every (bucket,
load) point is held out with all its repeats, the model is refitted on the other points of every
repeat, each repeat is predicted as it ran, and a figure's *truth* is the median over the repeats
(speedup: of the repeats' own tok/s ratios), its prediction the median of the repeats'
predictions. The *floor* is how far one repeat lies from the median of the others (what a
perfect model misses a single cell by). Printed per held-out mode and figure: median / max
absolute error against the single cells, against the truth, and the floor; then the points
predicted worst against the truth.

    python -m tests.benchmarks.bench_predict_repeats RUN_A RUN_B RUN_C [--own-acceptance]

``--own-acceptance`` is a diagnostic: every SD cell is simulated with its own measured tokens per
step, so what remains is the step-time model's error (a sweep's cells send disjoint prompts, and
one prompt's acceptance differs from another's far more than from its own repeat).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from loadgen.predict.holdout import holdout
from loadgen.predict.limits import limits_for, read_limits
from loadgen.predict.observe import read_cells
from tests.benchmarks.bench_predict_fake import Key, _pair, repeat_figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="results dirs of one plan, 3 or more")
    ap.add_argument(
        "--own-acceptance",
        action="store_true",
        help="diagnostic: simulate SD cells with their own prompts' tokens per step",
    )
    args = ap.parse_args()
    runs = [read_cells(run) for run in args.runs]
    launched = read_limits(args.runs[0])
    limits = {s: limits_for(launched, s, None) for s in {c.server for c in runs[0]}}
    seen = repeat_figures(runs)
    truth = {k: {f: float(np.median(v)) for f, v in figs.items()} for k, figs in seen.items()}
    floor: dict[str, list[float]] = defaultdict(list)  # a repeat against the others' median
    for figs in seen.values():
        for f, values in figs.items():
            for i, v in enumerate(values):
                others = values[:i] + values[i + 1 :]
                floor[f].append(float(abs(v / np.median(others) - 1)))
    stalled = ", ".join(str(sum(c.stalled for c in cells)) for cells in runs)
    print(f"{len(runs)} repeats; stalled requests per repeat: {stalled}")
    print("| held out | figure | points | vs the cells (median / max) | vs the truth | floor |")
    print("|---|---|---|---|---|---|")
    pooled = [c for cells in runs for c in cells]
    worst: list[str] = []
    for mode in ("cell", "load"):
        single: dict[str, list[float]] = defaultdict(list)
        predicted: dict[str, dict[Key, list[float]]] = defaultdict(lambda: defaultdict(list))
        for row in holdout(pooled, mode, limits, args.own_acceptance)["rows"]:
            key = (row["server"], row["bucket"], row["load"])
            for f, value in row.items():
                if isinstance(value, dict):
                    single[f].append(abs(value["error"]))
                    predicted[f][key].append(value["predicted"])
        for f, by_key in predicted.items():
            signed = {k: float(np.median(p) / truth[k][f] - 1) for k, p in by_key.items()}
            errs = [abs(e) for e in signed.values()]
            print(
                f"| one {mode} | {f} | {len(errs)} | {_pair(single[f])} | {_pair(errs)} | "
                f"{_pair(floor[f])} |"
            )
            top = sorted(signed.items(), key=lambda item: -abs(item[1]))[:3]
            named = ", ".join(f"{' '.join(k)} {e:+.1%}" for k, e in top)
            worst.append(f"one {mode}, {f}: {named}")
    print("\nworst against the truth:\n" + "\n".join(worst))


if __name__ == "__main__":
    main()
