"""One writer per results directory (issue 17 items 2, 3, 13), with real processes: two sweeps at
once, a holder killed with SIGKILL, a cell pointed at a sweep's directory, a read-only mount."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.client.sink import RECORDS_JSONL, read_parquet
from loadgen.results_lock import LOCK_FILE, results_lock
from tests.fakes.streaming_server import FakeStreamingServer
from tests.sweep.test_runner import make_plan
from tests.test_cli import refused, speedbench
from tests.test_interrupt import lines, slow_servers, wait_for  # noqa: F401  (fixture)
from tests.test_preflight import write_set


def test_a_second_sweep_on_the_same_directory_is_refused_naming_the_holder(
    slow_servers: tuple[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    plan = make_plan(tmp_path, slow_servers, requests=4, warmup=0, osl=12)
    out = tmp_path / "results"
    command = [sys.executable, "-m", "loadgen.cli", "sweep", "--plan", str(plan), "--out", str(out)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: lines(out / "cells" / "fake-base" / "1k" / "c1" / "r0" / RECORDS_JSONL))
    second = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    _, first_err = first.communicate(timeout=180)

    assert second.returncode == 2 and "Traceback" not in second.stderr
    (line,) = second.stderr.strip().splitlines()
    assert f"is in use by pid {first.pid} on " in line and "loadgen/cli/__main__.py sweep" in line
    assert "wait for that run to end, or give another --out" in line
    assert first.returncode == 0, first_err[-2000:]
    for cell in out.glob("cells/*/1k/c*/r0"):  # the planned load, not twice it
        assert len(read_parquet(cell / "requests.parquet")) == 4


def test_a_lock_left_by_a_killed_process_does_not_block_the_next_run(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from loadgen.results_lock import results_lock\n"
         f"with results_lock(Path({str(tmp_path)!r})):\n"
         "    print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with pytest.raises(RuntimeError, match=f"in use by pid {holder.pid}"), results_lock(tmp_path):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == holder.pid  # stale file
    with results_lock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
        with results_lock(tmp_path):  # re-entrant in one process (the demo's sweep)
            pass


def test_a_cell_is_not_written_over_a_sweeps_results(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [5] * 6)
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    manifest = json.dumps({"kind": "sweep", "plan": {"name": "p"}})
    (sweep_dir / "manifest.json").write_text(manifest)
    with FakeStreamingServer() as server:
        proc = speedbench("run", "--url", server.url, "--data", str(data), "--out",
                          str(sweep_dir), "--requests", "2", "--osl", "4")  # fmt: skip
        sent = [r for r in server.counters.requests if "prompt" in r]
    refused(proc, f"{sweep_dir} holds the results of a sweep", "give --out a new directory")
    assert (sweep_dir / "manifest.json").read_text() == manifest and not sent


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A real read-only mount (refuses root too); without mount rights, a directory without
    write permission for a non-root user."""
    mount = tmp_path / "ro"
    mount.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], check=False
    ).returncode == 0  # fmt: skip
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root without the right to mount a read-only tmpfs")
        mount.chmod(0o555)
    try:
        yield mount
    finally:
        if mounted:
            subprocess.run(["umount", str(mount)], check=True)
        mount.chmod(0o755)


def test_an_unwritable_out_is_refused_in_one_line_before_any_load(
    read_only_dir: Path, tmp_path: Path
) -> None:
    data = write_set(tmp_path / "d", [5] * 6)
    with FakeStreamingServer() as server:
        started = time.monotonic()
        proc = speedbench("run", "--url", server.url, "--data", str(data), "--out",
                          str(read_only_dir / "out"), "--requests", "2", "--osl", "4")  # fmt: skip
        sent = [r for r in server.counters.requests if "prompt" in r]
    refused(proc, f"cannot write results to {read_only_dir / 'out'}", "give --out a directory")
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and not sent
    assert time.monotonic() - started < 60
