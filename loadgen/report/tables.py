"""The report's tables, built once and rendered as Markdown (``report.md``) and HTML, and
``speedup.csv``: one source for every rendering (the console's table: loadgen/report/console.py)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.analysis.calibration import AaSpread
from loadgen.analysis.capacity import BestDraft, Crossover, SloCapacity
from loadgen.analysis.groups import CellGroup
from loadgen.analysis.speedup import SpeedupRow
from loadgen.analysis.variants import VariantInCategory
from loadgen.atomic import replacing

SPEEDUP_TIERS_CSV = "speedup_by_tier.csv"  # the same per entropy tier / category
REPORT_MD = "report.md"


@dataclass(frozen=True)
class Table:
    title: str
    note: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def ratio_ci(value: float | None, low: float | None, high: float | None) -> str:
    """A ratio with its interval next to it, as every ratio in the report is shown; a ratio
    whose sides have too few requests for an interval says so."""
    if value is None:
        return "n/a"
    ci = " [too few]" if low is None or high is None else f" [{low:.2f}, {high:.2f}]"
    return fmt(value) + ci


def write_speedup_csv(rows: Sequence[SpeedupRow], path: Path) -> Path:
    fields = SpeedupRow.columns()
    with replacing(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(row.to_dict())
    return path


AL_NOTE = (
    "AL while drafting, 1 + accepted/drafts over the steps that drafted (the engines' figure); "
    "tok/step: tokens per target step over all decode steps, what the speedup follows"
)


def speedup_table(rows: Sequence[SpeedupRow]) -> Table:
    return Table(
        "Speedup of SD over its baseline",
        "> 1 means SD is better. tok/s (the headline, closed loop c=N): steady state, "
        "N x sum(tokens) / sum(E2E) over the requests sent after all N users started and ended "
        "before the drain (share kept in 'steady kept'). Its 95% interval is over repeats "
        "(paired t over the per-repeat ratios: a repeat sends every server the same prompts; "
        "Welch t when the sides ran different repeats) with two or more repeats, else the "
        "per-request bootstrap, which ignores between-run variance ('interval' says which); "
        "MDE: smallest speedup detectable (80% power) at this spread, repeats and requests. "
        "Labelled estimators beside it: 'Little all' (N x tokens / E2E over every request, "
        "drain included); 'window' (tokens / first send to last end, ramp-up and drain "
        "included). Other ratios: 95% per-request bootstrap intervals. Open loop (rate=R/s): "
        "both sides get the same schedule, so the delivered (window) tok/s is the offered rate's "
        "while both keep up; tok/s speedup is then per request, sum(tokens) / sum(E2E), with "
        "latency from the intended send time. TPOT and E2E: baseline / SD. AL: " + AL_NOTE
        + " (engine step count where the engine has one, else the client's chunks); drafted: "
        "the share of decode steps that drafted.",
        ["bucket", "load", "baseline", "variant", "tier", "base tok/s", "SD tok/s",
         "tok/s speedup (steady)", "interval", "MDE", "Little all", "window",
         "mean TPOT speedup", "p90 TPOT speedup",
         "mean E2E speedup", "AL while drafting", "tok/target step", "drafted",
         "client tok/chunk", "requests"],
        [
            [r.bucket, r.load.label, r.baseline, r.variant, r.category,
             fmt(r.baseline_output_tps, 1), fmt(r.variant_output_tps, 1),
             ratio_ci(r.speedup_output_tps, r.ci_low, r.ci_high), r.interval_method,
             pct(r.mde_output_tps), fmt(r.littles_speedup_output_tps),
             fmt(r.window_speedup_output_tps),
             ratio_ci(r.tpot_speedup, r.tpot_ci_low, r.tpot_ci_high),
             ratio_ci(r.tpot_p90_speedup, r.tpot_p90_ci_low, r.tpot_p90_ci_high),
             ratio_ci(r.e2e_speedup, r.e2e_ci_low, r.e2e_ci_high),
             fmt(r.acceptance_length), fmt(r.tokens_per_target_step), pct(r.drafted_share),
             fmt(r.client_tokens_per_chunk), f"{r.baseline_requests} / {r.variant_requests}"]
            for r in rows
        ],
    )  # fmt: skip


def crossover_table(crossovers: Sequence[Crossover]) -> Table:
    return Table(
        "Crossover",
        "The lowest measured load (concurrency, or rate per arrival process) from which SD stops "
        "paying off (tok/s speedup <= 1 there and above), per bucket.",
        ["variant", "bucket", "series", "crossover load", "CI upper bound < 1"],
        [
            [c.variant, c.bucket, c.series, c.label,
             "n/a" if c.ci_excludes_one is None else ("yes" if c.ci_excludes_one else "no")]
            for c in crossovers
        ],
    )  # fmt: skip


def slo_table(capacities: Sequence[SloCapacity], slos: Mapping[str, Any]) -> Table:
    wanted = ", ".join(f"{k} {v}" for k, v in slos.items() if v is not None) or "none given"
    return Table(
        "SLO capacity",
        f"SLOs: {wanted}. Highest measured concurrency (closed loop) or rate (open loop, TTFT "
        "from the intended send time, schedule kept) meeting them, and its output tok/s.",
        ["bucket", "server", "baseline", "series", "max load", "steady tok/s", "TTFT ms",
         "TPOT ms"],
        [
            [c.bucket, c.server, c.baseline or "-", c.series,
             "none meets" if c.at is None else c.at.label,
             fmt(c.output_tps, 1), fmt(c.ttft_ms, 1), fmt(c.tpot_ms, 2)]
            for c in capacities
        ],
    )  # fmt: skip


def best_draft_table(best: Sequence[BestDraft]) -> Table:
    return Table(
        "Best draft length",
        "Among SD variants of one method against one baseline, the best tok/s speedup.",
        ["bucket", "load", "method", "baseline", "best variant", "speedup", "candidates"],
        [
            [b.bucket, b.load.label, b.method, b.baseline, b.variant,
             fmt(b.speedup_output_tps), str(b.candidates)]
            for b in best
        ],
    )  # fmt: skip


def cells_table(groups: Sequence[CellGroup], engines: Mapping[str, str]) -> Table:
    """Every server side by side, cell by cell (engines compared on the same inputs)."""
    return Table(
        "Cells side by side",
        "Per bucket x load, every server (engine) on the same token-id inputs; repeats pooled. "
        "Latency percentiles are over requests; open loop (rate=R/s) counts TTFT and E2E from "
        "the intended send time, and 'schedule' says whether requests left on time (p99 lag). "
        "Harness CPU: the load generator's CPU seconds / wall seconds, worst repeat (near 100% "
        "of its one core: saturated, its timings are suspect).",
        ["bucket", "load", "server", "engine", "repeats", "ok", "failed",
         "tok/s (steady; open loop: window)",
         "TTFT p50 / p90 ms", "TPOT mean / p90 ms", "E2E p50 / p90 ms", "AL while drafting",
         "tok/target step", "client tok/chunk", "harness CPU", "schedule",
         "steady kept"],
        [
            [g.bucket, g.load.label, g.server, engines.get(g.server, "?"),
             str(len(g.summaries)), str(len(g.columns)), str(g.columns.failed),
             fmt(g.output_tps, 1),
             f"{fmt(g.summary_distribution('ttft_ms', 'p50'), 0)} / "
             f"{fmt(g.summary_distribution('ttft_ms', 'p90'), 0)}",
             f"{fmt(g.summary_distribution('tpot_ms', 'mean'))} / "
             f"{fmt(g.summary_distribution('tpot_ms', 'p90'))}",
             f"{fmt(g.summary_distribution('e2e_ms', 'p50'), 0)} / "
             f"{fmt(g.summary_distribution('e2e_ms', 'p90'), 0)}",
             fmt(g.acceptance_length), fmt(g.tokens_per_target_step),
             fmt(g.client_tokens_per_chunk), harness_cell(g), schedule_cell(g),
             "-" if g.load.is_open else pct(g.steady_request_share)]
            for g in groups
        ],
    )  # fmt: skip


def aa_table(aa: AaSpread) -> Table:
    """A/A calibration rows (a server against itself): what noise alone does on this machine."""
    return Table(
        "A/A calibration",
        f"Each baseline against itself (true speedup 1). A/A spread (max |speedup - 1|): "
        f"{pct(aa.spread)}; intervals holding 1: {aa.holding} of {aa.with_interval}; largest "
        f"MDE: {pct(aa.worst_mde)}. An SD speedup below the MDE is not evidence with this "
        "plan's repeats and requests on this machine.",
        ["bucket", "load", "server", "A/A speedup", "interval", "MDE"],
        [
            [r.bucket, r.load.label, r.baseline,
             ratio_ci(r.speedup_output_tps, r.ci_low, r.ci_high), r.interval_method,
             pct(r.mde_output_tps)]
            for r in aa.rows
        ],
    )  # fmt: skip


def flags_table(groups: Sequence[CellGroup]) -> Table:
    return Table(
        "Cross-check flags",
        "Raised by the metric cross-checks of each cell (none means every check passed).",
        ["server", "bucket", "load", "flag"],
        [[g.server, g.bucket, g.load.label, f] for g in groups for f in g.flags],
    )


def harness_cell(g: CellGroup) -> str:
    shares = [s.harness_cpu.cpu_share for s in g.summaries if s.harness_cpu is not None]
    return pct(max(shares)) if shares else "n/a"


def variant_category_table(entries: Sequence[VariantInCategory], flags: Sequence[str]) -> Table:
    """Category x variant where a baseline has two or more SD variants."""
    verdict = "; ".join(flags) if flags else "no variant is significantly worse in any category"
    return Table(
        "SD variants by category",
        "Where two or more SD variants share a baseline: per category, tokens per step (client "
        "chunks after the first) and the tok/s speedup, each with its 95% per-request bootstrap "
        "interval, and AL while drafting (vLLM per-request SD metrics; n/a without them). "
        "Significantly worse = its interval lies wholly below another variant's. " + verdict,
        ["bucket", "load", "baseline", "category", "variant", "tokens per step",
         "AL while drafting", "tok/s speedup"],
        [
            [e.bucket, e.load.label, e.baseline, e.category, e.variant,
             ratio_ci(e.tokens_per_step, *e.tokens_per_step_ci), fmt(e.al_while_drafting),
             ratio_ci(e.speedup, *e.speedup_ci)]
            for e in entries
        ],
    )  # fmt: skip


def category_table(groups: Sequence[CellGroup]) -> Table:
    """Per SD server x category: the conditional acceptance rate by position (repeats and load
    points of one bucket averaged), from each cell's ``category_acceptance``."""
    found: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for g in groups:
        for s in g.summaries:
            for row in s.category_acceptance or []:
                found.setdefault((g.server, g.bucket, row["category"]), []).append(row)
    rows = []
    for (server, bucket, category), mine in sorted(found.items()):
        ars = [r["conditional_ar"] for r in mine if r.get("conditional_ar")]
        values = mean_positions([a["values"] for a in ars])
        rows.append(
            [server, bucket, category, str(sum(r["requests"] for r in mine)),
             fmt(mine[0]["client"].get("acceptance_length")),
             fmt((mine[0].get("server") or {}).get("acceptance_length")),
             " / ".join(fmt(v) for v in values) or "n/a",
             ars[0]["source"] if ars else "n/a"]
        )  # fmt: skip
    return Table(
        "Acceptance by category",
        "Per category, from per-request figures: client tokens per step, AL while drafting "
        "(vLLM per-request SD metrics), and the conditional acceptance rate per position "
        "AR_k = accepted_k / accepted_(k-1) (drafts for k = 1), averaged over the cells.",
        ["server", "bucket", "category", "requests", "tokens per step", "AL while drafting",
         "AR_1 / AR_2 / ...", "AR source"],
        rows,
    )  # fmt: skip


