"""Reading a results directory in Python: typed cells, and pandas DataFrames for notebooks.

Every file is read through :mod:`loadgen.results.io` (validated, migrated or refused with the
fix); per-request figures come from :mod:`loadgen.client.figures`, the same definitions the
summaries and reports use, so a notebook's TPOT is the report's TPOT.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_PARQUET
from loadgen.results.io import (
    MANIFEST_FILE,
    SPEEDUP_CSV,
    SUMMARY_FILE,
    cell_dirs,
    read_cell_manifest,
    read_cell_summary,
    read_sweep_manifest,
)
from loadgen.results.schemas import CellManifest, CellSummary, SweepManifest

_RECORD_FIELDS = {f.name for f in dataclasses.fields(RequestRecord)}


@dataclass(frozen=True)
class Cell:
    """One cell directory: its summary and manifest, validated."""

    path: Path
    summary: CellSummary
    manifest: CellManifest | None  # None: a cell written without one (e.g. by hand)

    @property
    def baseline(self) -> str | None:
        return None if self.manifest is None else self.manifest.baseline

    def records(self) -> list[RequestRecord]:
        """The cell's requests as records (empty when it has no ``requests.parquet``)."""
        path = self.path / RECORDS_PARQUET
        if not path.is_file():
            return []
        rows = pq.read_table(path).to_pylist()
        return [
            RequestRecord(**{k: v for k, v in row.items() if k in _RECORD_FIELDS}) for row in rows
        ]


@dataclass(frozen=True)
class Results:
    path: Path
    manifest: SweepManifest | None  # None for a lone cell or hand-assembled cells
    cells: list[Cell]

    def cells_frame(self) -> pd.DataFrame:
        """One row per cell: the summary flattened (``ttft_ms.p90``, ``load.label``,
        ``acceptance.acceptance_length``, ...), plus ``cell`` (its directory) and ``baseline``."""
        rows = [
            {"cell": _relative(c.path, self.path), "baseline": c.baseline}
            | c.summary.model_dump(mode="json")
            for c in self.cells
        ]
        return pd.json_normalize(rows, sep=".")

    def requests_frame(self) -> pd.DataFrame:
        """One row per request of every cell: the stored record fields (chunk lists included)
        and the derived figures ``ok``, ``output_tokens``, ``ttft_ms``, ``tpot_ms``, ``e2e_ms``,
        ``steps``, ``tokens_per_chunk``, ``accepted_tokens`` (:mod:`loadgen.client.figures`)."""
        rows: list[dict[str, Any]] = []
        for cell in self.cells:
            key = {
                "cell": _relative(cell.path, self.path),
                "server": cell.summary.server,
                "load": cell.summary.load.label if cell.summary.load else None,
            }
            rows += [key | r.to_dict() | _derived(r) for r in cell.records()]
        return pd.DataFrame(rows)

    def speedups_frame(self) -> pd.DataFrame:
        """``speedup.csv`` as written by the report (empty when there is none yet)."""
        path = self.path / SPEEDUP_CSV
        return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def _derived(record: RequestRecord) -> dict[str, Any]:
    return {
        "ok": record.ok,
        "output_tokens": record.output_tokens,
        "ttft_ms": record.ttft_ms,
        "tpot_ms": record.tpot_ms,
        "e2e_ms": record.e2e_ms,
        "steps": len(record.step_sizes),
        "tokens_per_chunk": record.tokens_per_chunk,
        "accepted_tokens": record.accepted_tokens,
    }


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path != root else "."


def load_results(results_dir: Path) -> Results:
    if not results_dir.is_dir():
        raise FileNotFoundError(f"{results_dir}: no such results directory")
    manifest = read_sweep_manifest(results_dir) if _is_sweep_dir(results_dir) else None
    cells = [
        Cell(
            path,
            read_cell_summary(path),
            read_cell_manifest(path) if (path / MANIFEST_FILE).is_file() else None,
        )
        for path in cell_dirs(results_dir) or _lone_cell(results_dir)
    ]
    if not cells:
        raise FileNotFoundError(f"no cells (*/{SUMMARY_FILE}) under {results_dir}")
    return Results(results_dir, manifest, cells)


def _lone_cell(results_dir: Path) -> list[Path]:
    """A ``speedbench run`` directory is one cell, its own root."""
    return [results_dir] if (results_dir / RECORDS_PARQUET).is_file() else []


def _is_sweep_dir(results_dir: Path) -> bool:
    """A sweep's root manifest sits beside cell subdirectories (a cell's own beside records)."""
    return (results_dir / MANIFEST_FILE).is_file() and not (results_dir / RECORDS_PARQUET).is_file()
