"""A/A calibration: coverage of the 95% speedup intervals of a server against itself.

    python -m tests.benchmarks.bench_aa_coverage [--runs 200] [--slope 0.01] [--cell-sd 0.04]

Issue 20's plan (c = 1 and 4, 16 requests per cell, 3 repeats) run ``--runs`` times on the
simulated FAKE server of tests/fakes/closed_loop.py with injected between-cell drift: cell
number t (in time order) runs ``1 + slope * t + N(0, cell_sd)`` slower. The true speedup is 1.
Before: cells in sequential order (every A/A cell after every baseline cell) and the per-request
bootstrap of Little's law over all requests, repeats pooled. After: interleaved order (A B, B A)
and the repeat-level paired t interval of the steady-state figure (loadgen/analysis/intervals.py).
Printed: coverage (intervals holding 1), point estimates within 3%, median MDE.
"""

from __future__ import annotations

import argparse

import numpy as np

from loadgen.analysis.bootstrap import ratio_interval, resample_statistics
from loadgen.analysis.columns import RequestColumns
from loadgen.analysis.intervals import repeat_interval
from loadgen.analysis.steady import littles_tps
from tests.fakes.closed_loop import SimServer, columns, simulate

LOADS, REQUESTS, REPEATS = (1, 4), 16, 3


def times(order: str) -> dict[tuple[str, int, int], int]:
    """Time index of each (side, repeat, load) cell."""
    cells = [(r, c) for r in range(REPEATS) for c in LOADS]
    if order == "sequential":
        seq = [(s, r, c) for s in ("A", "B") for r, c in cells]
    else:
        seq = []  # loadgen/sweep/order.py: A B, B A within a repeat, flipped each repeat
        for k, (r, c) in enumerate(cells):
            pair = [("A", r, c), ("B", r, c)]
            seq += pair if (r + k % len(LOADS)) % 2 == 0 else pair[::-1]
    return {cell: t for t, cell in enumerate(seq)}


def one_run(seed: int, order: str, slope: float, sd: float) -> dict[str, list[tuple]]:
    rng = np.random.default_rng(seed)
    server, when = SimServer(), times(order)
    drift = {cell: 1 + slope * t + rng.normal(0, sd) for cell, t in when.items()}
    out: dict[str, list[tuple]] = {"before": [], "after": []}
    for c in LOADS:
        sides = {}
        for side in ("A", "B"):
            seeds = [int(rng.integers(1 << 30)) for _ in range(REPEATS)]
            parts = [
                columns(simulate(server, c, REQUESTS, seeds[r], drift[(side, r, c)]), c, r)
                for r in range(REPEATS)
            ]
            sides[side] = RequestColumns.concat(parts)
        a, b = sides["A"], sides["B"]
        old = littles_tps(b.output_tokens, b.e2e_ms, 1) / littles_tps(a.output_tokens, a.e2e_ms, 1)
        da, db = resample_statistics(a, f"A{seed}{c}"), resample_statistics(b, f"B{seed}{c}")
        assert da is not None and db is not None
        low, high = ratio_interval(db["littles_tps"], da["littles_tps"])
        out["before"].append((old, low, high, None))
        sa, sb = (littles_tps(x.output_tokens[x.steady_mask()], x.e2e_ms[x.steady_mask()], 1)
                  for x in (a, b))  # fmt: skip
        new = (sb or 0) / (sa or 1)
        iv = repeat_interval(new, a, b)
        assert iv is not None
        out["after"].append((new, iv.low, iv.high, iv.mde))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--slope", type=float, default=0.01)
    parser.add_argument("--cell-sd", type=float, default=0.04)
    args = parser.parse_args()
    print("| order | interval | intervals | hold 1 | point within 3% | median MDE |")
    print("|---|---|---|---|---|---|")
    for order in ("sequential", "interleaved"):
        results: dict[str, list[tuple]] = {"before": [], "after": []}
        for run in range(args.runs):
            for k, v in one_run(run, order, args.slope, args.cell_sd).items():
                results[k] += v
        for method, name in (("before", "per request (Little all)"), ("after", "repeats (steady)")):
            rows = results[method]
            hold = np.mean([lo <= 1 <= hi for _, lo, hi, _ in rows])
            near = np.mean([abs(p - 1) <= 0.03 for p, *_ in rows])
            mdes = [m for *_, m in rows if m is not None]
            mde = f"{np.median(mdes):.1%}" if mdes else "-"
            print(f"| {order} | {name} | {len(rows)} | {hold:.0%} | {near:.0%} | {mde} |")


if __name__ == "__main__":
    main()
