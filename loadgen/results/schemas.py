"""The result files as versioned models: the one declaration of each file's fields.

- :class:`CellSummary` -- a cell's ``summary.json`` (the interface contract of PRODUCT.md: its
  field names are kept exactly; new fields are added, never renamed).
- :class:`CellManifest` -- a cell's ``manifest.json``: the run spec's own JSON dump (``run``) and
  how Locust was started.
- :class:`SweepManifest` -- a sweep's or demo's ``manifest.json``: the plan, the host, the data and
  every server as it was launched.
- :class:`ReportSummary` -- the results directory's ``summary.json`` written by the report.

Each file carries ``schema_version``; :mod:`loadgen.results.io` writes and reads them (the one
place that does), migrating older files and refusing newer ones with the fix.
``python -m loadgen.results.schemas [DIR]`` writes their JSON Schemas (default ``docs/schemas``).
Open blocks (engine counters, evidence, plan) stay dicts: their own modules define them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final, Literal, cast

from pydantic import BaseModel, ConfigDict

from loadgen.load.arrivals import Arrivals
from loadgen.load.point import LoadPoint
from loadgen.runspec import RunSpec

CELL_SUMMARY_VERSION: Final = 1
CELL_MANIFEST_VERSION: Final = 1
SWEEP_MANIFEST_VERSION: Final = 1
REPORT_SUMMARY_VERSION: Final = 1


class _Model(BaseModel):
    """Strict: an unknown key is an error (a typo in a writer, or a file of another format)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Distribution(_Model):
    """mean / p50 / p90 / p99 in ms; nulls when there was nothing to summarise."""

    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None


class AcceptanceBlock(_Model):
    """The engine's acceptance over the cell's window (nulls for a baseline). Definitions of
    the figures: :mod:`loadgen.metrics.acceptance`. ``acceptance_length`` is the AL *while
    drafting* (also as ``al_while_drafting``); ``tokens_per_target_step`` is over all decode
    steps (``target_steps``, counted as ``steps_source`` says) and is what speedup follows."""

    source: str
    drafts: float | None = None
    draft_tokens: float | None = None
    accepted_tokens: float | None = None
    per_position: list[float] = []
    counter_reset: bool = False
    estimate: bool = False
    acceptance_rate: float | None = None
    acceptance_length: float | None = None
    conditional_per_position: list[float | None] = []
    target_steps: float | None = None
    al_while_drafting: float | None = None
    tokens_per_target_step: float | None = None
    drafted_share: float | None = None
    steps_source: str | None = None


class HarnessCpu(_Model):
    """The load generator's own CPU use over the cell (the Locust process and its children):
    near one core (``cpu_share`` ~1 per process) it was saturated and its timings are suspect."""

    cpu_s: float  # user + system CPU seconds
    wall_s: float
    cpu_share: float  # cpu_s / wall_s: cores kept busy on average
    # every process that sent a measured request (a distributed run's workers) ran under a
    # real-time policy (loadgen/client/priority.py); None: unknown
    realtime: bool | None = None


class LoadBlock(_Model):
    """The cell's load point (see :class:`loadgen.load.point.LoadPoint`)."""

    mode: Literal["closed", "open"]
    label: str
    concurrency: int | None = None
    rate_rps: float | None = None
    arrivals: str | None = None
    burstiness: float | None = None


