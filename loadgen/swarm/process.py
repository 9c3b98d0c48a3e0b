"""The Locust process's speedbench state, kept on Locust's ``Environment`` (never a module
global): its role, decided once at init, the prompts it already sent to each server, and the run
under way. Each test start is a new run with its own id and directory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadgen.runspec import RunSpec

Role = Literal["master", "worker", "local"]
ATTRIBUTE = "speedbench"  # environment.speedbench


def role_of(environment: Environment) -> Role:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return "master"
    return "worker" if isinstance(runner, WorkerRunner) else "local"


@dataclass
class SwarmProcess:
    role: Role
    runs: int = 0
    run: Any = None  # the run under way (swarm.lifecycle.SwarmRun), None between runs
    last: Any = None  # the last run, kept for the web UI after it ended
    sender: Any = None  # this process's sending side (swarm.sender.Sender), None on a master
    exporter: Any = None  # the live Prometheus exporter (metrics.exporter), started once
    next_unsent: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def new_run_id(self) -> str:
        self.runs += 1
        return time.strftime("%Y%m%d-%H%M%S") + f"-run{self.runs}"

    def unsent_spec(self, spec: RunSpec, reuse: bool) -> tuple[RunSpec, list[str]]:
        """The spec moved past the prompts this process already sent to the same server (prefix
        caching would serve them from cache); with ``reuse`` they are sent again, flagged."""
        key = (spec.url, str(spec.data_dir), spec.bucket)
        sent_until = self.next_unsent.get(key, 0)
        if spec.prompt_start >= sent_until:
            return spec, []
        if reuse:
            flag = (
                f"prompts reused: prompts {spec.prompt_start}..{sent_until - 1} of bucket "
                f"{spec.bucket} were already sent to {spec.url} (prefix caching flatters TTFT)"
            )
            return spec, [flag]
        moved = spec.model_copy(update={"prompt_start": sent_until})
        note = (
            f"prompts {spec.prompt_start}..{sent_until - 1} of bucket {spec.bucket} were "
            f"already sent to {spec.url} by this process: starting at prompt {sent_until} "
            "(--reuse-prompts sends them again)"
        )
        return moved, [note]

    def mark_sent(self, spec: RunSpec, until: int) -> None:
        key = (spec.url, str(spec.data_dir), spec.bucket)
        self.next_unsent[key] = max(self.next_unsent.get(key, 0), until)


def attach(environment: Environment) -> SwarmProcess:
    process = SwarmProcess(role_of(environment))
    setattr(environment, ATTRIBUTE, process)
    return process


def process_of(environment: Environment) -> SwarmProcess:
    process: SwarmProcess = getattr(environment, ATTRIBUTE)
    return process


def run_dir(out: Path, run_id: str, headless: bool) -> Path:
    """Headless (a cell, compose, Helm): ``--out`` is the run's directory. Web UI: each START
    gets ``OUT/<run id>/``, so ``speedbench report OUT`` reads every run as a cell."""
    return out if headless else out / run_id
