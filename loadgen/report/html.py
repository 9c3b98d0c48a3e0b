"""``report.html``: one self-contained page (inline SVG and CSS, no scripts, no network)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np

from loadgen.analysis.bootstrap import ALL
from loadgen.analysis.columns import RequestColumns
from loadgen.analysis.groups import CellGroup, bucket_order, group_order
from loadgen.analysis.speedup import SpeedupRow
from loadgen.load.point import CLOSED, LoadPoint
from loadgen.report import svg
from loadgen.report.predicted import marked, prediction_plots, prediction_table
from loadgen.report.tables import Table, mean_positions

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:8px 0;font-size:12px}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}th{background:#f3f3f3}
.plots{display:flex;flex-wrap:wrap;gap:12px}.note{color:#555}
svg.plot{background:#fff;border:1px solid #e4e4e4}svg text{font-size:11px;fill:#333}
svg .t{font-size:13px;font-weight:600}svg .b{font-size:13px;font-weight:600}svg .s{font-size:10px}
svg .bg{fill:#fafafa}svg .g{stroke:#e2e2e2}svg .ref{stroke:#555;stroke-dasharray:4 3}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:11px}
"""
ECDF_POINTS = 60
MAX_SERIES = len(svg.PALETTE)


def _by_bucket(groups: Sequence[CellGroup]) -> dict[str, list[CellGroup]]:
    out: dict[str, list[CellGroup]] = {}
    for g in sorted(groups, key=lambda g: (bucket_order(g.bucket), g.server, g.load.sort_key())):
        out.setdefault(g.bucket, []).append(g)
    return out


def _by_series(groups: Sequence[CellGroup]) -> dict[tuple[str, str], list[CellGroup]]:
    """Per bucket and load series (closed loop; open loop per arrival process)."""
    out: dict[tuple[str, str], list[CellGroup]] = {}
    for bucket, cells in _by_bucket(groups).items():
        for g in cells:
            out.setdefault((bucket, g.load.series), []).append(g)
    return out


def _per_server(groups: Sequence[CellGroup], point: Any, by_mode: bool = False) -> list[svg.Series]:
    """One series per server (and load mode), its points in order of load."""
    series: dict[str, list[tuple[float, float]]] = {}
    for g in groups:
        xy = point(g)
        if xy is not None and None not in xy:
            name = f"{g.server} open" if by_mode and g.load.is_open else g.server
            series.setdefault(name, []).append(xy)
    return list(series.items())


def heatmaps(rows: Sequence[SpeedupRow]) -> list[str]:
    out = []
    for variant in sorted({r.variant for r in rows}):
        mine = [r for r in rows if r.variant == variant and r.category == ALL]
        buckets = sorted({r.bucket for r in mine}, key=bucket_order)
        loads = [p.label for p in sorted({r.load for r in mine}, key=lambda p: p.sort_key())]
        cells = {
            (r.bucket, r.load.label): (
                r.speedup_output_tps if r.speedup_output_tps is not None else float("nan"),
                "too few" if r.ci_low is None else f"[{r.ci_low:.2f}, {r.ci_high:.2f}]",
                r.ci_low is not None and r.ci_high is not None and not r.ci_low <= 1 <= r.ci_high,
            )
            for r in mine
        }
        title = f"steady tok/s speedup, {variant} vs {mine[0].baseline}" if mine else variant
        out.append(svg.heatmap(f"heatmap-{variant}", title, buckets, loads, cells))
    return out


def throughput_plots(groups: Sequence[CellGroup]) -> list[str]:
    """Closed loop: tok/s vs concurrency; open loop: delivered vs offered rate (saturation)."""
    plots = []
    for (bucket, series), cells in _by_series(groups).items():
        closed = series == CLOSED
        name = f"throughput-{bucket}" + ("" if closed else f"-{series.replace(' ', '-')}")
        axis = "concurrency" if closed else f"offered rate, requests/s ({series})"
        plots.append(
            svg.line_chart(
                name,
                f"Output tok/s ({'steady state' if closed else 'window'}) vs "
                f"{'concurrency' if closed else 'rate'}, {bucket}",
                _per_server(cells, lambda g: (g.load.level, g.output_tps)),
                axis,
                "output tok/s",
                log_x=closed,
            )
        )
    return plots


def _per_user_tps(g: CellGroup) -> tuple[float, float | None] | None:
    tpot = g.summary_distribution("tpot_ms", "mean")
    return None if not tpot or g.output_tps is None else (g.output_tps, 1000 / tpot)


def pareto_plots(groups: Sequence[CellGroup]) -> list[str]:
    return [
        svg.line_chart(
            f"pareto-{bucket}",
            f"Per-user vs total tok/s, {bucket}",
            _per_server(cells, _per_user_tps, by_mode=True),
            "total output tok/s",
            "per-user tok/s (1000 / mean TPOT)",
        )
        for bucket, cells in _by_bucket(groups).items()
    ]


def _ecdf(values: np.ndarray) -> list[tuple[float, float]]:
    values = values[~np.isnan(values)]
    if not len(values):
        return []
    qs = np.linspace(0, 1, ECDF_POINTS)
    return [(float(x), float(q)) for x, q in zip(np.quantile(values, qs), qs, strict=True)]


