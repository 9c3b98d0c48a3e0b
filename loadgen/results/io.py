"""The one writer and the one reader of each result file.

Writers take the model and write it atomically (a reader never sees half a file). Readers
validate; a file without ``schema_version`` was written before the schemas existed and is migrated
(version 0 -> 1), a file of a newer version is refused with the fix, and an invalid one names the
file and the fields at fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from loadgen import atomic
from loadgen.results.schemas import CellManifest, CellSummary, ReportSummary, SweepManifest

SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"
HARNESS_CPU_FILE = "harness_cpu.json"  # the Locust process's CPU over its run
SPEEDUP_CSV = "speedup.csv"  # all requests of each cell pair (written by the report)
PREDICTION_FILE = "prediction.json"  # speedbench predict's fitted model and predictions

M = TypeVar("M", bound=BaseModel)
Migration = Callable[[dict[str, Any]], dict[str, Any]]


class ResultsFileError(ValueError):
    """A result file this version of speedbench cannot read: says which and what to do."""


def write_model(path: Path, model: BaseModel) -> None:
    # ``fallback=str``: open blocks (launch details, preflight) may hold paths and the like
    atomic.write_text(path, model.model_dump_json(indent=2, fallback=str) + "\n")


def read_model(path: Path, model: type[M], migrate: Migration = dict) -> M:
    """``path`` as ``model``: migrated when older, refused when newer or invalid."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ResultsFileError(f"{path} is not JSON ({exc}): re-run what wrote it") from exc
    if not isinstance(data, dict):
        raise ResultsFileError(f"{path} holds no JSON object: not a {model.__name__}")
    current = int(model.model_fields["schema_version"].default)
    version = data.get("schema_version", 0)
    if version == 0:
        data = {**migrate(data), "schema_version": current}
    elif not isinstance(version, int) or version > current:
        raise ResultsFileError(
            f"{path} is a {model.__name__} of schema_version {version!r}, written by a newer "
            f"speedbench; this one reads version {current}: upgrade speedbench to read it"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ResultsFileError(
            f"{path} is not a valid {model.__name__} (schema_version {current}): {problems}. "
            "Re-run the cell, or the command that wrote it"
        ) from exc


def cell_dirs(results_dir: Path) -> list[Path]:
    """The cell directories under a results directory: every one holding a ``summary.json``
    except the root, whose ``summary.json`` is the report's."""
    return [p.parent for p in sorted(results_dir.rglob(SUMMARY_FILE)) if p.parent != results_dir]


def write_cell_summary(cell_dir: Path, summary: CellSummary) -> None:
    write_model(cell_dir / SUMMARY_FILE, summary)


def read_cell_summary(cell_dir: Path) -> CellSummary:
    return read_model(cell_dir / SUMMARY_FILE, CellSummary)


def _cell_manifest_v0(data: dict[str, Any]) -> dict[str, Any]:
    """Before version 1 the run's settings were under ``cell`` (``vars`` of the CellSpec, whose
    metrics endpoints were ``metrics_url`` plus ``replica_metrics_urls``; its cells were sent
    after their server's warm-up)."""
    data = dict(data)
    cell = dict(data.pop("cell", {}))
    if "run" not in data:
        first = cell.pop("metrics_url", None)
        replicas = cell.pop("replica_metrics_urls", ())
        cell["metrics_urls"] = (first, *replicas) if first else ()
        cell["no_metrics"] = first is None and not cell.get("prometheus_url")
        cell["warmup"] = 0
        data["run"] = cell
    data.setdefault("locust_command", [])
    data.setdefault("started_wall", 0.0)
    return data


def write_cell_manifest(cell_dir: Path, manifest: CellManifest) -> None:
    write_model(cell_dir / MANIFEST_FILE, manifest)


def read_cell_manifest(cell_dir: Path) -> CellManifest:
    return read_model(cell_dir / MANIFEST_FILE, CellManifest, _cell_manifest_v0)


def write_sweep_manifest(results_dir: Path, manifest: SweepManifest) -> None:
    write_model(results_dir / MANIFEST_FILE, manifest)


def read_sweep_manifest(results_dir: Path) -> SweepManifest | None:
    """None when the directory has no manifest (cells copied together by hand)."""
    path = results_dir / MANIFEST_FILE
    return read_model(path, SweepManifest) if path.is_file() else None


def write_report_summary(results_dir: Path, summary: ReportSummary) -> None:
    write_model(results_dir / SUMMARY_FILE, summary)


def read_report_summary(results_dir: Path) -> ReportSummary:
    return read_model(results_dir / SUMMARY_FILE, ReportSummary)