class CellSummary(_Model):
    """A cell's ``summary.json``. Derived per-request figures follow
    :mod:`loadgen.client.figures`; distributions are over the successful requests."""

    schema_version: Literal[1] = CELL_SUMMARY_VERSION
    server: str
    bucket: str
    concurrency: int | None  # None: an open-loop cell (``load`` says the rate)
    requests_ok: int
    requests_failed: int
    errors_by_kind: dict[str, int] = {}
    duration_s: float
    output_tokens: int
    output_tokens_per_s: float | None  # window: tokens / (first send to last end)
    # closed loop, the headline (loadgen/analysis/steady.py): Little's law over the steady
    # requests, the share of requests and of the window they keep, and whether the cell was too
    # short to have a steady state (then every request is used)
    steady_output_tokens_per_s: float | None = None
    steady_request_share: float | None = None
    steady_time_share: float | None = None
    steady_fallback: bool | None = None
    prompt_tokens: int = 0
    ttft_ms: Distribution
    tpot_ms: Distribution
    itl_ms: Distribution
    e2e_ms: Distribution
    chunk_gap_ms: Distribution = Distribution()
    acceptance: AcceptanceBlock
    client_tokens_per_chunk: float | None
    client_accepted_tokens: int = 0
    tokens_per_chunk_histogram: dict[str, int] = {}
    server_counters: dict[str, Any] | None = None
    server_stopped_answering: bool = False
    # requests whose stream stalled, then came in a burst (loadgen/client/figures.py), the longest
    stalled_requests: int = 0
    max_stall_ms: float = 0.0
    flags: list[str] = []
    load: LoadBlock | None = None  # absent in cells written before open-loop plans
    metrics_window: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    category_acceptance: list[dict[str, Any]] | None = None
    harness_cpu: HarnessCpu | None = None
    run_id: str | None = None  # a Locust run: one per test start (its records are its own)
    ended: str | None = None  # why the run ended (prompts exhausted, time limit, stopped, errors)

    def load_point(self) -> LoadPoint:
        """The cell's load point (cells written before open-loop plans have only
        ``concurrency``)."""
        load = self.load
        if load is None or load.mode == "closed":
            return LoadPoint.closed(int(cast(int, self.concurrency)))
        assert load.rate_rps is not None
        arrivals = cast(Arrivals, load.arrivals or "poisson")
        return LoadPoint.open(load.rate_rps, arrivals, load.burstiness or 1.0)


class CellManifest(_Model):
    """A cell's ``manifest.json``: what was run (``run``: the run spec's JSON dump) and how."""

    schema_version: Literal[1] = CELL_MANIFEST_VERSION
    kind: Literal["cell"] = "cell"  # beside a sweep's "sweep" / a demo's "demo"
    run: RunSpec
    locust_command: list[str]
    started_wall: float
    run_id: str | None = None  # a Locust run: one per test start

    @property
    def baseline(self) -> str | None:
        """The server this cell's server is compared with (None: it is a baseline)."""
        return self.run.baseline


class SweepManifest(_Model):
    """A sweep's (or demo's) ``manifest.json``: plan, host, data, and every launched server."""

    schema_version: Literal[1] = SWEEP_MANIFEST_VERSION
    kind: Literal["sweep", "demo"] = "sweep"
    plan: dict[str, Any]
    plan_sha256: str
    harness: dict[str, Any] = {}
    host: dict[str, Any] = {}
    model: dict[str, Any] | None = None
    data: dict[str, Any] = {}
    servers: dict[str, dict[str, Any]] = {}
    demo: dict[str, Any] | None = None  # the demo's own plan (kind "demo")
    timings: dict[str, float] | None = None
    # loadgen/sweep/slices.py: each cell's first prompt, the warm-up's, the next unused one
    prompts: dict[str, Any] | None = None
    plan_history: list[dict[str, Any]] = []  # the plan's digest when created and when extended
    rate_sweep: dict[str, Any] | None = None  # saturation measured and the rates it chose


class ReportSummary(_Model):
    """The results directory's ``summary.json``: every figure of the report, pooled."""

    schema_version: Literal[1] = REPORT_SUMMARY_VERSION
    speedups: list[dict[str, Any]]
    crossovers: list[dict[str, Any]]
    slo_capacity: list[dict[str, Any]]
    slos: dict[str, Any]
    best_draft_length: list[dict[str, Any]]
    cells: list[dict[str, Any]]


SCHEMAS: dict[str, type[BaseModel]] = {
    "cell_summary": CellSummary,
    "cell_manifest": CellManifest,
    "sweep_manifest": SweepManifest,
    "report_summary": ReportSummary,
}


def json_schemas() -> dict[str, str]:
    """File name -> the published JSON Schema text of each model."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True)
        + "\n"
        for name, model in SCHEMAS.items()
    }


def write_json_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in json_schemas().items():
        (directory / name).write_text(text)
        written.append(directory / name)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/schemas")
    for path in write_json_schemas(target):
        print(path)
