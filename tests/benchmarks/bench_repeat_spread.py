"""Benchmark: how far two measurements of the same cells differ -- the floor under any held-out
prediction error (a perfect model still misses a cell by its repeat noise).

Two results dirs of the same plan (each sweep starts its servers afresh, so the prompts meet an
empty prefix cache both times); for every cell both measured, the relative difference of the
figures ``speedbench predict --holdout`` is judged on (as loadgen/predict/observe.py defines
them), and of the tok/s speedup per (bucket, load); printed as median / max over cells, with the
requests whose streams stalled (loadgen/client/figures.py) in each run.

    python -m tests.benchmarks.bench_repeat_spread RUN_A RUN_B
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from loadgen.predict.observe import CellObs, read_cells

FIGURES = ("tok_s", "tpot_mean_ms", "ttft_p90_ms")


def spread(a: list[CellObs], b: list[CellObs]) -> dict[str, list[float]]:
    """Per figure, |B / A - 1| over the cells both runs measured."""
    theirs = {c.key: c for c in b}
    pairs = [(c, theirs[c.key]) for c in a if c.key in theirs]
    out: dict[str, list[float]] = {f: [] for f in (*FIGURES, "speedup")}
    for one, two in pairs:
        for f in FIGURES:
            out[f].append(abs(two.measured[f] / one.measured[f] - 1))
    mine = {c.key: c for c in a}
    for one, two in pairs:
        base_key = (one.baseline, one.bucket, one.load)
        if one.baseline and base_key in mine and base_key in theirs:
            ratio_a = one.measured["tok_s"] / mine[base_key].measured["tok_s"]
            ratio_b = two.measured["tok_s"] / theirs[base_key].measured["tok_s"]
            out["speedup"].append(abs(ratio_b / ratio_a - 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    args = ap.parse_args()
    a, b = read_cells(args.run_a), read_cells(args.run_b)
    print(f"stalled requests: {sum(c.stalled for c in a)} in A, {sum(c.stalled for c in b)} in B")
    print(f"{'figure':<14}{'cells':>6}{'median |B/A-1|':>16}{'max':>8}")
    for figure, diffs in spread(a, b).items():
        if diffs:
            print(f"{figure:<14}{len(diffs):>6}{np.median(diffs):>16.1%}{max(diffs):>8.1%}")


if __name__ == "__main__":
    main()
