"""Throughput estimators against a FAKE server's truth at c = 1, 8, 32, 128.

    python -m tests.benchmarks.bench_estimators [--seeds 20]

The server is the simulated continuous-batching FAKE of tests/fakes/closed_loop.py, whose
steady-state tok/s is known in closed form. For each concurrency and requests per user, each
estimator's error against that truth over ``--seeds`` cells: mean (bias) and standard deviation
(precision), in percent; and the steady state's share of requests and of the window kept.
Estimators (loadgen/analysis/steady.py): steady (headline), Little's law over all requests,
window (tokens / first send to last end).
"""

from __future__ import annotations

import argparse

import numpy as np

from loadgen.analysis.steady import littles_tps, steady_span
from tests.fakes.closed_loop import MS, SimServer, simulate


def errors(server: SimServer, users: int, per_user: int, seeds: int) -> dict[str, np.ndarray]:
    truth = server.truth_tps(users)
    out: dict[str, list[float]] = {"steady": [], "littles_all": [], "window": [], "kept": []}
    out["time"] = []
    for seed in range(seeds):
        cell = simulate(server, users, users * per_user, seed)
        e2e = (cell.end_ns - cell.send_ns) / MS
        span = steady_span(cell.send_ns, cell.end_ns, users)
        window_s = (cell.end_ns.max() - cell.send_ns.min()) / 1e9
        steady = littles_tps(cell.tokens[span.mask], e2e[span.mask], users) or 0.0
        out["steady"].append(steady / truth - 1)
        out["littles_all"].append((littles_tps(cell.tokens, e2e, users) or 0.0) / truth - 1)
        out["window"].append(cell.tokens.sum() / window_s / truth - 1)
        out["kept"].append(span.request_share or 0.0)
        out["time"].append(span.time_share or 0.0)
    return {k: np.asarray(v) * 100 for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--per-user", type=int, nargs="+", default=[2, 4, 8, 16])
    args = parser.parse_args()
    server = SimServer()
    print("| c | requests (per user) | truth tok/s | steady err % mean ± sd | Little all err % "
          "| window err % | steady keeps requests / time |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for users in (1, 8, 32, 128):
        for per_user in args.per_user:
            if users == 128 and per_user > 8:
                continue  # keep the c=128 run modest
            e = errors(server, users, per_user, args.seeds)
            cell = " | ".join(
                f"{e[k].mean():+.2f} ± {e[k].std():.2f}"
                for k in ("steady", "littles_all", "window")
            )
            print(f"| {users} | {users * per_user} ({per_user}) | {server.truth_tps(users):.0f} | "
                  f"{cell} | {e['kept'].mean():.0f}% / {e['time'].mean():.0f}% |")  # fmt: skip


if __name__ == "__main__":
    main()
