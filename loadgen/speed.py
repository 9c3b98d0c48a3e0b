"""Locust entry point: ``locust -f loadgen/speed.py --host URL --data PREPARED --bucket 1k ...``.

A thin edge. Each user runs a closed loop: take the next unused prompt, stream it through
``loadgen.dispatch.run_prompt``, append the record to ``--out``, and fire Locust events so the
UI shows TTFT and end-to-end latency. Locust's own stats round to ~2 significant digits; the
exact per-token timings are the records in ``OUT/requests.jsonl``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import requests
from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser

from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_JSONL, RecordSink
from loadgen.dispatch import run_prompt
from loadgen.metrics import live
from loadgen.prompt_pool import PromptPool


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("speedbench", "SPEED-Bench load (env: SPEEDBENCH_<OPTION>)")
    env = os.environ.get
    group.add_argument("--data", default=env("SPEEDBENCH_DATA"), help="prepared data set directory")
    group.add_argument("--bucket", default=env("SPEEDBENCH_BUCKET", "1k"), help="ISL bucket")
    group.add_argument(
        "--osl",
        type=int,
        default=int(env("SPEEDBENCH_OSL", "256")),
        help="output tokens per request (fixed, ignore_eos)",
    )
    group.add_argument(
        "--requests",
        type=int,
        default=int(env("SPEEDBENCH_REQUESTS", "0")),
        help="measured requests; 0 = every prompt of the bucket once",
    )
    group.add_argument(
        "--prompt-start",
        type=int,
        default=int(env("SPEEDBENCH_PROMPT_START", "0")),
        help="index of the first prompt of the bucket to use",
    )
    group.add_argument(
        "--out",
        default=env("SPEEDBENCH_OUT", "speedbench-locust"),
        help="directory for requests.jsonl (one record per request)",
    )
    group.add_argument(
        "--model",
        default=env("SPEEDBENCH_MODEL"),
        help="model name to send (when the server serves several)",
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        default=float(env("SPEEDBENCH_REQUEST_TIMEOUT", "600")),
        help="seconds before one request counts as timed out",
    )
    # --- live metrics hook (loadgen/metrics/live.py) ---
    group.add_argument(
        "--metrics-port",
        type=int,
        default=int(env("SPEEDBENCH_METRICS_PORT", "0")),
        help="export the harness's live metrics for Prometheus on this port (0 = off)",
    )


@dataclass
class RunState:
    pool: PromptPool
    sink: RecordSink
    expected: int
    finished: int = 0


STATE: dict[str, RunState] = {}


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    """Load the prompt slice; bad options end the run at once with a clear message, exit 2."""
    opts = environment.parsed_options
    try:
        if opts is None or not opts.data:
            raise ValueError("--data PREPARED_DIR is required (see `speedbench data prepare`)")
        pool = PromptPool.from_prepared(
            Path(opts.data), opts.bucket, opts.prompt_start, opts.requests or None
        )
    except (ValueError, FileNotFoundError) as exc:
        logging.error("speedbench: %s", exc)
        environment.process_exit_code = 2
        if environment.runner is not None:
            gevent.spawn(environment.runner.quit)
        return
    STATE["run"] = RunState(pool, RecordSink(Path(opts.out) / RECORDS_JSONL), len(pool))
    if opts.metrics_port:  # --- live metrics hook ---
        live.serve(opts.metrics_port)


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    if "run" in STATE:
        STATE.pop("run").sink.close()


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
    """Closed loop: the next request leaves when the previous one has ended."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.session = requests.Session()

    def on_stop(self) -> None:
        self.session.close()

    @task
    def complete(self) -> None:
        state = STATE.get("run")
        prompt = state.pool.take() if state else None
        if state is None or prompt is None:
            raise StopUser()
        opts = self.environment.parsed_options
        live.request_started()  # --- live metrics hook ---
        record = run_prompt(
            self.session,
            self.environment.host or "",
            prompt,
            opts.osl,
            opts.model,
            opts.request_timeout,
        )
        state.sink.write(record)
        live.request_finished(record)  # --- live metrics hook ---
        fire_events(self.environment, record)
        state.finished += 1
        if state.finished == state.expected and self.environment.runner is not None:
            gevent.spawn(self.environment.runner.quit)
