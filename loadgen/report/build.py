"""``speedbench report DIR``: collect every cell under DIR, pair SD variants with their baselines
and (re)write ``speedup.csv``, ``report.md``, ``summary.json`` and ``report.html``.

Reports are always rebuilt from the cells on disk, never from memory, so a report can be
regenerated after any run. The results directory's own ``manifest.json`` (written by a sweep or
the demo) supplies the plan's SLOs, each server's engine and SD method, and the provenance shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loadgen import atomic
from loadgen.analysis.bootstrap import ALL
from loadgen.analysis.capacity import best_draft_lengths, crossovers, slo_capacity
from loadgen.analysis.groups import load_groups
from loadgen.analysis.speedup import SpeedupAnalysis, SpeedupRow
from loadgen.analysis.stats import BOOTSTRAP_RESAMPLES
from loadgen.report.html import render_html
from loadgen.report.tables import (
    REPORT_MD,
    SPEEDUP_TIERS_CSV,
    best_draft_table,
    cells_table,
    crossover_table,
    flags_table,
    markdown,
    slo_table,
    speedup_table,
    write_speedup_csv,
)
from loadgen.results.io import SPEEDUP_CSV, read_sweep_manifest, write_report_summary
from loadgen.results.schemas import ReportSummary

REPORT_HTML = "report.html"
REPORT_FILES = (REPORT_HTML, REPORT_MD, SPEEDUP_CSV, SPEEDUP_TIERS_CSV, "summary.json")


def read_manifest(results_dir: Path) -> dict[str, Any]:
    """The sweep's or demo's manifest, validated; empty for cells assembled by hand."""
    manifest = read_sweep_manifest(results_dir)
    return {} if manifest is None else manifest.model_dump(mode="json")


def build_report(
    results_dir: Path,
    context: dict[str, Any] | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> list[SpeedupRow]:
    manifest = read_manifest(results_dir)
    servers: dict[str, Any] = manifest.get("servers", {})
    slos: dict[str, Any] = (manifest.get("plan") or {}).get("slos") or {}
    groups = load_groups(results_dir)
    rows = SpeedupAnalysis(resamples).rows(groups)
    cross = crossovers(rows)
    capacity = slo_capacity(groups, slos)
    best = best_draft_lengths(rows, {n: s.get("speculative") for n, s in servers.items()})
    engines = {n: s.get("engine", "?") for n, s in servers.items()}
    tables = [
        speedup_table(rows),
        crossover_table(cross),
        slo_table(capacity, slos),
        best_draft_table(best),
        cells_table(groups, engines),
        flags_table(groups),
    ]
    context = context or {"results": str(results_dir)}
    write_speedup_csv([r for r in rows if r.category == ALL], results_dir / SPEEDUP_CSV)
    write_speedup_csv([r for r in rows if r.category != ALL], results_dir / SPEEDUP_TIERS_CSV)
    atomic.write_text(results_dir / REPORT_MD, markdown(tables, context))
    summary = ReportSummary(
        speedups=[r.to_dict() for r in rows],
        crossovers=[c.to_dict() for c in cross],
        slo_capacity=[c.to_dict() for c in capacity],
        slos=slos,
        best_draft_length=[b.to_dict() for b in best],
        cells=[g.to_dict() for g in groups],
    )
    write_report_summary(results_dir, summary)
    page = render_html(groups, rows, tables, context, manifest)
    atomic.write_text(results_dir / REPORT_HTML, page)
    return rows
