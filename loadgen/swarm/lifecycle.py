"""A Locust run from test start to test stop, in the process that owns it (master or stand-alone):
warm-up (before the engine's metrics window opens), the window, and at test stop the complete cell
-- ``requests.jsonl`` / ``.parquet``, ``summary.json`` with engine acceptance, ``manifest.json`` --
plus the console block. Workers only send their share (``swarm.worker_run``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment

from loadgen import atomic
from loadgen.analysis.cell_figures import complete_summary
from loadgen.analysis.console import console_block
from loadgen.client.access import ServerAccess
from loadgen.client.conversation import iter_turns
from loadgen.client.priority import apply as apply_priority
from loadgen.client.record import RequestRecord
from loadgen.client.sink import (
    RECORDS_JSONL,
    RECORDS_PARQUET,
    WARMUP_JSONL,
    RecordSink,
    read_jsonl,
    write_parquet,
)
from loadgen.client.stream import RequestsTransport
from loadgen.client.transport import RequestSettings
from loadgen.data.prepared import PreparedSet
from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.collect import MetricsUnavailable, MetricsWindow, WindowResult
from loadgen.results.io import HARNESS_CPU_FILE, write_cell_manifest, write_cell_summary
from loadgen.results.schemas import CellManifest, CellSummary, HarnessCpu
from loadgen.runspec import RunSpec
from loadgen.runspec.window import explicit_metrics, metrics_window
from loadgen.swarm.collector import Collector
from loadgen.swarm.live_acceptance import LiveAcceptance
from loadgen.swarm.process import SwarmProcess, run_dir
from loadgen.swarm.share import bucket_slice
from loadgen.swarm.turns import load_templating


@dataclass
class SwarmRun:
    """One test start's run; ``spec`` is its measured part (warm-up already sent)."""

    run_id: str
    out: Path
    full_spec: RunSpec
    spec: RunSpec
    expected: int  # measured prompts of the whole run
    bucket_size: int
    collector: Collector
    window: MetricsWindow | None
    flags: list[str] = field(default_factory=list)
    started_ns: int = field(default_factory=time.perf_counter_ns)
    started_cpu_s: float = field(default_factory=time.process_time)  # this process, all threads
    ended: str | None = None
    finished: bool = False
    watcher: LiveAcceptance | None = None
    worker: Any = None  # stand-alone: the sending side (swarm.worker_run.Sender)


def warm_up(spec: RunSpec, access: ServerAccess, out: Path) -> None:
    """The run's warm-up prompts (every turn), one after another, before the window opens;
    kept in ``warmup.jsonl``, never measured."""
    warm, _ = bucket_slice(spec.data_dir, spec.bucket, spec.prompt_start, spec.warmup, 0)
    templating = load_templating(spec.data_dir, warm)
    settings = RequestSettings(spec.url, spec.osl, spec.model, spec.request_timeout_s)
    sink = RecordSink(out / WARMUP_JSONL)
    try:
        with access.session() as session:
            transport = RequestsTransport(session)
            for prompt in warm:
                for turn in iter_turns(
                    transport, settings, prompt, templating.tokenizer, templating.template_kwargs
                ):
                    sink.write(turn.record)
                    if not turn.record.ok:
                        record = turn.record
                        raise ValueError(
                            f"warm-up request failed: {record.error_kind}: {record.error}"
                        )
    finally:
        sink.close()
    if warm:
        logging.info("speedbench: %d warm-up prompts sent (not measured)", len(warm))


def open_window(spec: RunSpec, out: Path) -> tuple[MetricsWindow | None, list[str]]:
    """The engine's window; a default metrics URL that does not answer is a flag, not a refusal
    (Locust users often point at servers without metrics); a named one that fails refuses."""
    window = metrics_window(spec)
    if not window.metrics_urls and not window.prometheus_url:
        return None, []
    try:
        window.open(out)
    except MetricsUnavailable as exc:
        if explicit_metrics(spec):
            raise ValueError(str(exc)) from None
        flag = f"engine metrics not read ({exc}); give --metrics-url, or --no-metrics"
        logging.warning("speedbench: %s", flag)
        return None, [flag]
    return window, []


