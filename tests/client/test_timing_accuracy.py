"""CI-sized timing accuracy against the kernel-stamped FAKE server (the benchmark's, shrunk).

The FAKE server (tests/fakes/async_streaming_server.py, own process) logs on CLOCK_MONOTONIC the
kernel's receive time of each request and when it handed each chunk to the kernel, the clock of
the harness's ``perf_counter_ns``. So each of the harness's stamps has a truth: a clock started
early shows as a long "way in" (server receipt - send), a chunk stamped late as a long receive
delay (stamp - server's send), and both move TTFT away from the server's actual one.

Tolerances come from tests/benchmarks/bench_timing_accuracy.py, run 5 times on this 2-core
machine while other engineers' test suites kept it busy (1-minute load average 2.3 to 6.9;
concurrency 1, 8 and 32; 16-32 requests each; TTFT 50 ms, 20 ms chunk gap, 3 tokens a chunk).
Medians are stable there; the tails are not (one preempted request on a busy machine reaches
16-35 ms, in 3 of 15 cells), so medians get a tight bound and the 75th percentile (4 of 16
requests) a looser one: a tail statistic a single preempted request cannot move.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks.bench_timing_accuracy import (
    actual_ttft_ms,
    prepared_set,
    receive_delay_ms,
    server_get,
    way_in_ms,
)
from tests.benchmarks.peers import Load, Timings, run_speedbench
from tests.ports import free_port

OSL = 16  # first chunk + 5 chunks of 3 tokens
TTFT_MS, STEP_MS = 30.0, 10.0

# fast transport (kernel receive stamps on both sides). Measured, 5 runs x 3 load points:
#   way in p50 0.00-0.03 ms, p99 <= 0.06 ms; chunk receive delay p50 -0.02 to -0.01 ms (the
#   server stamps after its send returns), p99 0.01 ms but 12 and 28 ms in 2 of 15 cells;
#   TTFT - server's actual TTFT p50 -0.00 to 0.01 ms, p99 <= 0.06 ms but 16 ms in 1 of 15.
# Bounds: medians 0.5 ms (about 15x the worst measured median, and still a tenth of a step),
# p75 2 ms (the measured tails are single preempted requests, above p75 in a 16-request cell).
FAST_MEDIAN_MS, FAST_P75_MS = 0.5, 2.0
# requests transport (a user-space stamp after gevent hands over the bytes). Measured at
# concurrency 1: way in p50 0.66-0.91 ms, p99 5-16 ms; receive delay p50 0.08-0.15 ms, p99
# 1.8-25 ms; TTFT - actual p50 0.78-1.15 ms; in one full-suite run its p90 was 10.2 ms (a p90
# bound of 10 ms failed there). Bounds: medians 3 ms (about 3x the measured median), p75 10 ms.
REQUESTS_MEDIAN_MS, REQUESTS_P75_MS = 3.0, 10.0


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "tests.fakes.async_streaming_server", "--port", str(port),
        "--ttft-ms", str(TTFT_MS), "--step-ms", str(STEP_MS), "--tokens-per-chunk", "3",
    ]  # fmt: skip
    server = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None and time.monotonic() < deadline, "FAKE never up"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


Log = list[dict[str, object]]


def run_cell(url: str, tmp_path: Path, transport: str, concurrency: int) -> tuple[Timings, Log]:
    data = prepared_set(tmp_path, 16)
    server_get(url, "/stats", reset=True)
    timings = run_speedbench(url, data, tmp_path / "out", Load(concurrency, 16, OSL), 1, transport)
    log = server_get(url, "/log")
    assert isinstance(log, list)
    assert timings.failed == 0 and len(timings.ttft_ms) == 16, timings.note
    return timings, log


def check(timings: Timings, log: Log, median_ms: float, p75_ms: float) -> None:
    way_in = way_in_ms(timings, log)
    delay = receive_delay_ms(timings, log)
    actual = actual_ttft_ms(log)
    ttft_err = [m - actual[k] for m, k in zip(timings.ttft_ms, timings.keys, strict=True)]
    assert len(way_in) == len(ttft_err) == 16 and len(delay) == 16 * 6
    # exact: the kernel received the request after the harness started its clock
    assert min(way_in) >= 0, sorted(way_in)
    for name, values in (("way in", way_in), ("receive delay", delay), ("TTFT", ttft_err)):
        middle, tail = np.percentile(values, 50), np.percentile(np.abs(values), 75)
        assert abs(middle) < median_ms, (name, sorted(values))
        assert tail < p75_ms, (name, sorted(values))


@pytest.mark.parametrize("concurrency", [1, 8])
def test_fast_transport_stamps_match_the_kernels(
    fake_server: str, tmp_path: Path, concurrency: int
) -> None:
    timings, log = run_cell(fake_server, tmp_path, "fast", concurrency)
    check(timings, log, FAST_MEDIAN_MS, FAST_P75_MS)


def test_requests_transport_stamps_are_within_milliseconds(
    fake_server: str, tmp_path: Path
) -> None:
    timings, log = run_cell(fake_server, tmp_path, "requests", 1)
    check(timings, log, REQUESTS_MEDIAN_MS, REQUESTS_P75_MS)
