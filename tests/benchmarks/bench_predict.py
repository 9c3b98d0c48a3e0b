"""Benchmark: ``speedbench predict`` over 1,000,000 request records in 100 cells.

Targets (issue 16): fit + predict <= 60 s and <= 2 GiB peak on 2 cores; ``--suggest`` <= 120 s.
The results are FAKE cells (tests/fakes/cells.py, the report benchmark's grid) with their report,
as a sweep leaves them, written once (not timed); each predict runs as its own process, whose wall
time and peak RSS (with its worker processes) are printed. A last, untargeted line times predict
after a cell changed: the report is then stale, so predict rebuilds all of it (the measured
analysis included) instead of its predicted section alone.

    flock /tmp/speedbench-cpu.lock python -m tests.benchmarks.bench_predict [--dir DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from loadgen.client.sink import RECORDS_PARQUET
from tests.benchmarks.bench_report import generate


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident GiB of one ``speedbench`` process tree."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "loadgen.cli", *args], stdout=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        try:
            root = psutil.Process(proc.pid)
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.05)
    if proc.returncode:
        raise SystemExit(f"speedbench {' '.join(args)} failed ({proc.returncode})")
    return time.monotonic() - started, peak / 2**30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", help="reuse / keep the generated results here")
    args = parser.parse_args()
    out = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-predict-"))
    records = generate(out)
    cells = len(list(out.rglob("requests.parquet")))
    print(f"results: {out}: {records:,} records in {cells} cells")
    timed(["report", str(out)])  # a sweep ends with its report
    slo = ["--ttft-ms", "2000", "--tpot-ms", "60", "--target-rps", "30"]
    for label, extra, limit in (("fit+predict", [], 60), ("--suggest 5", ["--suggest", "5"], 120)):
        wall, gib = timed(["predict", str(out), *slo, *extra])
        verdict = "ok" if wall <= limit and gib <= 2 else "OVER"
        print(f"{label}: {wall:.1f} s (target {limit} s), peak {gib:.2f} GiB (target 2): {verdict}")
    next(out.rglob(RECORDS_PARQUET)).touch()  # a cell newer than the report
    wall, gib = timed(["predict", str(out), *slo])
    print(f"fit+predict, report stale (rebuilt whole): {wall:.1f} s, peak {gib:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
