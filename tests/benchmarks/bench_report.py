"""Benchmark: ``speedbench report`` over 1,000,000 request records in 100 cells.

Target (issue 6): <= 30 s and <= 2 GiB peak memory. The results directory is FAKE cells
(tests/fakes/cells.py, closed-loop users, SD chunking) written once (not timed); the report then
runs as its own process, whose wall time and peak RSS are printed.

    flock /tmp/speedbench-cpu.lock python -m tests.benchmarks.bench_report [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq

from tests.fakes.cells import FakeServer, write_results

SERVERS = [FakeServer("base"), FakeServer("sd", "base", speculative="eagle", draft_tokens=3)]
BUCKETS = ["1k", "2k", "8k", "16k", "32k"]
CONCURRENCIES = [1, 4, 16, 64, 256]
REPEATS = 2
REQUESTS_PER_CELL = 10_000
OSL = 128


def generate(out: Path) -> int:
    write_results(out, SERVERS, BUCKETS, CONCURRENCIES, REQUESTS_PER_CELL, REPEATS, OSL)
    return sum(pq.read_metadata(p).num_rows for p in out.rglob("requests.parquet"))


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (the report's worker processes)."""
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", help="reuse / keep the generated results here")
    args = parser.parse_args()
    out = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-report-"))
    started = time.monotonic()
    records = generate(out)
    cells = len(list(out.rglob("requests.parquet")))
    print(f"results: {out}: {records:,} records in {cells} cells "
          f"(generated in {time.monotonic() - started:.0f} s)")  # fmt: skip
    started = time.monotonic()
    report = subprocess.Popen([sys.executable, "-m", "loadgen.cli", "report", str(out)],
                              stdout=subprocess.DEVNULL)  # fmt: skip
    tree_peak = 0
    while report.poll() is None:
        tree_peak = max(tree_peak, _tree_rss(report.pid))
        time.sleep(0.1)
    wall = time.monotonic() - started
    if report.returncode:
        raise SystemExit(f"report failed with exit code {report.returncode}")
    largest_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    peak_gib = max(tree_peak / 2**30, largest_gib)
    verdict = "OK" if wall <= 30 and peak_gib <= 2 else "MISSED"
    print(f"report: {wall:.1f} s wall, peak RSS {peak_gib:.2f} GiB summed over the report and "
          f"its workers (largest single process {largest_gib:.2f} GiB) "
          f"(target <= 30 s, <= 2 GiB): {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
