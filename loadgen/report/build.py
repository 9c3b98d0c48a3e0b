"""``speedbench report DIR``: collect every cell under DIR, pair SD variants with their baselines
and (re)write ``speedup.csv``, ``report.md``, ``summary.json`` and ``report.html``.

Reports are always rebuilt from the cells on disk, never from memory, so a report can be
regenerated after any run. One exception keeps ``speedbench predict`` cheap: when the report is
newer than every cell, only its predicted section is re-rendered (``refresh_prediction``).

The results directory's own ``manifest.json`` (written by a sweep or the demo) supplies the
plan's SLOs, each server's engine and SD method, and the provenance shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loadgen import atomic
from loadgen.analysis.bootstrap import ALL
from loadgen.analysis.calibration import aa_spread
from loadgen.analysis.capacity import best_draft_lengths, crossovers, slo_capacity
from loadgen.analysis.groups import load_groups
from loadgen.analysis.speedup import SpeedupAnalysis, SpeedupRow
from loadgen.analysis.stats import BOOTSTRAP_RESAMPLES
from loadgen.analysis.variants import compare_variants, worse_flags
from loadgen.report.html import predicted_html, render_html
from loadgen.report.predicted import predicted_markdown, splice
from loadgen.report.tables import (
    REPORT_MD,
    SPEEDUP_TIERS_CSV,
    aa_table,
    best_draft_table,
    category_table,
    cells_table,
    crossover_table,
    flags_table,
    markdown,
    slo_table,
    speedup_table,
    variant_category_table,
    write_speedup_csv,
)
from loadgen.results.io import (
    MANIFEST_FILE,
    PREDICTION_FILE,
    SPEEDUP_CSV,
    SUMMARY_FILE,
    cell_dirs,
    read_sweep_manifest,
    write_report_summary,
)
from loadgen.results.schemas import ReportSummary

REPORT_HTML = "report.html"
REPORT_FILES = (REPORT_HTML, REPORT_MD, SPEEDUP_CSV, SPEEDUP_TIERS_CSV, SUMMARY_FILE)


def read_manifest(results_dir: Path) -> dict[str, Any]:
    """The sweep's or demo's manifest, validated; empty for cells assembled by hand."""
    manifest = read_sweep_manifest(results_dir)
    return {} if manifest is None else manifest.model_dump(mode="json")


ORDERS = {
    "sequential": "sequential (each server's cells in one block: drift between the blocks "
    "counts as speedup; `order: interleaved` or `interleaved_launches` cancels it)",
    "interleaved": "interleaved (A B, B A cell by cell, flipped each repeat: linear drift "
    "cancels and each load point alternates which server runs first)",
    "random": "random per cell (seed {seed})",
    "interleaved_launches": "interleaved launches (one launch per server and repeat, "
    "alternating: drift between repeats cancels)",
}


def order_note(manifest: dict[str, Any]) -> str:
    """Which order the cells ran in (loadgen/sweep/order.py), and what it means for drift."""
    plan = manifest.get("plan") or {}
    if not plan:
        return "unknown (no sweep manifest)"
    return ORDERS[plan.get("order") or "sequential"].format(seed=plan.get("order_seed") or 0)


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
    aa = aa_spread(rows)
    variants = compare_variants(rows, groups, resamples)
    tables = [
        speedup_table(rows),
        *([aa_table(aa)] if aa.rows else []),
        variant_category_table(variants, worse_flags(variants)),
        category_table(groups),
        crossover_table(cross),
        slo_table(capacity, slos),
        best_draft_table(best),
        cells_table(groups, engines),
        flags_table(groups),
    ]
    prediction = read_prediction(results_dir)
    context = {**(context or {"results": str(results_dir)}), "cell order": order_note(manifest)}
    write_speedup_csv([r for r in rows if r.category == ALL], results_dir / SPEEDUP_CSV)
    write_speedup_csv([r for r in rows if r.category != ALL], results_dir / SPEEDUP_TIERS_CSV)
    md = markdown(tables, context) + predicted_markdown(prediction) + "\n"
    atomic.write_text(results_dir / REPORT_MD, md)
    summary = ReportSummary(
        speedups=[r.to_dict() for r in rows],
        crossovers=[c.to_dict() for c in cross],
        slo_capacity=[c.to_dict() for c in capacity],
        slos=slos,
        best_draft_length=[b.to_dict() for b in best],
        cells=[g.to_dict() for g in groups],
    )
    write_report_summary(results_dir, summary)
    page = render_html(groups, rows, tables, context, manifest, prediction)
    atomic.write_text(results_dir / REPORT_HTML, page)
    return rows


def read_prediction(results_dir: Path) -> dict[str, Any] | None:
    """``speedbench predict``'s prediction.json, if one was written."""
    path = results_dir / PREDICTION_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def refresh_prediction(results_dir: Path) -> None:
    """Re-render the predicted section of report.md and report.html alone when the rest of the
    report is current (written after every file of every cell and the manifest, with the
    section's markers); otherwise rebuild the whole report from the cells."""
    reports = [results_dir / REPORT_MD, results_dir / REPORT_HTML]
    inputs = [results_dir / MANIFEST_FILE]
    inputs += [f for d in cell_dirs(results_dir) for f in d.iterdir() if f.is_file()]
    newest = max((f.stat().st_mtime_ns for f in inputs if f.is_file()), default=0)
    if all(r.is_file() and r.stat().st_mtime_ns > newest for r in reports):
        prediction = read_prediction(results_dir)
        md = splice(reports[0].read_text(), predicted_markdown(prediction))
        page = splice(reports[1].read_text(), predicted_html(prediction))
        if md is not None and page is not None:
            atomic.write_text(reports[0], md)
            atomic.write_text(reports[1], page)
            return
    build_report(results_dir)
