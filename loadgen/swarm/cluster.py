"""Distributed Locust as containers run it: the master and worker command lines, one source for
compose and the Helm chart. The master is plain Locust: at test stop it writes the complete cell
(records, summary.json with engine acceptance, manifest) into ``--out`` and prints the console
summary at the end of its log, where someone running a cluster benchmark looks first.
Speedbench's run settings (data, bucket, osl, requests) travel as ``SPEEDBENCH_*`` variables.
"""

from __future__ import annotations

from dataclasses import dataclass

# The load, plus Locust's live statistics for Prometheus (served by the master on :9646).
LOCUSTFILE = "loadgen/speed.py,loadgen/locust_metrics.py"
METRICS_PORT = 9646


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
        "--out",
        plan.results,
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
