"""The harness interrupted mid-sweep (SIGINT, SIGTERM): ``speedbench sweep`` runs as a real process
with real Locust against two FAKE servers given by URL; the signal lands in the middle of a cell.

Outcome: a clear message and a non-zero exit code; no Locust process left behind; the finished cell
valid on disk; the same command again skips it and redoes the interrupted one."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from loadgen.client.sink import RECORDS_JSONL, RECORDS_PARQUET
from loadgen.interrupt import Interrupted, signals_interrupt
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.sweep.test_runner import make_plan


@pytest.fixture(scope="module")
def slow_servers() -> Iterator[tuple[str, str]]:
    """About 0.6 s per request, so a signal can land inside a cell."""
    base = FakeStreamingServer(Behaviour(ttft_s=0.02, step_s=0.05, tokens_per_chunk=1))
    sd = FakeStreamingServer(Behaviour(ttft_s=0.02, step_s=0.05, tokens_per_chunk=3))
    with base, sd:
        yield base.url, sd.url


def wait_for(condition: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting for the sweep"
        time.sleep(0.05)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def assert_cell_is_valid(cell: Path, requests: int) -> None:
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["requests_ok"] + summary["requests_failed"] == requests
    assert pq.read_table(cell / RECORDS_PARQUET).num_rows == requests
    assert [json.loads(line)["request_id"] for line in lines(cell / RECORDS_JSONL)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_cell_stops_cleanly_and_the_sweep_resumes(
    signum: signal.Signals, slow_servers: tuple[str, str], tmp_path: Path
) -> None:
    plan = make_plan(tmp_path, slow_servers, requests=4, warmup=0, osl=12)
    out = tmp_path / "results"
    command = [sys.executable, "-m", "loadgen.cli", "sweep", "--plan", str(plan), "--out", str(out)]
    cells = out / "cells" / "fake-base" / "1k"
    finished, interrupted = cells / "c1" / "r0", cells / "c2" / "r0"

    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: lines(interrupted / RECORDS_JSONL))  # the second cell is half done
    locusts = [p for p in psutil.Process(sweep.pid).children(recursive=True) if "locust" in
               " ".join(p.cmdline())]  # fmt: skip
    assert locusts, "the cell runs Locust as a child process"
    sweep.send_signal(signum)
    _, stderr = sweep.communicate(timeout=60)

    assert sweep.returncode == 128 + signum, stderr
    assert f"stopped by {signum.name}" in stderr and "Re-run the same command" in stderr
    assert "Traceback" not in stderr
    for proc in locusts:
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE, proc
    assert_cell_is_valid(finished, 4)
    assert not (interrupted / "summary.json").exists()
    assert len(lines(interrupted / RECORDS_JSONL)) < 4  # what it measured so far is kept
    done_at = (finished / "summary.json").stat().st_mtime_ns

    again = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (finished / "summary.json").stat().st_mtime_ns == done_at  # skipped, not redone
    for cell in sorted(out.glob("cells/*/1k/c*/r0")):
        assert_cell_is_valid(cell, 4)
    assert (out / "report.html").is_file()


def test_first_signal_raises_once_and_the_handlers_are_restored_after(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, signals_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # during clean-up: reported, not raised
    assert caught.value.exit_code == 143 and str(caught.value) == "SIGTERM"
    assert "SIGINT again: already stopping" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before


def test_kill_9_of_the_harness_takes_its_locust_child_with_it(
    slow_servers: tuple[str, str], tmp_path: Path
) -> None:
    """Issue 17 item 5: no clean-up of ours runs after SIGKILL; the kernel's parent-death signal
    ends the Locust child, so it cannot keep sending into the next run."""
    from tests.test_preflight import write_set

    data = write_set(tmp_path / "d", [5] * 40)
    out = tmp_path / "cell"
    run = subprocess.Popen(
        [sys.executable, "-m", "loadgen.cli", "run", "--url", slow_servers[0], "--data",
         str(data), "--out", str(out), "--requests", "30", "--osl", "12", "--warmup", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(lambda: lines(out / RECORDS_JSONL))  # Locust is sending
    (locust,) = [p for p in psutil.Process(run.pid).children(recursive=True)
                 if "locust" in " ".join(p.cmdline())]  # fmt: skip
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    try:
        wait_for(lambda: not locust.is_running() or locust.status() == psutil.STATUS_ZOMBIE, 10)
    finally:
        if locust.is_running():  # the failure this test pins: do not leave it loading the fake
            locust.kill()
    sent = len(lines(out / RECORDS_JSONL))
    time.sleep(1.5)  # ~2 requests' time: nothing more is recorded
    assert len(lines(out / RECORDS_JSONL)) == sent < 30