def mean_positions(lists: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Per position, the mean of the known values (None where none is known)."""
    width = max((len(v) for v in lists), default=0)
    known = [[x for v in lists if i < len(v) and (x := v[i]) is not None] for i in range(width)]
    return [sum(k) / len(k) if k else None for k in known]


def schedule_cell(g: CellGroup) -> str:
    """Open loop: whether the requests left on schedule ("server can't keep up" otherwise)."""
    if not g.load.is_open:
        return "-"
    lag = f" (p99 lag {fmt(g.send_lag_p99_ms, 1)} ms)"
    return ("kept up" if g.kept_up else "SERVER CAN'T KEEP UP") + lag


def markdown(tables: Sequence[Table], context: Mapping[str, Any]) -> str:
    out = ["# speedbench report", ""]
    out += [f"- {key}: {value}" for key, value in context.items()]
    for table in tables:
        out += table_markdown(table)
    return "\n".join(out) + "\n"


def table_markdown(table: Table) -> list[str]:
    """One table's lines, from the blank line before its heading."""
    out = ["", f"## {table.title}", "", table.note, ""]
    if not table.rows:
        return [*out, "(none)"]
    out.append("| " + " | ".join(table.headers) + " |")
    out.append("|" + "---|" * len(table.headers))
    return out + ["| " + " | ".join(row) + " |" for row in table.rows]