def begin(
    environment: Environment,
    process: SwarmProcess,
    spec: RunSpec,
    reuse: bool,
    out: Path,
    test_start_ns: int,
) -> SwarmRun:
    """Master or stand-alone: a new run (own id and directory), warmed up, window open;
    ``test_start_ns`` is when Locust started the test (and its -t clock)."""
    opts = environment.parsed_options
    spec, flags = process.unsent_spec(spec, reuse)
    for note in flags:
        logging.warning("speedbench: %s", note)
    flags = [f for f in flags if f.startswith("prompts reused")]
    run_id = process.new_run_id()
    headless = bool(opts is None or opts.headless)
    directory = run_dir(out, run_id, headless)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RECORDS_JSONL).unlink(missing_ok=True)
    measured_spec = spec.measured()
    _, measured = bucket_slice(spec.data_dir, spec.bucket, spec.prompt_start, spec.warmup,
                               spec.requests)  # fmt: skip
    bucket_size = len(PreparedSet.read(spec.data_dir).bucket(spec.bucket))
    access = ServerAccess.resolve(spec.url, *_access_files(opts))
    apply_priority(spec.client_priority)  # before the warm-up: every timed read after it
    warm_up(spec, access, directory)
    process.mark_sent(spec, spec.prompt_start + spec.warmup + len(measured))
    window, window_flags = open_window(measured_spec, directory)
    run = SwarmRun(
        run_id, directory, spec, measured_spec, len(measured), bucket_size,
        Collector(directory, len(measured), lambda: all_done(environment, process)),
        window, flags + window_flags,
    )  # fmt: skip
    run.started_ns, run.started_cpu_s = test_start_ns, time.process_time()
    if window is not None and window.metrics_urls:
        run.watcher = LiveAcceptance(window, run.collector.live).start()
    if not cell_owned(environment):
        manifest = CellManifest(
            run=spec, locust_command=_argv(), started_wall=time.time(), run_id=run_id
        )
        write_cell_manifest(directory, manifest)
    logging.info("speedbench: run %s: %d measured prompts, results in %s", run_id,
                 len(measured), directory)  # fmt: skip
    return run


def handover(run: SwarmRun) -> str:
    """What the master tells its workers (through Locust's parsed options): the measured spec."""
    return json.dumps({"run_id": run.run_id, "out": str(run.out),
                       "spec": run.spec.model_dump(mode="json")})  # fmt: skip


def all_done(environment: Environment, process: SwarmProcess) -> None:
    """Every measured prompt finished: headless and distributed runs end; the web UI stops."""
    run = process.run
    if run is not None and run.ended is None:
        run.ended = (
            f"prompts exhausted: all {run.expected} measured prompts sent and finished "
            f"({run.spec.prompt_start + run.expected} of the {run.bucket_size} prompts of bucket "
            f"{run.spec.bucket} used)"
        )
    runner = environment.runner
    if runner is None:
        return
    opts = environment.parsed_options
    gevent.spawn(runner.quit if opts is None or opts.headless else runner.stop)


def why_stopped(environment: Environment, run: SwarmRun, interrupted: bool) -> str:
    done = run.collector.prompts_done
    elapsed = (time.perf_counter_ns() - run.started_ns) / 1e9
    opts = environment.parsed_options
    run_time = getattr(opts, "run_time", None)
    headless = opts is None or bool(opts.headless)  # only -t stops a headless run from inside
    if interrupted:
        cause = "interrupted (Ctrl-C or SIGTERM)"
    elif run_time and (headless or elapsed >= float(run_time) - 1):
        cause = f"time limit: -t {run_time}s reached"
    else:
        cause = "stopped (web UI STOP, or the run was stopped from outside)"
    return f"{cause} with {done} of {run.expected} measured prompts finished"


