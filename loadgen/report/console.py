"""The speedup table a sweep, the demo and ``speedbench report`` print on the terminal: the
``speedup.csv`` rows' headline figures, with the notes that say what each column is."""

from __future__ import annotations

from collections.abc import Sequence

from loadgen.analysis.bootstrap import ALL
from loadgen.analysis.intervals import REQUESTS_ONLY
from loadgen.analysis.speedup import SpeedupRow
from loadgen.report.tables import AL_NOTE, fmt


def console_table(rows: Sequence[SpeedupRow]) -> str:
    header = (
        f"{'bucket':>6} {'load':>10} {'base tok/s':>10} {'SD tok/s':>9} {'speedup':>7} "
        f"{'95% CI':>14} {'AL*':>5} {'tok/step':>8}  variant  (closed loop: steady-state tok/s)"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        if r.category != ALL:
            continue
        ci = (
            "too few"
            if r.ci_low is None or r.ci_high is None
            else f"[{r.ci_low:.2f}, {r.ci_high:.2f}]"
            + ("*" if r.interval_method == REQUESTS_ONLY else "")
        )
        mark = OPEN_MARK if r.load.is_open else " "
        lines.append(
            f"{r.bucket:>6} {r.load.label:>10} {fmt(r.baseline_output_tps, 1):>10} "
            f"{fmt(r.variant_output_tps, 1):>9} {fmt(r.speedup_output_tps):>6}{mark} "
            f"{ci:>14} {fmt(r.acceptance_length):>5} {fmt(r.tokens_per_target_step):>8}  "
            f"{r.variant}"
        )
    if any(r.interval_method == REQUESTS_ONLY for r in rows):
        lines.append(f"* {REQUESTS_ONLY}")
    if any(r.load.is_open and r.category == ALL for r in rows):
        lines.append(f"{OPEN_MARK} {OPEN_NOTE}")
    lines.append(f"AL*: {AL_NOTE}")
    return "\n".join(lines)


OPEN_MARK = "+"
OPEN_NOTE = (
    "open loop: base and SD tok/s are the delivered (window) rates, both the offered rate's while "
    "the server keeps up; the speedup is per request, sum(tokens) / sum(E2E) from the intended "
    "send time, so it is not their ratio"
)
