"""Run the Locust file distributed for real: one ``--master`` and N ``--worker`` processes."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from loadgen.cell import LOCUSTFILE
from tests.ports import free_port


@dataclass
class ClusterRun:
    master: subprocess.CompletedProcess[str]
    worker_logs: list[str]


def run_distributed(master_args: list[str], workers: int, timeout_s: float = 300) -> ClusterRun:
    """``master_args``: the speedbench options (``--host``, ``--data``, ...) for the master."""
    port = free_port()
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    procs = [
        subprocess.Popen(
            [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(workers)
    ]
    try:
        master = subprocess.run(
            [
                *locust,
                "--master",
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                str(port),
                "--expect-workers",
                str(workers),
                "--headless",
                "--only-summary",
                "--exit-code-on-error",
                "0",
                *master_args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        logs = [p.communicate(timeout=60)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return ClusterRun(master, logs)
