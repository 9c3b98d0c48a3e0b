"""`locust -f loadgen/speed.py` as a first-class way to benchmark, through real Locust processes
against the FAKE streaming server (tests/fakes): every run ends with a complete cell that
`speedbench report` reads, each start is a new run that sends new prompts, the reason a run ended
is written down, the start form is validated, and Ctrl-C ends a web UI run writing its cell."""

import json
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from loadgen.cell import LOCUSTFILE
from loadgen.results.api import load_results
from loadgen.results.io import read_cell_manifest, read_cell_summary
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.ports import free_port
from tests.test_speed import prepared  # noqa: F401  (fixture: 20 prompts in bucket 1k)

FAST = Behaviour(ttft_s=0.01, step_s=0.002, tokens_per_chunk=3)
LOCUST = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]


def headless(url: str, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOCUST, "--headless", "-u", "2", "-r", "2", "--host", url, "--data", str(data),
         "--osl", "7", "--out", str(out), "--no-metrics", *extra],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_headless_run_writes_a_complete_cell_that_report_reads(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with FakeStreamingServer(FAST) as server:
        proc = headless(server.url, prepared, tmp_path / "out", "--requests", "6", "-t", "60s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = read_cell_summary(tmp_path / "out")
    assert summary.requests_ok == 6 and summary.tpot_ms.p50 is not None
    assert summary.run_id and summary.ended is not None
    assert summary.ended.startswith("prompts exhausted: all 6 measured prompts")
    assert read_cell_manifest(tmp_path / "out").run_id == summary.run_id
    assert len(load_results(tmp_path / "out").cells) == 1  # what `speedbench report` reads
    assert "Successful requests:" in proc.stdout and "ended: prompts exhausted" in proc.stdout
    assert "ended: prompts exhausted" in proc.stderr  # the log says it too


def test_a_time_limit_is_named_as_the_reason(prepared: Path, tmp_path: Path) -> None:  # noqa: F811
    with FakeStreamingServer(Behaviour(ttft_s=0.5, step_s=0.05)) as server:
        proc = headless(server.url, prepared, tmp_path / "out", "-t", "3s", "--warmup", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    ended = read_cell_summary(tmp_path / "out").ended or ""
    assert ended.startswith("time limit: -t 3s reached with") and "of 20 measured" in ended


def post(url: str, form: dict[str, str]) -> dict[str, Any]:
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(url, data=data, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def state(base: str) -> str:
    with urllib.request.urlopen(base + "/stats/requests", timeout=5) as response:
        return str(json.loads(response.read())["state"])


def wait_for(base: str, wanted: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if state(base) == wanted:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"web UI never reached {wanted}")


def wait_runs(out: Path, count: int, timeout_s: float = 60) -> None:
    """Until ``count`` runs have written their cell (each START is a run of its own)."""
    deadline = time.monotonic() + timeout_s
    while len(list(out.glob("*/summary.json"))) < count:
        assert time.monotonic() < deadline, f"fewer than {count} runs written"
        time.sleep(0.2)


def test_web_ui_runs_never_mix_and_ctrl_c_writes_the_cell(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    port, out = free_port(), tmp_path / "out"
    with FakeStreamingServer(Behaviour(ttft_s=0.3, step_s=0.01)) as server:
        proc = subprocess.Popen(
            [*LOCUST, "--host", server.url, "--data", str(prepared), "--osl", "7", "--warmup", "0",
             "--out", str(out), "--no-metrics", "--web-host", "127.0.0.1", "--web-port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(base, "ready")
            form = {"user_count": "2", "spawn_rate": "2", "host": server.url}
            refused = post(base + "/swarm", {**form, "requests": "2", "burstiness": "2"})
            assert refused["success"] is False and "give --rate" in refused["message"]
            assert post(base + "/swarm", {**form, "requests": "2"})["success"]
            wait_runs(out, 1)  # prompts exhausted: the UI stops, the process stays
            wait_for(base, "stopped")
            assert post(base + "/swarm", {**form, "requests": "2"})["success"]
            wait_runs(out, 2)
            wait_for(base, "stopped")
            slow_start = time.monotonic()
            assert post(base + "/swarm", {**form, "requests": "0"})["success"]
            wait_for(base, "running")
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)  # Ctrl-C
            log = proc.communicate(timeout=30)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
        sent = [body["prompt"][2] - 100 for body in server.counters.requests]
    assert time.monotonic() - slow_start < 40
    assert proc.returncode == 0, log[-3000:]
    runs = sorted(p.parent for p in out.glob("*/summary.json"))
    assert len(runs) == 3, log[-3000:]
    summaries = [read_cell_summary(r) for r in runs]
    assert [s.requests_ok for s in summaries[:2]] == [2, 2]
    assert len({s.run_id for s in summaries}) == 3
    assert len(sent) == len(set(sent)), "a prompt was sent twice to the same server"
    assert sorted(sent)[:4] == list(range(4))  # the second run started after the first
    assert (summaries[2].ended or "").startswith("interrupted")
    assert len(load_results(out).cells) == 3
