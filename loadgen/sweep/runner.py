"""``speedbench sweep``: run a plan's cells, servers one at a time, resumable, then report.

Re-running a plan into the same directory skips every cell that has its ``summary.json`` (written
last, atomically) and redoes a cell that was interrupted; a plan that only adds cells extends the
sweep (loadgen/sweep/extend.py), any other change is refused. A rate sweep runs its chosen rates
after the closed-loop cells (loadgen/sweep/rate_sweep.py). The results directory's
``manifest.json`` records the plan, its history, the prompt slices and where every figure came
from.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.analysis.speedup import SpeedupRow
from loadgen.analysis.summary import SERVER_GONE_KINDS
from loadgen.cell import run_cell, send_unmeasured
from loadgen.client.access import ServerAccess
from loadgen.client.sink import RECORDS_PARQUET, read_parquet
from loadgen.data.prepared import PreparedSet
from loadgen.load.point import LoadPoint
from loadgen.metrics.collect import CLOSING_SCRAPE_FAILED
from loadgen.preflight import preflight
from loadgen.redact import redact
from loadgen.report.build import build_report
from loadgen.results.io import (
    SUMMARY_FILE,
    read_cell_summary,
    write_sweep_manifest,
)
from loadgen.results.schemas import CellSummary, SweepManifest
from loadgen.results_lock import results_lock
from loadgen.runspec import RunSpec
from loadgen.servers.launcher import LocalServer
from loadgen.sweep import rate_sweep
from loadgen.sweep.extend import history_context, with_chosen_rates
from loadgen.sweep.order import schedule
from loadgen.sweep.plan import PlanError, SweepPlan
from loadgen.sweep.plan_server import ResolvedServer
from loadgen.sweep.provenance import engine_version
from loadgen.sweep.setup import check_data, open_manifest
from loadgen.sweep.slices import PromptSlices


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class PlannedCell:
    bucket: str
    load: LoadPoint
    repeat: int
    prompt_start: int
    requests: int
    repeat_dirs: bool = True  # False: the demo's layout, one repeat, no r<R> level

    def directory(self, out: Path, server: str) -> Path:
        cell = out / "cells" / server / self.bucket / self.load.slug
        return cell / f"r{self.repeat}" if self.repeat_dirs else cell


def planned_cells(
    plan: SweepPlan, repeat_dirs: bool = True, slices: PromptSlices | None = None
) -> list[PlannedCell]:
    """The plan's cells, each with its prompt slice (default: a new sweep's layout)."""
    if not repeat_dirs and plan.repeats != 1:
        raise PlanError("cell directories without r<R> hold one repeat only")
    slices = slices or PromptSlices.laid_out(plan)
    return [
        PlannedCell(
            bucket,
            load,
            repeat,
            slices.start(bucket, load, repeat),
            plan.requests_for(load),
            repeat_dirs,
        )
        for repeat in range(plan.repeats)
        for bucket in plan.buckets
        for load in plan.load_points()
    ]


def pending_cells(
    plan: SweepPlan,
    out: Path,
    server: str,
    repeat_dirs: bool = True,
    slices: PromptSlices | None = None,
) -> list[PlannedCell]:
    """Cells without a summary, or damaged (``redo_reason``); a half-written, cut-short or damaged
    cell directory is cleared to be redone."""
    pending = []
    for cell in planned_cells(plan, repeat_dirs, slices):
        directory = cell.directory(out, server)
        if (directory / SUMMARY_FILE).is_file():
            reason = redo_reason(directory)
            if reason is None:
                continue
            say(f"{server} {cell.bucket} {cell.load.label}: {reason}: redone")
        if directory.exists():
            shutil.rmtree(directory)
        pending.append(cell)
    return pending


def redo_reason(directory: Path) -> str | None:
    """Why a finished cell cannot be kept: its server stopped answering or went away at the end
    (even one request: a kill during the last one), its engine figures are missing because the
    closing scrape failed, or another client's requests reached the server in its window (an
    orphaned load generator). None: keep it."""
    summary = read_cell_summary(directory)
    if summary.server_stopped_answering:
        return "the server stopped answering"
    if summary.acceptance.source == CLOSING_SCRAPE_FAILED:
        return "its closing metrics scrape failed (engine figures missing)"
    if any(flag.endswith(": foreign traffic") for flag in summary.flags):
        return "the server finished requests the cell did not send (foreign traffic)"
    records = read_parquet(directory / RECORDS_PARQUET)
    last = max(records, key=lambda r: r.send_ns, default=None)
    if last is not None and last.error_kind in SERVER_GONE_KINDS:
        return f"its last request failed ({last.error_kind}): the server may have gone"
    return None


def warm_up(url: str, data_dir: Path, plan: SweepPlan, start: int) -> None:
    """The warm-up slice of each bucket (``start``, ``warmup`` prompts): sent, never measured."""
    prepared = PreparedSet.read(data_dir)
    timeout_s = plan.request_timeout_s or RunSpec.model_fields["request_timeout_s"].default
    for bucket in plan.buckets:
        prompts = prepared.bucket(bucket)[start : start + plan.warmup]
        send_unmeasured(url, prompts, plan.osl, plan.served_model_name, timeout_s)


@contextmanager
def endpoint(
    server: ResolvedServer, plan: SweepPlan, out: Path
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A running URL as is, or the variant launched here and stopped afterwards."""
    if server.url is not None:
        yield server.url, {"launch": "external endpoint (not started by the harness)"}
        return
    assert server.variant is not None
    local = LocalServer(
        server.variant, plan.model, out / "servers" / f"{server.name}.log", plan.port
    )
    say(f"starting {server.name} (log: {local.log_path})")
    with local:
        startup_s = local.wait_healthy()
        say(f"  healthy after {startup_s:.0f} s")
        launch = {"command": local.command, "env": server.variant.env}
        yield local.url, {"launch": redact(launch), "startup_s": startup_s}


