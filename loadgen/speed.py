"""Locust entry point: ``locust -f loadgen/speed.py --host URL --data PREPARED --bucket 1k ...``.

A thin edge, the same in every Locust mode (web UI, ``--headless``, ``--master``/``--worker``).
The process's state lives on Locust's ``Environment`` (``environment.speedbench``, its role
decided once at init). Each test start is a new run (``swarm.lifecycle``): the master or
stand-alone process sends the warm-up, opens the engine's metrics window and, at test stop,
writes the complete cell (records, ``summary.json`` with engine acceptance, manifest) and prints
a console summary with the reason the run ended. Users stream their process's share of the
measured prompts (``swarm.sender``); Locust shows one entry per request (its end-to-end time);
tokens and per-token latencies are in the "speedbench" tab and the records.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser

from loadgen.client.access import KEY_VALUE_REFUSED, ServerAccess
from loadgen.client.conversation import iter_turns
from loadgen.client.record import RequestRecord
from loadgen.client.transport import RequestSettings, choose_transport, new_transport
from loadgen.metrics import exporter
from loadgen.preflight import preflight
from loadgen.runspec import RunSpec
from loadgen.swarm import lifecycle, options
from loadgen.swarm.collector import ERROR_MESSAGE, RECORD_MESSAGE
from loadgen.swarm.process import SwarmProcess, attach, process_of
from loadgen.swarm.sender import Sender, new_sender, worker_sender
from loadgen.swarm.webui import extend_web_ui


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    options.add_arguments(parser)


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    process = attach(environment)
    extend_web_ui(environment, lambda: _live(process))
    runner = environment.runner
    if process.role == "master" and runner is not None:
        runner.register_message(RECORD_MESSAGE, lambda msg, **kw: _on_record(process, msg))
        runner.register_message(
            ERROR_MESSAGE, lambda msg, **kw: _fail(environment, msg.data["error"])
        )
    if process.role != "worker":
        # Ctrl-C: Locust's own SIGTERM shutdown, in every mode (the web UI ignored SIGINT)
        gevent.signal_handler(signal.SIGINT, os.kill, os.getpid(), signal.SIGTERM)


def _live(process: SwarmProcess) -> Any:
    run = process.run or process.last
    return run.collector.live if run is not None else None


def _on_record(process: SwarmProcess, msg: Any) -> None:
    if process.run is not None:
        process.run.collector.on_message(msg)


def _fail(environment: Environment, message: str) -> None:
    """Bad options: headless runs end at once with exit code 2; the web UI stops the run and
    shows why (the process stays up for a corrected start)."""
    logging.error("speedbench: %s", message)
    process, runner = process_of(environment), environment.runner
    if process.role == "worker" and runner is not None:
        runner.send_message(ERROR_MESSAGE, {"error": f"worker: {message}"})
        return
    if process.run is not None:
        process.run.ended = f"refused: {message}"
    opts = environment.parsed_options
    if opts is None or opts.headless:
        environment.process_exit_code = 2
        if runner is not None:
            gevent.spawn(runner.quit)
    elif runner is not None:
        gevent.spawn(runner.stop)


def server_access(environment: Environment) -> ServerAccess:
    opts = environment.parsed_options
    key_file, bundle = (opts.api_key_file, opts.ca_bundle) if opts is not None else (None, None)
    return ServerAccess.resolve(environment.host or "", key_file, bundle)


def check_server(environment: Environment, spec: RunSpec) -> None:
    """Bad input refused before any load (``loadgen.preflight``), by the process that starts it."""
    opts = environment.parsed_options
    if opts is not None and opts.refused_api_key:
        raise ValueError(KEY_VALUE_REFUSED)
    count = spec.warmup + spec.requests if spec.requests else None
    checked = preflight(
        server_access(environment), spec.engine, spec.model, spec.data_dir, [spec.bucket],
        spec.prompt_start, count, spec.osl, warn=logging.warning,
    )  # fmt: skip
    logging.info("speedbench: %s", checked.describe())


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    test_start_ns = time.perf_counter_ns()  # Locust's -t clock runs from about now
    process = process_of(environment)
    opts = environment.parsed_options
    _end_sender(process)
    try:
        if process.role == "worker":
            process.sender = worker_sender(environment, opts.speedbench_run if opts else "")
            return
        spec = options.run_spec(opts, environment.host or "")  # refuses a run without --data
        choose_transport(spec.transport, spec.url)  # refuses what the transport cannot do
        check_server(environment, spec)
        out = Path(opts.out if opts else "speedbench-locust")
        reuse = bool(opts.reuse_prompts) if opts is not None else False
        run = lifecycle.begin(environment, process, spec, reuse, out, test_start_ns)
        process.run = run
        if process.role == "master":
            opts.speedbench_run = lifecycle.handover(run)  # type: ignore[union-attr]
        else:
            process.sender = new_sender(environment, run.spec, run.collector)
    except (ValueError, FileNotFoundError) as exc:
        _fail(environment, str(exc))
        return
    if opts is not None and opts.metrics_port and process.exporter is None:
        process.exporter = exporter.serve(opts.metrics_port)  # live metrics for Prometheus


def _end_sender(process: SwarmProcess) -> None:
    if process.sender is not None:
        process.sender.close()
        if process.role == "worker":
            process.sender.collector.close()
        process.sender = None


def _finish(environment: Environment, interrupted: bool) -> None:
    process = process_of(environment)
    run = process.run
    if run is not None and not run.finished:
        process.run, process.last = None, run
        lifecycle.finish(environment, run, interrupted)


@events.test_stop.add_listener
def on_test_stop(environment: Environment, **_: Any) -> None:
    _finish(environment, interrupted=False)


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    """Locust's shutdown (SIGTERM, Ctrl-C) fires this before it stops the runner."""
    _finish(environment, interrupted=True)
    _end_sender(process_of(environment))


