"""One measured cell: scrape, drive Locust (``loadgen/speed.py``) as a process, scrape, summarise.

Everything a cell measured is on disk in its directory: the raw scrapes, the records as JSON lines
while the load runs and as Parquet afterwards, the Locust log, ``summary.json`` and
``manifest.json``.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from loadgen import atomic
from loadgen.analysis.cell_figures import complete_summary
from loadgen.client.access import ServerAccess
from loadgen.client.sink import RECORDS_JSONL, RECORDS_PARQUET, read_jsonl, write_parquet
from loadgen.client.stream import RequestsTransport
from loadgen.client.transport import run_prompt
from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.results.io import (
    HARNESS_CPU_FILE,
    MANIFEST_FILE,
    write_cell_manifest,
    write_cell_summary,
)
from loadgen.results.schemas import CellManifest, CellSummary, HarnessCpu
from loadgen.runspec import RunSpec
from loadgen.runspec.window import metrics_window

LOCUSTFILE = Path(__file__).with_name("speed.py")
SPEC_FILE = "run_spec.json"  # the spec the cell hands Locust
NO_METRICS = {"no_metrics": True, "metrics_urls": (), "prometheus_url": None}
# Locust runs one gevent loop: above this share of one core it is saturated and sends late.
HARNESS_CPU_LIMIT = 0.9


def send_unmeasured(
    url: str, prompts: list[PreparedPrompt], osl: int, model: str | None, timeout_s: float
) -> None:
    """Warm-up: each prompt sent once, outside any measured window, never measured."""
    with ServerAccess.resolve(url).session() as session:
        transport = RequestsTransport(session)
        for prompt in prompts:
            record = run_prompt(transport, url, prompt, osl, model, timeout_s)
            if not record.ok:
                raise RuntimeError(
                    f"warm-up request to {url} failed: {record.error_kind}: {record.error}"
                )


def locust_command(spec: RunSpec, out_dir: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            *locust_options(spec, out_dir)]  # fmt: skip


def locust_options(spec: RunSpec, out_dir: Path) -> list[str]:
    """The cell's options after ``locust -f loadgen/speed.py --headless`` (also what a
    distributed master takes): Locust's own settings, and the spec as one JSON file. The cell
    reads the engine's window itself, so the Locust process is told to read none."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_file = out_dir / SPEC_FILE
    atomic.write_text(spec_file, spec.model_copy(update=NO_METRICS).model_dump_json(indent=2))
    users = str(spec.concurrency)
    return [
        "-u", users, "-r", users, "-t", f"{spec.max_duration_s}s", "--host", spec.url,
        "--only-summary", "--exit-code-on-error", "0", "--stop-timeout", "30",
        "--spec", str(spec_file), "--out", str(out_dir), "--cell-owned",
    ]  # fmt: skip


def measured_count(spec: RunSpec) -> int:
    """The requests the cell measures (``requests`` 0: the rest of the bucket)."""
    if spec.requests:
        return spec.requests
    return len(PreparedSet.read(spec.data_dir).bucket(spec.bucket)) - spec.prompt_start


def refuse_other_results(out_dir: Path) -> None:
    """A cell is written only where no other kind of result is (a sweep's or demo's manifest
    and summary would be overwritten, and that sweep could not resume)."""
    manifest = out_dir / MANIFEST_FILE
    if not manifest.is_file():
        return
    try:
        kind = json.loads(manifest.read_text()).get("kind", "cell")
    except (ValueError, AttributeError):
        kind = "unreadable"
    if kind != "cell":
        raise ValueError(
            f"{out_dir} holds the results of a {kind} ({manifest}); a cell written there would "
            "overwrite them: give --out a new directory (or a cell directory of its own)"
        )


