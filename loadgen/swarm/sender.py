"""The sending side of a Locust run (a stand-alone process or a worker): its share of the measured
prompts, the multi-turn templating, the transport and, on a worker, its own record copy."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner

from loadgen.client.conversation import Templating
from loadgen.client.fast import KernelStampKeeper
from loadgen.client.priority import apply as apply_priority
from loadgen.client.transport import choose_transport, prepare_process
from loadgen.runspec import RunSpec
from loadgen.swarm.collector import Collector
from loadgen.swarm.share import ProcessPlan, bucket_slice
from loadgen.swarm.turns import load_templating


@dataclass
class Sender:
    spec: RunSpec  # the measured part: warm-up already sent by the run's owner
    plan: ProcessPlan
    collector: Collector
    templating: Templating
    transport: str
    stamps: KernelStampKeeper | None

    def close(self) -> None:
        if self.stamps is not None:
            self.stamps.close()


def worker_share(environment: Environment) -> tuple[int, int]:
    runner = environment.runner
    if not isinstance(runner, WorkerRunner):
        return 0, 1
    opts = environment.parsed_options
    index, share = runner.worker_index, max(1, int(opts.expect_workers if opts else 1))
    if index >= share:
        raise ValueError(
            f"worker index {index} but --expect-workers {share}: start the master with "
            "--expect-workers equal to the number of workers (prompts are split by index)"
        )
    return index, share


def new_sender(environment: Environment, spec: RunSpec, collector: Collector) -> Sender:
    index, share = worker_share(environment)
    _, measured = bucket_slice(spec.data_dir, spec.bucket, spec.prompt_start, 0, spec.requests)
    load = spec.load
    arrivals = load.arrivals if load.is_open else None
    plan = ProcessPlan.share_of(
        measured, index, share, arrivals, spec.rate or 0.0, spec.burstiness, spec.seed
    )
    transport = choose_transport(spec.transport, spec.url)
    templating = load_templating(spec.data_dir, plan.measured)
    stamps = prepare_process(spec.url, transport)
    logging.info("speedbench: transport %s", transport)
    return Sender(spec, plan, collector, templating, transport, stamps)


def worker_sender(environment: Environment, handover: str) -> Sender:
    """A worker's share of the run the master started (``lifecycle.handover``)."""
    data: dict[str, Any] = json.loads(handover)
    spec = RunSpec.model_validate(data["spec"])
    runner = environment.runner
    assert isinstance(runner, WorkerRunner)
    index, _ = worker_share(environment)
    apply_priority(spec.client_priority)  # the workers send: theirs are the timed reads
    collector = Collector(Path(data["out"]), 0, lambda: None, (index, runner.send_message))
    return new_sender(environment, spec, collector)
