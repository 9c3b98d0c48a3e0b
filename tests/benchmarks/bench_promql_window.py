"""Aligned PromQL windows vs the naive ``increase(x[cell duration])`` (run:
``python -m tests.benchmarks.bench_promql_window``; starts a REAL Prometheus, 1 s scrapes).

A FAKE page replays the vLLM text recorded from the real server and grows by exactly 100 drafts,
linearly, over 5, 10 and 30 s. Prints the direct scrape's count, the aligned PromQL window's
(``loadgen.metrics.collect``) and the naive query's: ``increase()`` over the cell's wall-clock
duration (from its start, before the opening scrape, to the end of the load), evaluated 0 to
0.75 s after the load, which ``increase()`` extrapolates to the range's edges.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from loadgen.metrics import vllm
from loadgen.metrics.collect import MetricsWindow
from loadgen.metrics.promql import PromQL
from tests.fakes.exposition_server import Exposition, serving
from tests.metrics.test_adapters import VLLM, scaled
from tests.prometheus_server import running_prometheus


def measure(page: Exposition, url: str, prom: str, tmp: Path, seconds: int) -> str:
    page.set(scaled(VLLM, 10))  # 100 drafts already counted
    window = MetricsWindow(vllm.ADAPTER, (url + "/metrics",), prom)
    started = time.time()  # the cell starts: before-scrape, wait for Prometheus, then the load
    window.open(tmp)
    steps = seconds * 4
    for i in range(1, steps + 1):
        page.set(scaled(VLLM, 10 + 10 * i / steps))
        time.sleep(0.25)
    ended = time.time()
    result = window.close(tmp)
    duration_ms = round((ended - started) * 1000)
    query = f"sum(increase({vllm.DRAFTS}[{duration_ms}ms]))"
    naive = [PromQL(prom).query(query, ended + lag)[0][1] for lag in (0.0, 0.25, 0.5, 0.75)]
    direct = result.evidence["direct_acceptance"]["drafts"]
    return (
        f"load {seconds:>2} s: direct {direct:.0f} drafts, aligned PromQL "
        f"{result.acceptance.drafts:.3f}, naive increase(x[cell duration]) evaluated 0-0.75 s "
        f"after the load: {min(naive):.1f} .. {max(naive):.1f}"
    )


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    page = Exposition(scaled(VLLM, 10))
    with (
        serving(page) as url,
        running_prometheus([url.removeprefix("http://")], "/metrics", tmp / "p") as prom,
    ):
        PromQL(prom).scrape_after(vllm.GENERATION_TOKENS, time.time())
        for seconds in (5, 10, 30):
            print(measure(page, url, prom, tmp, seconds))


if __name__ == "__main__":
    main()
