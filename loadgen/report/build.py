"""``speedbench report DIR``: collect every cell under DIR, pair SD variants with their
baselines, and (re)write ``speedup.csv`` and ``report.md``. Reports are always rebuilt from the
cells on disk, never from memory, so a report can be regenerated after any run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.analysis.speedup import SpeedupRow, speedup_row
from loadgen.cell import MANIFEST_FILE, SUMMARY_FILE
from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_PARQUET, read_parquet
from loadgen.report.tables import REPORT_MD, SPEEDUP_CSV, report_markdown, write_speedup_csv


@dataclass
class Cell:
    summary: dict[str, Any]
    baseline: str | None
    records: list[RequestRecord]

    @property
    def key(self) -> tuple[str, str, int]:
        return self.summary["server"], self.summary["bucket"], self.summary["concurrency"]


def load_cells(results_dir: Path) -> list[Cell]:
    cells = []
    for summary_path in sorted(results_dir.rglob(SUMMARY_FILE)):
        if summary_path.parent == results_dir:
            continue
        manifest = json.loads((summary_path.parent / MANIFEST_FILE).read_text())
        cells.append(
            Cell(
                json.loads(summary_path.read_text()),
                manifest["cell"].get("baseline"),
                read_parquet(summary_path.parent / RECORDS_PARQUET),
            )
        )
    if not cells:
        raise FileNotFoundError(f"no cells (*/{SUMMARY_FILE}) under {results_dir}")
    return cells


def speedup_rows(cells: list[Cell]) -> list[SpeedupRow]:
    by_key = {cell.key: cell for cell in cells}
    rows = []
    for cell in cells:
        if cell.baseline is None:
            continue
        _server, bucket, concurrency = cell.key
        base = by_key.get((cell.baseline, bucket, concurrency))
        if base is not None:
            rows.append(speedup_row(base.summary, base.records, cell.summary, cell.records))
    return sorted(rows, key=lambda r: (_bucket_order(r.bucket), r.concurrency, r.variant))


def _bucket_order(bucket: str) -> float:
    return float(bucket[:-1]) if bucket[:-1].isdigit() else float("inf")


def build_report(results_dir: Path, context: dict[str, Any] | None = None) -> list[SpeedupRow]:
    cells = load_cells(results_dir)
    rows = speedup_rows(cells)
    write_speedup_csv(rows, results_dir / SPEEDUP_CSV)
    summaries = sorted(
        (c.summary for c in cells),
        key=lambda s: (_bucket_order(s["bucket"]), s["concurrency"], s["server"]),
    )
    (results_dir / REPORT_MD).write_text(
        report_markdown(rows, summaries, context or {"results": str(results_dir)})
    )
    return rows