def finish(environment: Environment, run: SwarmRun, interrupted: bool = False) -> CellSummary:
    """Test stop: the run's complete cell on disk, its reason in log, UI and summary."""
    run.finished = True
    if run.watcher is not None:
        run.watcher.stop()
    run.collector.close()
    reason = run.ended or why_stopped(environment, run, interrupted)
    records = _records(run.out)
    failed = [r for r in records if not r.ok]
    if failed:
        reason += f"; {len(failed)} of {len(records)} requests failed"
    run.ended = reason
    window = _close_window(run)
    write_parquet(records, run.out / RECORDS_PARQUET)
    summary = complete_summary(run.spec, records, window, run.expected)
    summary.flags += run.flags
    summary.run_id, summary.ended = run.run_id, reason
    summary.harness_cpu = run_cpu(run)
    atomic.write_text(run.out / HARNESS_CPU_FILE, summary.harness_cpu.model_dump_json())
    if cell_owned(environment):  # the cell writes it, after its own engine window
        return summary
    write_cell_summary(run.out, summary)
    live = run.collector.live
    live.ended = reason
    live.final = [{"name": f"final: {k}", "value": v} for k, v in _final_rows(summary)]
    logging.info("speedbench: run %s ended: %s", run.run_id, reason)
    print(console_block(summary, f"speedbench run {run.run_id}"), flush=True)
    print(f"speedbench: wrote {run.out / 'summary.json'}, {run.out / RECORDS_PARQUET}, "
          f"{run.out / 'manifest.json'}", flush=True)  # fmt: skip
    return summary


def run_cpu(run: SwarmRun) -> HarnessCpu:
    """This process's CPU over the run (test start to stop): its start-up (imports, the
    tokenizer, the warm-up) is left out, so a short cell is not taken for a saturated one.
    ``realtime`` is the senders' (the workers' in a distributed run)."""
    wall = (time.perf_counter_ns() - run.started_ns) / 1e9
    cpu = time.process_time() - run.started_cpu_s
    share = cpu / wall if wall > 0 else 0.0
    realtime = run.collector.senders_realtime()
    return HarnessCpu(cpu_s=cpu, wall_s=wall, cpu_share=share, realtime=realtime)


def cell_owned(environment: Environment) -> bool:
    """Started by a cell (``--cell-owned``), which writes summary and manifest itself."""
    opts = environment.parsed_options
    return bool(getattr(opts, "cell_owned", False))


def _close_window(run: SwarmRun) -> WindowResult:
    if run.window is None:
        none = Acceptance(source="none: no engine metrics read")
        return WindowResult(none, None, [], {})
    return run.window.close(run.out)


def _records(out: Path) -> list[RequestRecord]:
    path = out / RECORDS_JSONL
    return read_jsonl(path) if path.is_file() else []


def _final_rows(summary: CellSummary) -> list[tuple[str, Any]]:
    acc = summary.acceptance
    return [
        ("requests ok / failed", f"{summary.requests_ok} / {summary.requests_failed}"),
        ("output tokens/s", summary.output_tokens_per_s),
        ("TTFT p50 / p99 (ms)", f"{summary.ttft_ms.p50} / {summary.ttft_ms.p99}"),
        ("TPOT per token p50 (ms)", summary.tpot_ms.p50),
        ("ITL per token p50 (ms)", summary.itl_ms.p50),
        ("tokens per chunk (client)", summary.client_tokens_per_chunk),
        ("engine acceptance length", acc.acceptance_length),
        ("flags", "; ".join(summary.flags) or "none"),
    ]


def _access_files(opts: Any) -> tuple[Any, Any]:
    return (opts.api_key_file, opts.ca_bundle) if opts is not None else (None, None)


def _argv() -> list[str]:
    return list(sys.argv)
