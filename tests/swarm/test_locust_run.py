"""The distributed Locust command lines and the master's wrapper that prints the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_JSONL, RecordSink
from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.swarm.locust_run import (
    RESULTS_BEGIN,
    SUMMARY_JSON,
    LoadPlan,
    main,
    master_command,
    worker_command,
)
from tests.deploy.tools import REPO
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.ports import free_port

PLAN = LoadPlan("3", "12", "6", "10m", "http://engine:8000", "/results")


def test_master_and_worker_command_lines() -> None:
    master = master_command(PLAN)
    locust = master[master.index("--") + 1 :]
    assert locust[:3] == ["locust", "-f", "loadgen/speed.py,loadgen/locust_metrics.py"]
    for flag, value in (("--expect-workers", "3"), ("-u", "12"), ("-r", "6"), ("-t", "10m")):
        assert locust[locust.index(flag) + 1] == value
    assert "--master" in locust and "--headless" in locust
    assert locust[locust.index("--host") + 1] == "http://engine:8000"
    worker = worker_command(PLAN, "master-svc")
    assert worker[worker.index("--master-host") + 1] == "master-svc" and "--worker" in worker
    assert worker[worker.index("--expect-workers") + 1] == "3"


def record(i: int) -> RequestRecord:
    ms = 1_000_000
    return RequestRecord(
        request_id=f"r{i}",
        question_id=f"q{i}",
        bucket="1k",
        category="low_entropy",
        prompt_len=1000,
        max_tokens=4,
        intended_send_ns=0,
        wall_start=0.0,
        send_ns=i * ms,
        headers_ns=i * ms + 5 * ms,
        end_ns=i * ms + 40 * ms,
        chunk_ns=[i * ms + 10 * ms, i * ms + 20 * ms, i * ms + 40 * ms],
        chunk_tokens=[1, 2, 1],
        usage_output_tokens=4,
    )


def test_wrapper_runs_locust_then_prints_the_summary_and_keeps_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stand-in for Locust (a Python one-liner) writes three records and exits 3."""
    sink = RecordSink(tmp_path / "staged.jsonl")
    for i in range(3):
        sink.write(record(i))
    sink.close()
    staged, records = str(tmp_path / "staged.jsonl"), str(tmp_path / RECORDS_JSONL)
    copy = f"import shutil, sys; shutil.copy({staged!r}, {records!r}); sys.exit(3)"
    code = main(
        [
            "--results",
            str(tmp_path),
            "--",
            sys.executable,
            "-c",
            copy,
            "--host",
            "http://e:1",
            "-u",
            "2",
        ]
    )
    assert code == 3
    out = capsys.readouterr().out
    printed = json.loads(out.split(RESULTS_BEGIN, 1)[1].rsplit("locust exit code", 1)[0])
    saved = json.loads((tmp_path / SUMMARY_JSON).read_text())
    assert printed == saved
    assert saved["requests_ok"] == 3 and saved["output_tokens"] == 12
    assert saved["server"] == "http://e:1" and saved["concurrency"] == 2
    assert saved["client_tokens_per_chunk"] == pytest.approx(1.5)


def test_wrapper_without_records_still_reports(tmp_path: Path) -> None:
    assert main(["--results", str(tmp_path / "r"), "--", sys.executable, "-c", "pass"]) == 0
    assert json.loads((tmp_path / "r" / SUMMARY_JSON).read_text())["requests_ok"] == 0


def test_master_and_worker_command_lines_run_real_locust_against_a_server(
    tmp_path: Path,
) -> None:
    """The command lines compose and Helm run, with real Locust (one master wrapped, one worker)
    against the FAKE server; only ports and the interpreter are adapted to this machine."""
    prompts = [
        PreparedPrompt(f"{i:032d}", "1k", "mixed", None, 4, [0, 7, 100 + i, 9]) for i in range(8)
    ]
    data = PreparedSet(prompts, {"fake": True}).write(tmp_path / "prepared")
    results, port = tmp_path / "results", free_port()
    env = {
        **os.environ, "PYTHONPATH": str(REPO), "SPEEDBENCH_DATA": str(data),
        "SPEEDBENCH_BUCKET": "1k", "SPEEDBENCH_REQUESTS": "6", "SPEEDBENCH_OSL": "7",
        "SPEEDBENCH_WARMUP": "0", "SPEEDBENCH_OUT": str(results),
        "SPEEDBENCH_LOCUST_METRICS_PORT": str(free_port()),
    }  # fmt: skip
    with FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.005)) as server:
        plan = LoadPlan("1", "2", "2", "60s", server.url, str(results))
        worker = subprocess.Popen(
            [*local(worker_command(plan, "127.0.0.1")), "--master-port", str(port)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            master = subprocess.run(
                [*local(master_command(plan)), "--master-bind-port", str(port)],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
        sent = len(server.counters.requests)
    assert master.returncode == 0, master.stdout[-2000:] + master.stderr[-2000:]
    printed = master.stdout.split(RESULTS_BEGIN, 1)[1].rsplit("locust exit code 0", 1)[0]
    saved = json.loads((results / SUMMARY_JSON).read_text())
    assert json.loads(printed) == saved
    # the FAKE's chunking: 1 + 3 + 3 tokens a request, 6 requests, all through the worker
    assert sent == 6 and saved["requests_ok"] == 6 and saved["requests_failed"] == 0
    assert saved["output_tokens"] == 42 and saved["client_tokens_per_chunk"] == 3.0
    assert saved["server"] == server.url and saved["concurrency"] == 2


def local(command: list[str]) -> list[str]:
    """This interpreter for the containers' ``python`` and ``locust``."""
    out: list[str] = []
    for arg in command:
        if arg == "python":
            out.append(sys.executable)
        elif arg == "locust" and (not out or out[-1] == "--"):
            out += [sys.executable, "-m", "locust"]
        else:
            out.append(arg)
    return out