def run_sweep(plan: SweepPlan, plan_dir: Path, out: Path) -> list[SpeedupRow]:
    with results_lock(out):
        manifest = run_cells(plan, plan_dir, out)
        context = {"results": str(out), "plan": plan.name, "model": plan.model}
        return build_report(out, {**context, **history_context(manifest)})


def run_cells(
    plan: SweepPlan, plan_dir: Path, out: Path, repeat_dirs: bool = True
) -> SweepManifest:
    """Every pending cell of the plan, server by server (the measuring half of a sweep); with a
    rate sweep, the closed-loop cells, then the rates chosen from them."""
    servers = plan.resolved_servers()
    data_dir = (plan_dir / plan.data).resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest = open_manifest(plan, out, data_dir)
    assert manifest.prompts is not None  # open_manifest records the slices
    slices = PromptSlices.from_json(manifest.prompts)
    unchosen = plan.rate_sweep is not None and manifest.rate_sweep is None
    later = plan.repeats * plan.rate_sweep.points * plan.requests if plan.rate_sweep else 0
    check_data(plan, data_dir, slices.next + (later if unchosen else 0))
    write_sweep_manifest(out, manifest)
    ready: set[str] = set()  # url servers already preflighted and warmed up
    measured = with_chosen_rates(plan, manifest)
    run_pending(measured, slices, servers, data_dir, manifest, out, repeat_dirs, ready)
    if plan.rate_sweep is not None and manifest.rate_sweep is None:
        closed = planned_cells(plan, repeat_dirs, slices)
        dirs = [c.directory(out, s.name) for s in servers for c in closed]
        manifest.rate_sweep = rate_sweep.choose(plan.rate_sweep, dirs, out)
        say(f"rate sweep: {rate_sweep.describe(manifest.rate_sweep)}")
        measured = with_chosen_rates(plan, manifest)
        slices = slices.extended(measured, fresh_warmup=False)
        manifest.prompts = slices.to_json()
        write_sweep_manifest(out, manifest)
        run_pending(measured, slices, servers, data_dir, manifest, out, repeat_dirs, ready)
    return manifest


