"""Locust entry point: ``locust -f loadgen/speed.py --host URL --data PREPARED --bucket 1k ...``.

A thin edge, the same in every Locust mode (web UI, ``--headless``, ``--master``/``--worker``):
``swarm.plan`` says which prompts this process sends and when (closed loop, or open loop on an
absolute clock), ``conversation.iter_turns`` streams each one (every turn of a multi-turn row, the
model's reply appended before the next), ``swarm.collector`` keeps the records
(workers send theirs to the master), and Locust events show TTFT and end-to-end latency; the web UI
gets a "speedbench" tab with live tokens/s and tokens per chunk. Locust's own stats round to ~2
significant digits; the exact per-token timings are the records in ``OUT/requests.jsonl``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from loadgen.client.access import KEY_VALUE_REFUSED, ServerAccess
from loadgen.client.conversation import Templating, iter_turns
from loadgen.client.fast import KernelStampKeeper
from loadgen.client.record import RequestRecord
from loadgen.client.transport import (
    RequestSettings,
    choose_transport,
    new_transport,
    prepare_process,
)
from loadgen.metrics import exporter
from loadgen.metrics.exposition import scrape
from loadgen.preflight import preflight
from loadgen.runspec import RunSpec
from loadgen.swarm import options
from loadgen.swarm.collector import ERROR_MESSAGE, RECORD_MESSAGE, Collector
from loadgen.swarm.live_tokens import LiveTokens
from loadgen.swarm.share import ProcessPlan, bucket_slice
from loadgen.swarm.turns import load_templating
from loadgen.swarm.webui import extend_web_ui


@dataclass
class RunState:
    spec: RunSpec  # the run's settings, one typed object
    plan: ProcessPlan | None  # None on the master: it sends nothing
    collector: Collector
    templating: Templating  # later turns of multi-turn rows
    transport: str  # the HTTP client chosen for this run (transport.choose_transport)
    stamps: KernelStampKeeper | None = None  # kept open for the run (fast transport)


STATE: dict[str, RunState] = {}


def current_live() -> LiveTokens | None:
    return STATE["run"].collector.live if "run" in STATE else None


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    options.add_arguments(parser)


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    extend_web_ui(environment, current_live)
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(RECORD_MESSAGE, lambda msg, **kw: _on_record(msg))
        runner.register_message(
            ERROR_MESSAGE, lambda msg, **kw: _fail(environment, msg.data["error"])
        )


def _on_record(msg: Any) -> None:
    if "run" in STATE:
        STATE["run"].collector.on_message(STATE["run"].collector.environment, msg)


def _fail(environment: Environment, message: str) -> None:
    """Bad options end the run at once with a clear message, exit code 2."""
    logging.error("speedbench: %s", message)
    environment.process_exit_code = 2
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(ERROR_MESSAGE, {"error": f"worker {runner.worker_index}: {message}"})
    elif runner is not None:
        gevent.spawn(runner.quit)


def build_plan(environment: Environment, spec: RunSpec) -> tuple[ProcessPlan, int, str]:
    """This process's share, the whole run's measured count and the transport it uses."""
    warm, measured = bucket_slice(
        spec.data_dir, spec.bucket, spec.prompt_start, spec.warmup, spec.requests
    )
    index, share = 0, 1
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        opts = environment.parsed_options
        index, share = runner.worker_index, max(1, int(opts.expect_workers if opts else 1))
        if index >= share:
            raise ValueError(
                f"worker index {index} but --expect-workers {share}: start the master with "
                "--expect-workers equal to the number of workers (prompts are split by index)"
            )
    transport = choose_transport(spec.transport, spec.url)
    load = spec.load
    arrivals = load.arrivals if load.is_open else None
    plan = ProcessPlan.share_of(
        warm, measured, index, share, arrivals, spec.rate or 0.0, spec.burstiness, spec.seed
    )
    return plan, len(measured), transport


def server_access(environment: Environment) -> ServerAccess:
    opts = environment.parsed_options
    key_file, bundle = (opts.api_key_file, opts.ca_bundle) if opts is not None else (None, None)
    return ServerAccess.resolve(environment.host or "", key_file, bundle)


def check_server(environment: Environment, spec: RunSpec) -> None:
    """Bad input refused before any load (``loadgen.preflight``), by the processes that send."""
    opts = environment.parsed_options
    if opts is None or isinstance(environment.runner, MasterRunner):
        return
    if opts.refused_api_key:
        raise ValueError(KEY_VALUE_REFUSED)
    count = spec.warmup + spec.requests if spec.requests else None
    checked = preflight(
        server_access(environment), spec.engine, spec.model, spec.data_dir, [spec.bucket],
        spec.prompt_start, count, spec.osl, warn=logging.warning,
    )  # fmt: skip
    logging.info("speedbench: %s", checked.describe())


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    opts = environment.parsed_options
    is_master = isinstance(environment.runner, MasterRunner)
    try:
        spec = options.run_spec(opts, environment.host or "")  # refuses a run without --data
        plan, total, transport = build_plan(environment, spec)
        check_server(environment, spec)
        templating = (
            Templating()
            if is_master
            else load_templating(spec.data_dir, plan.warmup + plan.measured)
        )
    except (ValueError, FileNotFoundError) as exc:
        _fail(environment, str(exc))
        return
    out = Path(opts.out if opts else "speedbench-locust")
    is_worker = isinstance(environment.runner, WorkerRunner)
    expected = len(plan.measured) if is_worker else total
    if spec.metrics_urls and not is_worker:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics_before.txt").write_text(scrape(spec.metrics_urls[0]))
    if opts is not None and opts.metrics_port and not is_master:
        exporter.serve(opts.metrics_port)  # the harness's own live metrics for Prometheus
    stamps = None
    if not isinstance(environment.runner, MasterRunner):
        stamps = prepare_process(environment.host or "", transport)
        logging.info("speedbench: transport %s", transport)
    _close_stamps()  # a run started again from the web UI: the new keeper replaces the old
    STATE["run"] = RunState(
        spec, None if is_master else plan, Collector(environment, out, expected), templating,
        transport, stamps,
    )  # fmt: skip


def _close_stamps() -> None:
    state = STATE.get("run")
    if state is not None and state.stamps is not None:
        state.stamps.close()


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    if "run" not in STATE:
        return
    _close_stamps()
    state = STATE.pop("run")
    state.collector.close()
    opts = environment.parsed_options
    if (
        opts is not None
        and state.spec.metrics_urls
        and not isinstance(environment.runner, WorkerRunner)
    ):
        (Path(opts.out) / "metrics_after.txt").write_text(scrape(state.spec.metrics_urls[0]))


def fire_events(environment: Environment, record: RequestRecord) -> None:
    """Locust UI entries: end-to-end (with the error, if any) and TTFT."""
    exception = None if record.ok else RuntimeError(f"{record.error_kind}: {record.error}")
    name = f"{record.bucket} completion"
    environment.events.request.fire(
        request_type="SSE",
        name=f"{name} e2e",
        response_time=record.e2e_ms,
        response_length=record.output_tokens,
        exception=exception,
        context={},
    )
    if record.ok and record.ttft_ms is not None:
        environment.events.request.fire(
            request_type="SSE",
            name=f"{name} ttft",
            response_time=record.ttft_ms,
            response_length=0,
            exception=None,
            context={},
        )


class SpeedUser(User):
    """Closed loop: the next request leaves when the previous one has ended. Open loop: each
    user takes the next scheduled slot and sends it at its intended time (-u caps in flight)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        # API key for the server's origin only, TLS verified, no proxy / netrc look-ups
        state = STATE.get("run")
        transport = state.transport if state is not None else "requests"
        self.session = new_transport(transport, server_access(self.environment))

    def on_stop(self) -> None:
        self.session.close()

    @task
    def complete(self) -> None:
        state = STATE.get("run")
        slot = state.plan.take() if state is not None and state.plan is not None else None
        if state is None or slot is None:
            raise StopUser()
        if slot.intended_send_ns is not None:
            gevent.sleep(max(0.0, (slot.intended_send_ns - time.perf_counter_ns()) / 1e9))
        spec = state.spec
        settings = RequestSettings(
            self.environment.host or "", spec.osl, spec.model, spec.request_timeout_s
        )
        t = state.templating
        exporter.request_started()
        for turn in iter_turns(
            self.session,
            settings,
            slot.prompt,
            t.tokenizer,
            t.template_kwargs,
            slot.intended_send_ns,
        ):
            record = turn.record
            exporter.request_finished(record)
            if not slot.warmup:
                fire_events(self.environment, record)
            state.collector.record_ended(record, slot.warmup)
            if not record.ends_prompt:
                exporter.request_started()  # the next turn
        if slot.warmup:
            state.plan.warmup_ended()  # type: ignore[union-attr]
