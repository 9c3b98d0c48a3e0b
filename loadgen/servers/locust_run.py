"""Distributed Locust as containers run it: the master and worker command lines (one source for
compose and the Helm chart), and the master's wrapper that prints the results at the end of its
log, where someone running a cluster benchmark looks first.

``python -m loadgen.servers.locust_run --results DIR -- locust ...`` runs Locust, then summarises
``DIR/requests.jsonl`` into ``DIR/summary.json``, prints it, and exits with Locust's exit code.
Speedbench's own options (data, bucket, osl, requests, out) travel as ``SPEEDBENCH_*`` variables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import atomic
from loadgen.analysis.summary import summarize_cell
from loadgen.client.sink import RECORDS_JSONL, read_jsonl
from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.registry import adapter_for
from loadgen.metrics.window import WindowCounters, text_deltas

# The load, plus Locust's live statistics for Prometheus (served by the master on :9646).
LOCUSTFILE = "loadgen/speed.py,loadgen/locust_metrics.py"
METRICS_PORT = 9646
SUMMARY_JSON = "summary.json"
RESULTS_BEGIN = "=== speedbench results ==="


@dataclass(frozen=True)
class LoadPlan:
    """Locust's own settings; strings so that compose variables and Helm values fit alike."""

    workers: str
    users: str
    spawn_rate: str
    run_time: str
    host: str
    results: str


def master_command(plan: LoadPlan) -> list[str]:
    return [
        "python",
        "-m",
        "loadgen.servers.locust_run",
        "--results",
        plan.results,
        "--",
        "locust",
        "-f",
        LOCUSTFILE,
        "--master",
        "--expect-workers",
        plan.workers,
        "--headless",
        "-u",
        plan.users,
        "-r",
        plan.spawn_rate,
        "-t",
        plan.run_time,
        "--host",
        plan.host,
    ]


def worker_command(plan: LoadPlan, master_host: str) -> list[str]:
    # Workers split the prompts by index, so they are told how many workers there are.
    return [
        "locust",
        "-f",
        LOCUSTFILE,
        "--worker",
        "--master-host",
        master_host,
        "--expect-workers",
        plan.workers,
    ]


def engine_window(results: Path, engine: str) -> tuple[Acceptance, WindowCounters | None]:
    """The engine's acceptance from the scrapes the Locust master wrote at the start and the end
    of the run (``metrics_before.txt`` / ``metrics_after.txt``); null when it wrote none."""
    before, after = results / "metrics_before.txt", results / "metrics_after.txt"
    if not (before.is_file() and after.is_file()):
        return Acceptance(source="not scraped"), None
    adapter = adapter_for(engine)
    deltas = text_deltas([before.read_text()], [after.read_text()], adapter.counters)
    return adapter.reduce(deltas, []), adapter.window_counters(deltas)


def summarize_results(
    results: Path, server: str, users: int, engine: str = "vllm"
) -> dict[str, Any]:
    """The master's records as a cell summary, with the engine's window when it was scraped."""
    path = results / RECORDS_JSONL
    records = read_jsonl(path) if path.is_file() else []
    bucket = records[0].bucket if records else ""
    acceptance, counters = engine_window(results, engine)
    summary = summarize_cell(server, bucket, users, records, acceptance, counters)
    atomic.write_text(results / SUMMARY_JSON, json.dumps(summary, indent=2))
    return summary


def _option(argv: list[str], flag: str, default: str) -> str:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else default


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit("usage: locust_run --results DIR -- locust ARGS...")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="locust_run", description=__doc__)
    parser.add_argument("--results", type=Path, required=True, help="Locust's --out directory")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    host = _option(command, "--host", "")
    engine = os.environ.get("SPEEDBENCH_ENGINE") or "vllm"
    scrapes = not (
        os.environ.get("SPEEDBENCH_METRICS_URL") or os.environ.get("SPEEDBENCH_NO_METRICS")
    )
    if host and "--metrics-url" not in command and scrapes:
        # the master reads the engine's counters at the start and the end of the run
        command = [*command, "--metrics-url", host.rstrip("/") + adapter_for(engine).metrics_path]
    code = subprocess.run(command, check=False).returncode
    args.results.mkdir(parents=True, exist_ok=True)
    summary = summarize_results(args.results, host, int(_option(command, "-u", "0")), engine)
    print(RESULTS_BEGIN, flush=True)
    print(json.dumps(summary, indent=2), flush=True)
    print(f"locust exit code {code}; records and summary.json in {args.results}", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