def run_pending(
    plan: SweepPlan,
    slices: PromptSlices,
    servers: list[ResolvedServer],
    data_dir: Path,
    manifest: SweepManifest,
    out: Path,
    repeat_dirs: bool,
    ready: set[str],
) -> None:
    """The plan's cells that are not done, in the plan's order of servers."""
    pending = {s.name: pending_cells(plan, out, s.name, repeat_dirs, slices) for s in servers}
    cells = planned_cells(plan, repeat_dirs, slices)
    for server in servers:
        if not pending[server.name]:
            say(f"{server.name}: all {len(cells)} cells done, skipped")
    for block in schedule(plan, servers, cells, {c: c.repeat for c in cells}):
        server = block.server
        todo = [c for c in block.cells if c in pending[server.name]]
        if not todo:
            continue
        with endpoint(server, plan, out) as (url, launch):
            if server.url is None or server.name not in ready:
                prepare_server(plan, server, url, launch, data_dir, manifest, out, slices)
                ready.add(server.name)
            for cell in todo:
                summary = run_cell(
                    cell_spec(plan, server, url, data_dir, cell), cell.directory(out, server.name)
                )
                where = f"{cell.bucket} {cell.load.label}" + (
                    f" r{cell.repeat}" if repeat_dirs else ""
                )
                say(f"  {server.name} {where}: {cell_line(summary)}")


def prepare_server(
    plan: SweepPlan,
    server: ResolvedServer,
    url: str,
    launch: dict[str, Any],
    data_dir: Path,
    manifest: SweepManifest,
    out: Path,
    slices: PromptSlices,
) -> None:
    """Record the server in the manifest, check it (preflight) and warm it up."""
    manifest.servers[server.name] = {
        **server.model_dump(mode="json", exclude={"variant"}),
        "variant": redact(server.variant.model_dump()) if server.variant else None,
        "url": url,
        "version": engine_version(url),
        **launch,
    }
    checked = preflight(
        ServerAccess.resolve(url), server.engine, plan.served_model_name, data_dir,
        plan.buckets, 0, slices.next, plan.osl,
    )  # fmt: skip
    say(f"  {checked.describe()}")
    manifest.servers[server.name]["preflight"] = vars(checked)
    write_sweep_manifest(out, manifest)
    if plan.warmup:
        warm_up(url, data_dir, plan, slices.warmup_start)


def cell_line(summary: CellSummary) -> str:
    """The console line of a finished cell: the headline tok/s (steady state in a closed loop,
    else the window's), named, and the share of requests it keeps."""
    acc = summary.acceptance
    al, per_step = acc.al_while_drafting, acc.tokens_per_target_step
    if summary.steady_output_tokens_per_s is not None:
        tps = (f"{summary.steady_output_tokens_per_s:.1f} tok/s steady "
               f"({summary.steady_request_share or 0:.0%} of requests)")  # fmt: skip
    else:
        tps = f"{summary.output_tokens_per_s or 0:.1f} tok/s window"
    return (
        f"{summary.requests_ok} ok, {summary.requests_failed} failed, {tps}"
        + (f", AL while drafting {al:.2f}" if al else "")
        + (f", {per_step:.2f} tokens per target step" if al and per_step else "")
    )


def cell_spec(
    plan: SweepPlan, server: ResolvedServer, url: str, data_dir: Path, cell: PlannedCell
) -> RunSpec:
    """A cell's run spec: the plan's run settings, the server's access and metrics, the cell's
    prompts and load (the server's warm-up is sent once before its first cell, not per cell)."""
    run_settings = (
        "request_timeout_s", "transport", "client_priority", "poll_interval_s", "seed",
        "max_duration_s",
    )  # fmt: skip
    settings = {k: getattr(plan, k) for k in run_settings if getattr(plan, k) is not None}
    return RunSpec(
        server=server.name,
        baseline=server.baseline,
        url=url,
        engine=server.engine,
        model=plan.served_model_name,
        metrics_urls=metrics_urls(server, url),
        no_metrics=server.no_metrics,
        prometheus_url=server.prometheus_url,
        data_dir=data_dir,
        bucket=cell.bucket,
        prompt_start=cell.prompt_start,
        warmup=0,
        requests=cell.requests,
        osl=plan.osl,
        concurrency=plan.users(cell.load),
        rate=cell.load.rate,
        arrivals=cell.load.arrivals,
        burstiness=cell.load.burstiness,
        **settings,
    )


def metrics_urls(server: ResolvedServer, url: str) -> tuple[str, ...]:
    """The server's direct metrics endpoints, replicas summed with the first."""
    first = server.metrics_url_at(url)
    return () if first is None else (first, *server.replica_metrics_urls)
