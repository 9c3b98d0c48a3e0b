"""A real Locust process with loadgen/locust_metrics.py serves its live statistics to Prometheus."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import requests

from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.metrics.exposition import parse_exposition
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[1]


def test_locust_serves_users_requests_and_latency_on_metrics(tmp_path: Path) -> None:
    port = free_port()
    ticker = REPO / "tests" / "fixtures" / "locust_ticker.py"
    files = f"{ticker},{REPO / 'loadgen' / 'locust_metrics.py'}"
    env = {**os.environ, "SPEEDBENCH_LOCUST_METRICS_PORT": str(port), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        ["locust", "-f", files, "--headless", "-u", "2", "-r", "10", "-t", "20s", "--only-summary"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # a deadline, not a bound: 5 requests took 2.1-3.4 s from the launch (3 runs, load 2.3)
        deadline, samples = time.monotonic() + 15, []
        while time.monotonic() < deadline:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                samples = parse_exposition(text)
                counts = [s.value for s in samples if s.name == "speedbench_locust_requests_total"]
                if counts and counts[0] >= 5:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    by_name = {s.name: s for s in samples}
    assert by_name["speedbench_locust_users"].value == 2
    requests_total = by_name["speedbench_locust_requests_total"]
    assert requests_total.value >= 5 and requests_total.label("name") == "1k completion e2e"
    assert by_name["speedbench_locust_failures_total"].value == 0
    p50 = [s for s in samples if s.name == "speedbench_locust_response_time_ms"]
    assert {s.label("quantile") for s in p50} == {"0.5", "0.9", "0.99"}
    assert all(s.value == 100 for s in p50)


def test_a_stand_alone_locust_serves_both_exporters_on_their_own_ports(tmp_path: Path) -> None:
    """Regression: Locust's statistics and the harness's live metrics (``--metrics-port``, env
    SPEEDBENCH_METRICS_PORT) once read the same variable, so a stand-alone Locust loading both
    files bound one port twice and its test start failed without sending a request."""
    prompts = [PreparedPrompt(f"{i:032d}", "1k", "mixed", None, 3, [0, 7, i]) for i in range(2)]
    data = PreparedSet(prompts, {"fake": True}).write(tmp_path / "prepared")
    env = {
        **os.environ, "PYTHONPATH": str(REPO), "SPEEDBENCH_METRICS_PORT": str(free_port()),
        "SPEEDBENCH_LOCUST_METRICS_PORT": str(free_port()), "SPEEDBENCH_METRICS_ADDR": "127.0.0.1",
    }  # fmt: skip
    files = f"{REPO / 'loadgen' / 'speed.py'},{REPO / 'loadgen' / 'locust_metrics.py'}"
    with FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.005)) as server:
        proc = subprocess.run(
            ["locust", "-f", files, "--headless", "-u", "1", "-r", "1", "-t", "30s",
             "--host", server.url, "--data", str(data), "--bucket", "1k", "--osl", "7",
             "--requests", "2", "--warmup", "0", "--out", str(tmp_path / "out")],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        sent = len(server.counters.requests)
    assert proc.returncode == 0 and "Address already in use" not in proc.stderr, proc.stderr[-2000:]
    assert sent == 2
