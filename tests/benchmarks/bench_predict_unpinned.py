"""Benchmark: what a sweep in which no request found the server idle (closed loops of 2+ users
only: no c=1, no open loop) does to the prefill terms, on the FAKE slow-prefill-attention law.

Per seed, the same law is swept at c = 2, 4, 8 ("busy") and at c=1 and 0.5 req/s ("quiet"), on
1k and 2k prompts. The model fitted on busy + quiet (pinned: its idle TTFTs fix p and q; the quiet
cells are in its fit, so its errors there are the fit's own) and the one fitted on busy alone
(unpinned: ``loadgen.predict.support`` marks its points extrapolated) predict the quiet cells as
they ran; printed: the fitted coefficients against the law's, and each quiet cell's errors.
``--fit-o``: no engine latency scrapes, so ``o`` is fitted too.

    python -m tests.benchmarks.bench_predict_unpinned [--seeds 1 2] [--fit-o]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from loadgen.load.point import LoadPoint
from loadgen.predict.holdout import FIGURES, judge
from loadgen.predict.limits import ServerLimits
from loadgen.predict.model import fit_server
from loadgen.predict.observe import CellObs, read_cells
from tests.predict.fake_engine import Law, write_sweep

LAW = Law("slowattn", p=400.0, q=200.0, budget=2048, noise=0.05)
BUSY = [LoadPoint.closed(c) for c in (2, 4, 8)]
QUIET = [LoadPoint.closed(1), LoadPoint.open(0.5)]


def sweep(root: Path, loads: list[LoadPoint], seed: int, fit_o: bool) -> list[CellObs]:
    scraped = None if fit_o else 10
    return read_cells(write_sweep(root, [LAW], ["1k", "2k"], loads, 40, 256, seed, scraped))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--fit-o", action="store_true", help="no latency scrapes: o is fitted")
    args = ap.parse_args()
    truth = " ".join(f"{k}={getattr(LAW, k):g}" for k in "abcpq") + f" o={LAW.o + 0.1:g}"
    print(f"law: {truth} ms (o: what the client sees, 0.1 ms after the step)")
    for seed in args.seeds:
        root = Path(tempfile.mkdtemp(prefix="bench-unpinned-"))
        busy = sweep(root / "busy", BUSY, seed, args.fit_o)
        quiet = sweep(root / "quiet", QUIET, seed + 50, args.fit_o)
        for name, train in (("pinned", busy + quiet), ("unpinned", busy)):
            model = fit_server(train, None, ServerLimits(LAW.budget))
            coefs = " ".join(f"{k}={model.coef[k]:.3g}" for k in "abcpqo")
            print(f"seed {seed} {name}: {coefs}; idle requests {model.idle_requests}")
            for row in judge({LAW.name: model}, quiet, train):
                errors = "  ".join(f"{f} {row[f]['error']:+.1%}" for f in FIGURES)
                print(f"  {row['bucket']} {row['load']:<12} {row['support']['kind']:<13} {errors}")


if __name__ == "__main__":
    main()