def run_cell(spec: RunSpec, out_dir: Path, progress: bool = True) -> CellSummary:
    """Warm-up (its own prompts, before the window), then the measured window."""
    refuse_other_results(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (RECORDS_JSONL, HARNESS_CPU_FILE):  # an earlier run's, never this one's
        (out_dir / stale).unlink(missing_ok=True)
    if spec.warmup:
        warm = PreparedSet.read(spec.data_dir).bucket(spec.bucket)
        start = spec.prompt_start
        send_unmeasured(
            spec.url, warm[start : start + spec.warmup], spec.osl, spec.model,
            spec.request_timeout_s,
        )  # fmt: skip
    run = spec.measured()
    window = metrics_window(run)
    window.open(out_dir)
    command = locust_command(run, out_dir)
    manifest = CellManifest(run=spec, locust_command=command, started_wall=time.time())
    write_cell_manifest(out_dir, manifest)
    expected = measured_count(run)
    try:
        harness = _drive(command, out_dir, expected, progress)
    except BaseException:
        window.abort()
        raise
    measured = window.close(out_dir)
    records = read_jsonl(out_dir / RECORDS_JSONL) if (out_dir / RECORDS_JSONL).exists() else []
    write_parquet(records, out_dir / RECORDS_PARQUET)
    summary = complete_summary(spec, records, measured, expected)
    summary.flags += harness_flags(harness, summary.stalled_requests)
    summary.harness_cpu = harness
    write_cell_summary(out_dir, summary)
    return summary


PR_SET_PDEATHSIG = 1  # linux/prctl.h
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent(parent: int) -> None:
    """Runs in the Locust child before it starts: the kernel sends it SIGKILL when the harness
    dies, even by ``kill -9`` (no clean-up of ours runs then), so an orphan never keeps loading
    the server into the next run. If the harness died before this line, the child ends now."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def harness_flags(cpu: HarnessCpu, stalled: int = 0) -> list[str]:
    flags = []
    if cpu.cpu_share > HARNESS_CPU_LIMIT:
        flags.append(
            f"the load generator used {cpu.cpu_share:.0%} of a core (Locust runs on one): it "
            "was saturated, so its send times and latencies include its own delays"
        )
    if stalled and cpu.realtime is False:
        flags.append(
            "the load generator ran at normal CPU priority (real-time was not asked for or not "
            "permitted): streams that stalled may have waited for it; run as root (or with "
            "CAP_SYS_NICE) and --client-priority realtime"
        )
    return flags


def _children_cpu_s() -> float:
    """CPU seconds of this process's finished children (Locust, once it has been waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _drive(command: list[str], out_dir: Path, expected: int, progress: bool) -> HarnessCpu:
    """Run Locust to its end; its CPU use is the change in the finished children's rusage."""
    jsonl = out_dir / RECORDS_JSONL
    cpu_before, started = _children_cpu_s(), time.perf_counter()
    parent = os.getpid()
    report = _Progress(expected) if progress else None
    with (out_dir / "locust.log").open("wb") as log:
        proc = subprocess.Popen(  # preexec_fn only calls prctl: safe beside our threads
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: _die_with_parent(parent),
        )
        try:
            while proc.poll() is None:
                time.sleep(1.0)
                if report is not None:
                    report.show(sum(1 for _ in jsonl.open()) if jsonl.exists() else 0)
        except BaseException:  # interrupted (SIGINT/SIGTERM): Locust must not outlive the cell
            _stop(proc)
            raise
        if report is not None:
            report.end()
    if proc.returncode != 0:
        raise RuntimeError(
            f"locust exited with {proc.returncode}:\n" + _why(out_dir / "locust.log")
        )
    measured = out_dir / HARNESS_CPU_FILE  # Locust's own, over its run: start-up left out
    if measured.is_file():
        return HarnessCpu.model_validate_json(measured.read_text())
    wall = time.perf_counter() - started
    cpu = _children_cpu_s() - cpu_before
    return HarnessCpu(cpu_s=cpu, wall_s=wall, cpu_share=cpu / wall if wall else 0.0)


class _Progress:
    """One line rewritten in place on a terminal; in a log file, a line every 10 s of change."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.tty = sys.stdout.isatty()
        self._last: tuple[int, float] = (-1, 0.0)

    def show(self, done: int) -> None:
        text = f"    {done}/{self.expected} requests"
        if self.tty:
            print(f"\r{text}", end="", flush=True)
        elif done != self._last[0] and time.monotonic() - self._last[1] >= 10:
            print(text, flush=True)
            self._last = (done, time.monotonic())

    def end(self) -> None:
        if self.tty:
            print("\r", end="")


def _why(log: Path) -> str:
    """The harness's own error lines (a refusal names problem and fix), else the log's tail:
    Locust prints its stats table last, which would hide the reason."""
    lines = log.read_text(errors="replace").splitlines()
    reasons = [line for line in lines if "ERROR" in line and "speedbench:" in line]
    return "\n".join(reasons[-5:] or lines[-10:]) + f"\n(whole log: {log})"


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM (Locust closes its record files), then SIGKILL if it does not end in time."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
