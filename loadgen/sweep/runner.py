"""``speedbench sweep``: run a plan's cells, servers one at a time, resumable, then report.

Re-running a plan into the same directory skips every cell that has its ``summary.json`` (written
last, atomically) and redoes a cell that was interrupted; a different plan is refused. The
results directory's ``manifest.json`` records the plan and where every figure came from.
"""

from __future__ import annotations

import json
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
from loadgen.hostinfo import host_description
from loadgen.load.point import LoadPoint
from loadgen.metrics.collect import CLOSING_SCRAPE_FAILED
from loadgen.modelinfo import model_hashes
from loadgen.preflight import check_prompts, preflight
from loadgen.redact import redact
from loadgen.report.build import build_report
from loadgen.results.io import (
    MANIFEST_FILE,
    SUMMARY_FILE,
    read_cell_summary,
    read_sweep_manifest,
    write_sweep_manifest,
)
from loadgen.results.schemas import CellSummary, SweepManifest
from loadgen.results_lock import results_lock
from loadgen.runspec import RunSpec
from loadgen.servers.launcher import LocalServer
from loadgen.sweep.order import schedule
from loadgen.sweep.plan import PlanError, ResolvedServer, SweepPlan
from loadgen.sweep.provenance import engine_version, harness_version


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


def planned_cells(plan: SweepPlan, repeat_dirs: bool = True) -> list[PlannedCell]:
    if not repeat_dirs and plan.repeats != 1:
        raise PlanError("cell directories without r<R> hold one repeat only")
    return [
        PlannedCell(
            bucket,
            load,
            repeat,
            plan.prompt_start(repeat, i),
            plan.requests_for(load),
            repeat_dirs,
        )
        for repeat in range(plan.repeats)
        for bucket in plan.buckets
        for i, load in enumerate(plan.load_points())
    ]


def pending_cells(
    plan: SweepPlan, out: Path, server: str, repeat_dirs: bool = True
) -> list[PlannedCell]:
    """Cells without a summary, or damaged (``redo_reason``); a half-written, cut-short or damaged
    cell directory is cleared to be redone."""
    pending = []
    for cell in planned_cells(plan, repeat_dirs):
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


def warm_up(url: str, data_dir: Path, plan: SweepPlan) -> None:
    """Prompts 0..warmup-1 of each bucket: sent, never measured, never sent again."""
    prepared = PreparedSet.read(data_dir)
    timeout_s = plan.request_timeout_s or RunSpec.model_fields["request_timeout_s"].default
    for bucket in plan.buckets:
        prompts = prepared.bucket(bucket)[: plan.warmup]
        send_unmeasured(url, prompts, plan.osl, plan.served_model_name, timeout_s)


def open_manifest(plan: SweepPlan, out: Path, data_dir: Path) -> SweepManifest:
    """The existing manifest of this plan, or a new one; a different plan is refused."""
    path = out / MANIFEST_FILE
    if path.is_file() and json.loads(path.read_text()).get("kind") not in ("sweep", "demo"):
        raise PlanError(
            f"{out} holds a single cell's results (speedbench run), not a sweep's: give "
            "--out a new directory"
        )
    manifest = read_sweep_manifest(out)
    if manifest is not None:
        if manifest.plan_sha256 != plan.digest():
            raise PlanError(
                f"{out} holds results of a different plan ({manifest.plan.get('name')!r}"
                f", sha256 {manifest.plan_sha256[:12]}); the plan changed. Re-run "
                "with the original plan to resume, or give a new --out directory"
            )
        return manifest
    prepared = PreparedSet.read(data_dir).manifest
    return SweepManifest(
        kind="sweep",
        plan=plan.model_dump(mode="json"),
        plan_sha256=plan.digest(),
        harness={
            "version": harness_version(),
            "git_revision": host_description()["git_revision"],
        },
        host=host_description(),
        model=model_hashes(plan.model),
        data={"dir": str(data_dir), **{k: v for k, v in prepared.items() if k != "isl_stats"}},
        servers={},
    )


def check_data(plan: SweepPlan, data_dir: Path) -> None:
    prepared = PreparedSet.read(data_dir)
    need = plan.prompts_per_bucket()
    for bucket in plan.buckets:
        have = len(prepared.bucket(bucket))
        if have < need:
            raise PlanError(
                f"bucket {bucket!r} of {data_dir} has {have} prompts; the plan needs {need} "
                "(warmup + repeats x load points x requests, every prompt used once): lower "
                "requests/repeats or prepare more rows"
            )
        check_prompts(prepared.bucket(bucket)[:need], data_dir)  # before any server starts


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
        run_cells(plan, plan_dir, out)
        return build_report(out, {"results": str(out), "plan": plan.name, "model": plan.model})


def run_cells(plan: SweepPlan, plan_dir: Path, out: Path, repeat_dirs: bool = True) -> None:
    """Every pending cell of the plan, server by server (the measuring half of a sweep)."""
    servers = plan.resolved_servers()
    data_dir = (plan_dir / plan.data).resolve()
    check_data(plan, data_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = open_manifest(plan, out, data_dir)
    write_sweep_manifest(out, manifest)
    pending = {s.name: pending_cells(plan, out, s.name, repeat_dirs) for s in servers}
    for server in servers:
        if not pending[server.name]:
            say(f"{server.name}: all {len(planned_cells(plan, repeat_dirs))} cells done, skipped")
    cells = planned_cells(plan, repeat_dirs)
    ready: set[str] = set()  # url servers already preflighted and warmed up
    for block in schedule(plan, servers, cells, {c: c.repeat for c in cells}):
        server = block.server
        todo = [c for c in block.cells if c in pending[server.name]]
        if not todo:
            continue
        with endpoint(server, plan, out) as (url, launch):
            if server.url is None or server.name not in ready:
                prepare_server(plan, server, url, launch, data_dir, manifest, out)
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
        plan.buckets, 0, plan.prompts_per_bucket(), plan.osl,
    )  # fmt: skip
    say(f"  {checked.describe()}")
    manifest.servers[server.name]["preflight"] = vars(checked)
    write_sweep_manifest(out, manifest)
    if plan.warmup:
        warm_up(url, data_dir, plan)


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
    run_settings = ("request_timeout_s", "transport", "poll_interval_s", "seed", "max_duration_s")
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
