"""A cell's complete ``summary.json`` from its records and engine window: one function, used by
``speedbench run`` (loadgen/cell.py) and by a Locust process at test stop, so both write the same
file."""

from __future__ import annotations

from collections.abc import Sequence

from loadgen.analysis.categories import category_acceptance
from loadgen.analysis.schedule import schedule_report
from loadgen.analysis.summary import summarize_cell
from loadgen.client.record import RequestRecord
from loadgen.metrics.collect import WindowResult
from loadgen.results.schemas import CellSummary, LoadBlock
from loadgen.runspec import RunSpec


def complete_summary(
    spec: RunSpec, records: Sequence[RequestRecord], window: WindowResult, expected: int
) -> CellSummary:
    """Figures, load point, window flags, open-loop lag, per-category acceptance and missing
    requests; ``expected`` counts prompts (a multi-turn prompt is all its turns)."""
    summary = summarize_cell(
        spec.server, spec.bucket, spec.load.concurrency, records, window.acceptance,
        window.counters,
    )  # fmt: skip
    summary.load = LoadBlock.model_validate(spec.load.to_dict())
    summary.flags += window.flags
    summary.metrics_window = window.evidence
    schedule = schedule_report(records, closed=not spec.load.is_open)  # who was late
    summary.schedule = schedule
    if "flag" in schedule:
        summary.flags.append(schedule["flag"])
    summary.category_acceptance = [row.to_dict() for row in category_acceptance(records)]
    noted = [r for r in records if r.token_count_note]
    if noted:
        summary.flags.append(
            f"{len(noted)} of {len(records)} requests: the server's usage disagreed with the "
            f"stream ({noted[0].token_count_note}): token counts are the server's; both are in "
            "requests.parquet (usage_output_tokens, stream_output_tokens, token_count_note)"
        )
    missing = expected - sum(r.ends_prompt for r in records)
    if missing > 0:
        summary.flags.append(f"{missing} of {expected} requests never completed")
    return summary