def fire_event(environment: Environment, record: RequestRecord) -> None:
    """One Locust entry per request: its end-to-end time (and its error, if any). Tokens and
    per-token latencies are the speedbench tab's, so no byte column shows tokens."""
    exception = None if record.ok else RuntimeError(f"{record.error_kind}: {record.error}")
    environment.events.request.fire(
        request_type="SSE",
        name=f"{record.bucket} completion",
        response_time=record.e2e_ms,
        response_length=0,
        exception=exception,
        context={"output_tokens": record.output_tokens, "ttft_ms": record.ttft_ms},
    )


class SpeedUser(User):
    """Closed loop: the next request leaves when the previous one has ended. Open loop: each
    user takes the next scheduled slot and sends it at its intended time (-u caps in flight)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        # API key for the server's origin only, TLS verified, no proxy / netrc look-ups
        sender = process_of(self.environment).sender
        transport = sender.transport if sender is not None else "requests"
        self.session = new_transport(transport, server_access(self.environment))

    def on_stop(self) -> None:
        self.session.close()

    @task
    def complete(self) -> None:
        process = process_of(self.environment)
        sender: Sender | None = process.sender
        slot = sender.plan.take() if sender is not None else None
        if sender is None or slot is None:
            raise StopUser()
        if slot.intended_send_ns is not None:
            gevent.sleep(max(0.0, (slot.intended_send_ns - time.perf_counter_ns()) / 1e9))
        spec = sender.spec
        settings = RequestSettings(spec.url, spec.osl, spec.model, spec.request_timeout_s)
        t, live = sender.templating, process.exporter
        if live is not None:
            live.request_started()
        for turn in iter_turns(
            self.session, settings, slot.prompt, t.tokenizer, t.template_kwargs,
            slot.intended_send_ns,
        ):  # fmt: skip
            record = turn.record
            if live is not None:
                live.request_finished(record)
            fire_event(self.environment, record)
            sender.collector.record_ended(record)
            if not record.ends_prompt and live is not None:
                live.request_started()  # the next turn