def distribution_plots(groups: Sequence[CellGroup]) -> list[str]:
    out = []
    for bucket, cells in _by_bucket(groups).items():
        ends: set[LoadPoint] = set()
        for kind in {g.load.series for g in cells}:
            loads = sorted({g.load for g in cells if g.load.series == kind}, key=lambda p: p.level)
            ends |= {loads[0], loads[-1]}
        shown = sorted((g for g in cells if g.load in ends), key=group_order)[:MAX_SERIES]
        for metric, label in (("ttft_ms", "TTFT ms"), ("tpot_ms", "TPOT ms")):
            series = [
                (f"{g.server} {g.load.label}", _ecdf(getattr(g.columns, metric))) for g in shown
            ]
            out.append(
                svg.line_chart(
                    f"{metric}-cdf-{bucket}",
                    f"{label} distribution (CDF), {bucket}",
                    series,
                    label,
                    "fraction of requests",
                    markers=False,
                )
            )
    return out


def acceptance_plots(groups: Sequence[CellGroup]) -> list[str]:
    per_position: dict[str, list[list[float]]] = {}
    for g in groups:
        if g.per_position:
            per_position.setdefault(g.server, []).append(g.per_position)
    width = max((len(p) for lists in per_position.values() for p in lists), default=0)
    slots = [str(i + 1) for i in range(width)]
    series: list[tuple[str, Sequence[float | None]]] = []
    for server, lists in per_position.items():
        means = [[p[i] for p in lists if i < len(p)] for i in range(width)]
        series.append((server, [float(np.mean(m)) if m else None for m in means]))
    plots = [
        svg.bar_chart(
            "acceptance-per-position",
            "Acceptance rate per draft position (engine counters)",
            slots,
            series,
            "draft position",
            "acceptance rate",
        )
    ]
    categories = sorted({c for g in groups for c in g.columns.category.tolist()})
    if len(categories) > 1:
        by_cat = []
        for server in sorted({g.server for g in groups if g.baseline}):
            mine = [g.columns for g in groups if g.server == server]
            values: list[float | None] = []
            for cat in categories:
                chosen = [c.select(c.category == cat) for c in mine]
                values.append(RequestColumns.concat(chosen).tokens_per_step())
            by_cat.append((server, values))
        plots.append(
            svg.bar_chart(
                "acceptance-per-category",
                "Client tokens per chunk by category (SD variants)",
                categories,
                by_cat,
                "category",
                "tokens per chunk",
            )
        )
    plots += conditional_ar_plots(groups)
    return plots


def conditional_ar_plots(groups: Sequence[CellGroup]) -> list[str]:
    """Conditional acceptance rate AR_k by position, one line per category, per SD server
    (cells' ``category_acceptance`` averaged over buckets, loads and repeats)."""
    plots = []
    for server in sorted({g.server for g in groups if g.baseline}):
        by_cat: dict[str, list[list[float | None]]] = {}
        for s in (s for g in groups if g.server == server for s in g.summaries):
            for row in s.category_acceptance or []:
                if row.get("conditional_ar"):
                    by_cat.setdefault(row["category"], []).append(row["conditional_ar"]["values"])
        series = [
            (cat, [(k + 1.0, v) for k, v in enumerate(mean_positions(lists)) if v is not None])
            for cat, lists in sorted(by_cat.items())
        ]
        if series:
            plots.append(
                svg.line_chart(
                    f"conditional-ar-{server}",
                    f"Conditional acceptance rate by position, {server}",
                    series,
                    "draft position k",
                    "AR_k = accepted_k / accepted_(k-1)",
                )
            )
    return plots


def _table_html(table: Table) -> str:
    if not table.rows:
        return (
            f"<h2>{escape(table.title)}</h2><p class='note'>{escape(table.note)}</p><p>(none)</p>"
        )
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    return (
        f"<h2>{escape(table.title)}</h2><p class='note'>{escape(table.note)}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _section(title: str, plots: Sequence[str]) -> str:
    return f"<h2>{escape(title)}</h2><div class='plots'>{''.join(plots)}</div>"


def render_html(
    groups: Sequence[CellGroup],
    rows: Sequence[SpeedupRow],
    tables: Sequence[Table],
    context: Mapping[str, Any],
    manifest: Mapping[str, Any],
    prediction: Mapping[str, Any] | None = None,
) -> str:
    items = "".join(f"<li>{escape(str(k))}: {escape(str(v))}</li>" for k, v in context.items())
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>speedbench report</title>",
        f"<style>{CSS}</style></head><body><h1>speedbench report</h1><ul>{items}</ul>",
        _section("Speedup heatmap (bucket x load)", heatmaps(rows)),
        _section("Throughput vs load", throughput_plots(groups)),
        _section("Serving Pareto frontier", pareto_plots(groups)),
        _section(
            "TTFT / TPOT distributions (open loop: TTFT from the intended send time)",
            distribution_plots(groups),
        ),
        _section("Acceptance", acceptance_plots(groups)),
        predicted_html(prediction),
        *(_table_html(t) for t in tables),
        "<h2>Manifest</h2><pre>",
        escape(json.dumps(manifest, indent=2, default=str)),
        "</pre></body></html>",
    ]
    return "\n".join(parts)


def predicted_html(prediction: Mapping[str, Any] | None) -> str:
    """report.html's predicted section: the curves and the predicted-capacity table (nothing
    without a prediction), between the markers ``speedbench predict`` re-renders."""
    if not prediction:
        return marked("")
    title = f"Predicted by speedbench predict ({prediction.get('kind', '')})"
    return marked(
        _section(title, prediction_plots(prediction)) + _table_html(prediction_table(prediction))
    )
