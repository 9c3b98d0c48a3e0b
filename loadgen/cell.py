"""One measured cell: scrape, drive Locust (``loadgen/speed.py``) as a process, scrape, summarise.

Everything a cell measured is on disk in its directory: the raw scrapes, the records as JSON lines
while the load runs and as Parquet afterwards, the Locust log, ``summary.json`` and
``manifest.json``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from loadgen.analysis.categories import category_acceptance
from loadgen.analysis.summary import summarize_cell
from loadgen.client.lag import schedule_report
from loadgen.client.sink import RECORDS_JSONL, RECORDS_PARQUET, read_jsonl, write_parquet
from loadgen.loadpoint import LoadPoint
from loadgen.metrics.collect import MetricsWindow
from loadgen.metrics.registry import adapter_for
from loadgen.results.io import write_cell_manifest, write_cell_summary
from loadgen.results.schemas import CellManifest, CellSummary, LoadBlock
from loadgen.swarm.arrivals import Arrivals

LOCUSTFILE = Path(__file__).with_name("speed.py")


@dataclass(frozen=True)
class CellSpec:
    server: str
    baseline: str | None
    url: str
    metrics_url: str | None
    data_dir: Path
    bucket: str
    concurrency: int  # Locust users: the closed-loop concurrency, or the open-loop in-flight cap
    requests: int
    prompt_start: int
    osl: int
    model: str | None
    request_timeout_s: float = 600.0
    max_duration_s: int = 3600
    # Engine metrics: the adapter (loadgen.metrics.registry), more replicas' metrics endpoints
    # summed with metrics_url, a Prometheus server to read the window through PromQL, and the
    # sampler's poll interval (engines whose SD figures are gauges or drained stats).
    engine: str = "vllm"
    replica_metrics_urls: tuple[str, ...] = ()
    prometheus_url: str | None = None
    poll_interval_s: float = 1.0
    # Open loop (issue 6): requests/s on an absolute clock; None = closed loop at `concurrency`.
    rate: float | None = None
    arrivals: Arrivals = "poisson"
    burstiness: float = 1.0
    transport: str = "auto"  # the HTTP client (loadgen.dispatch.TRANSPORTS)

    @property
    def load(self) -> LoadPoint:
        if self.rate is None:
            return LoadPoint.closed(self.concurrency)
        return LoadPoint.open(self.rate, self.arrivals, self.burstiness)

    def metrics_window(self) -> MetricsWindow:
        urls = (self.metrics_url, *self.replica_metrics_urls) if self.metrics_url else ()
        return MetricsWindow(
            adapter_for(self.engine), urls, self.prometheus_url, self.poll_interval_s
        )


def locust_command(spec: CellSpec, out_dir: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            *locust_options(spec, out_dir)]  # fmt: skip


def locust_options(spec: CellSpec, out_dir: Path) -> list[str]:
    """The cell's options after ``locust -f loadgen/speed.py --headless`` (also what a
    distributed master takes)."""
    command = [
        "-u",
        str(spec.concurrency),
        "-r",
        str(spec.concurrency),
        "-t",
        f"{spec.max_duration_s}s",
        "--host",
        spec.url,
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--stop-timeout",
        "30",
        "--data",
        str(spec.data_dir),
        "--bucket",
        spec.bucket,
        "--osl",
        str(spec.osl),
        "--requests",
        str(spec.requests),
        "--prompt-start",
        str(spec.prompt_start),
        "--out",
        str(out_dir),
        "--request-timeout",
        str(spec.request_timeout_s),
        "--engine",
        spec.engine,
        "--transport",
        spec.transport,
    ]
    load = spec.load
    if load.is_open:
        command += ["--load", "open", "--rate", str(load.rate), "--arrivals", load.arrivals]
        command += ["--burstiness", str(load.burstiness)]
    if spec.model:
        command += ["--model", spec.model]
    return command


def run_cell(spec: CellSpec, out_dir: Path, progress: bool = True) -> CellSummary:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RECORDS_JSONL).unlink(missing_ok=True)
    window = spec.metrics_window()
    window.open(out_dir)
    command = locust_command(spec, out_dir)
    run = asdict(spec)  # the run spec's own dump
    manifest = CellManifest(run=run, locust_command=command, started_wall=time.time())
    write_cell_manifest(out_dir, manifest)
    try:
        _drive(command, out_dir, spec, progress)
    except BaseException:
        window.abort()
        raise
    measured = window.close(out_dir)
    records = read_jsonl(out_dir / RECORDS_JSONL) if (out_dir / RECORDS_JSONL).exists() else []
    write_parquet(records, out_dir / RECORDS_PARQUET)
    summary = summarize_cell(
        spec.server, spec.bucket, spec.load.concurrency, records, measured.acceptance,
        measured.counters,
    )  # fmt: skip
    summary.load = LoadBlock.model_validate(spec.load.to_dict())
    summary.flags += measured.flags
    summary.metrics_window = measured.evidence
    schedule = schedule_report(records)  # issue 4: open-loop lag, kept_up flag
    summary.schedule = schedule
    if "flag" in schedule:
        summary.flags.append(schedule["flag"])
    # per category (qualitative) or entropy tier, from per-request figures, source-labelled
    summary.category_acceptance = [row.to_dict() for row in category_acceptance(records)]
    missing = spec.requests - sum(r.ends_prompt for r in records)  # a prompt = all its turns
    if missing:
        summary.flags.append(f"{missing} of {spec.requests} requests never completed")
    write_cell_summary(out_dir, summary)
    return summary


def _drive(command: list[str], out_dir: Path, spec: CellSpec, progress: bool) -> None:
    jsonl = out_dir / RECORDS_JSONL
    with (out_dir / "locust.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                time.sleep(1.0)
                if progress:
                    done = sum(1 for _ in jsonl.open()) if jsonl.exists() else 0
                    print(f"\r    {done}/{spec.requests} requests", end="", flush=True)
        except BaseException:  # interrupted (SIGINT/SIGTERM): Locust must not outlive the cell
            _stop(proc)
            raise
        if progress:
            print("\r", end="")
    if proc.returncode != 0:
        raise RuntimeError(
            f"locust exited with {proc.returncode}:\n" + _why(out_dir / "locust.log")
        )


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
