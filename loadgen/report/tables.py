"""Speedup rows -> ``speedup.csv``, the console table and ``report.md``."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadgen.analysis.speedup import SpeedupRow

SPEEDUP_CSV = "speedup.csv"
REPORT_MD = "report.md"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(low: float | None, high: float | None) -> str:
    return "n/a" if low is None or high is None else f"[{low:.2f}, {high:.2f}]"


def write_speedup_csv(rows: Sequence[SpeedupRow], path: Path) -> Path:
    fields = list(SpeedupRow.__dataclass_fields__)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(row.to_dict())
    return path


def console_table(rows: Sequence[SpeedupRow]) -> str:
    header = (
        f"{'bucket':>6} {'conc':>4} {'base tok/s':>10} {'SD tok/s':>9} {'speedup':>7} "
        f"{'95% CI':>14} {'AL':>5}  variant"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.bucket:>6} {r.concurrency:>4} {_fmt(r.baseline_output_tps, 1):>10} "
            f"{_fmt(r.variant_output_tps, 1):>9} {_fmt(r.speedup_output_tps):>7} "
            f"{_ci(r.ci_low, r.ci_high):>14} {_fmt(r.acceptance_length):>5}  {r.variant}"
        )
    return "\n".join(lines)


def report_markdown(
    rows: Sequence[SpeedupRow], summaries: Sequence[dict[str, Any]], context: dict[str, Any]
) -> str:
    out = ["# speedbench report", ""]
    out += [f"- {key}: {value}" for key, value in context.items()]
    out += [
        "",
        "## End-to-end speedup of SD over its baseline",
        "",
        "Speedup > 1 means SD is better. Throughput is output tokens/s over the cell's window; the",
        "95% interval is a per-request bootstrap. TPOT speedup = baseline TPOT / SD TPOT. AL =",
        "acceptance length from the engine's counters (1 + accepted / drafts).",
        "",
        "| bucket | concurrency | baseline | variant | base tok/s | SD tok/s | speedup | 95% CI "
        "| TPOT speedup | TPOT 95% CI | E2E speedup | AL | client tok/chunk |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.bucket} | {r.concurrency} | {r.baseline} | {r.variant} | "
            f"{_fmt(r.baseline_output_tps, 1)} | {_fmt(r.variant_output_tps, 1)} | "
            f"{_fmt(r.speedup_output_tps)} | {_ci(r.ci_low, r.ci_high)} | {_fmt(r.tpot_speedup)} | "
            f"{_ci(r.tpot_ci_low, r.tpot_ci_high)} | {_fmt(r.e2e_speedup)} | "
            f"{_fmt(r.acceptance_length)} | {_fmt(r.client_tokens_per_chunk)} |"
        )
    out += [
        "",
        "## Cells",
        "",
        "| server | bucket | conc | ok | failed | tok/s | TTFT p50 / p90 ms | TPOT p50 / p90 ms "
        "| ITL p50 / p99 ms | E2E p50 / p90 ms | accept rate | per-position |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        acc = s["acceptance"]
        per_pos = ", ".join(f"{p:.2f}" for p in acc["per_position"]) or "n/a"
        out.append(
            f"| {s['server']} | {s['bucket']} | {s['concurrency']} | {s['requests_ok']} | "
            f"{s['requests_failed']} | {_fmt(s['output_tokens_per_s'], 1)} | "
            f"{_fmt(s['ttft_ms']['p50'], 0)} / {_fmt(s['ttft_ms']['p90'], 0)} | "
            f"{_fmt(s['tpot_ms']['p50'])} / {_fmt(s['tpot_ms']['p90'])} | "
            f"{_fmt(s['itl_ms']['p50'])} / {_fmt(s['itl_ms']['p99'])} | "
            f"{_fmt(s['e2e_ms']['p50'], 0)} / {_fmt(s['e2e_ms']['p90'], 0)} | "
            f"{_fmt(acc['acceptance_rate'])} | {per_pos} |"
        )
    flags = [(s["server"], s["bucket"], s["concurrency"], f) for s in summaries for f in s["flags"]]
    out += ["", "## Flags", ""]
    out += [f"- {srv} {b} c={c}: {f}" for srv, b, c, f in flags] or ["- none raised"]
    return "\n".join(out) + "\n"
