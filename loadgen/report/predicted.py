"""The report's section of ``speedbench predict``'s output (``prediction.json``): predicted
closed-loop curves per bucket with the measured cells on them, and the predicted capacity
(saturation, SLO capacity, replicas), labelled as predictions.

The section sits between two markers in ``report.md`` and ``report.html`` (empty without a
prediction), so ``speedbench predict`` re-renders it alone when the rest of the report is current
(loadgen.report.build.refresh_prediction) instead of redoing the measured analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadgen.analysis.groups import bucket_order
from loadgen.report import svg
from loadgen.report.tables import Table, table_markdown

BEGIN = "<!-- speedbench predict: begin -->"
END = "<!-- speedbench predict: end -->"
PREDICTED_FIGURES = (("tok_s", "output tok/s (window)"), ("ttft_p90_ms", "TTFT p90, ms"),
                     ("tpot_mean_ms", "mean TPOT, ms"))  # fmt: skip


def prediction_plots(prediction: Mapping[str, Any]) -> list[str]:
    """``speedbench predict``'s closed-loop curves per bucket (lines: predicted, hollow circles:
    measured cells), and the predicted speedup with the measured one."""
    closed = [p for p in prediction.get("predictions", []) if p["load"]["concurrency"]]
    scope = _scope(prediction)
    plots = []
    for bucket in sorted({p["bucket"] for p in closed}, key=bucket_order):
        mine = [p for p in closed if p["bucket"] == bucket]
        servers = sorted({p["server"] for p in mine})
        axis = f"concurrency (lines: predicted, circles: measured{_beyond(mine)})"
        for key, label in PREDICTED_FIGURES:
            lines, dots = [], []
            for server in servers:
                rows = sorted((p for p in mine if p["server"] == server),
                              key=lambda p: p["load"]["concurrency"])  # fmt: skip
                lines.append((server, [(p["load"]["concurrency"], p["predicted"][key])
                                       for p in rows]))  # fmt: skip
                dots.append([(p["load"]["concurrency"], p["measured"][key])
                             for p in rows if p["measured"]])  # fmt: skip
            plots.append(svg.line_chart(
                f"predicted-{key}-{bucket}",
                f"Predicted {label} vs concurrency, {bucket}{scope}",
                lines, axis, label,
                log_x=True, markers=False, dots=dots,
            ))  # fmt: skip
        plots.append(_predicted_speedup(prediction, bucket, mine))
    return plots


def _predicted_speedup(prediction: Mapping[str, Any], bucket: str, mine: list[Any]) -> str:
    """Predicted tok/s speedup per SD server vs concurrency; circles: the measured ratio."""
    by = {(p["server"], p["load"]["concurrency"]): p for p in mine}
    pairs = sorted({(s["variant"], s["baseline"]) for s in prediction.get("speedup", [])})
    lines, dots = [], []
    for variant, base in pairs:
        both = sorted(c for (s, c) in by if s == variant and (base, c) in by)
        lines.append((f"{variant} / {base}", [
            (c, by[(variant, c)]["predicted"]["tok_s"] / by[(base, c)]["predicted"]["tok_s"])
            for c in both
        ]))  # fmt: skip
        dots.append([
            (c, by[(variant, c)]["measured"]["tok_s"] / by[(base, c)]["measured"]["tok_s"])
            for c in both if by[(variant, c)]["measured"] and by[(base, c)]["measured"]
        ])  # fmt: skip
    return svg.line_chart(
        f"predicted-speedup-{bucket}",
        f"Predicted tok/s speedup vs concurrency, {bucket}{_scope(prediction)}",
        lines, f"concurrency (lines: predicted, circles: measured{_beyond(mine)})",
        "speedup (window tok/s)",
        log_x=True, markers=False, y_ref=1.0, dots=dots,
    )  # fmt: skip


def _beyond(mine: list[Any]) -> str:
    """The axis note saying which of a bucket's predicted points are extrapolated (``support``:
    outside the measured span; absent in a prediction.json written before it existed)."""
    far = sorted({p["load"]["concurrency"] for p in mine
                  if p.get("support", {}).get("kind") == "extrapolated"})  # fmt: skip
    if not far:
        return ""
    near = [p["load"]["concurrency"] for p in mine if p["load"]["concurrency"] not in far]
    if not near:
        return "; all extrapolated"
    return f"; extrapolated: c={', '.join(map(str, far))}"


def _scope(prediction: Mapping[str, Any]) -> str:
    """A title's note when ``--category`` predicted one category (the circles are the mix)."""
    category = prediction.get("category")
    return f", {category} traffic only (circles: the measured mix)" if category else ""


def prediction_table(prediction: Mapping[str, Any]) -> Table:
    """Per server and bucket: the saturation rate and, when SLOs were given, the SLO capacity
    with its 5-95% refit interval and the replicas for the target rate."""
    slo = prediction.get("slo") or {}
    capacity = {(c["server"], c["bucket"]): c for c in prediction.get("capacity", [])}
    rows = []
    for sat in prediction.get("saturation", []):
        cap = capacity.get((sat["server"], sat["bucket"]))
        low, high = (cap or {}).get("interval") or [None, None]
        rows.append([
            sat["server"], sat["bucket"], f"{sat['rate_rps']:.3g}", str(sat["batch_slots"]),
            f"{cap['max_rate_rps']:.3g}" if cap else "n/a",
            f"{low:.3g}-{high:.3g}" if low is not None and high is not None else "n/a",
            str(cap.get("replicas", "n/a")) if cap else "n/a",
        ])  # fmt: skip
    limits = ", ".join(f"{k} {v}" for k, v in slo.items() if v is not None)
    return Table(
        title="Predicted capacity (speedbench predict: fitted model + simulation, not measured)",
        note="saturation: requests/s one replica completes with a permanent backlog (above it "
        "an open loop's queue grows without bound); SLO capacity: the highest Poisson rate "
        f"within the SLO ({limits or 'none given'}), below saturation; replicas: for the "
        "target rate",
        headers=[
            "server",
            "bucket",
            "saturation req/s",
            "batch slots",
            "SLO capacity req/s",
            "5-95%",
            "replicas",
        ],
        rows=rows,
    )


def marked(block: str) -> str:
    """The predicted section between its markers, on lines of their own."""
    return "\n".join([BEGIN, *([block] if block else []), END])


def predicted_markdown(prediction: Mapping[str, Any] | None) -> str:
    """report.md's predicted section: the predicted-capacity table (nothing without one)."""
    return marked("\n".join(table_markdown(prediction_table(prediction))) if prediction else "")


def splice(text: str, section: str) -> str | None:
    """``text`` with its marked section replaced by ``section`` (a ``marked`` block); None when
    the markers are missing (a report written before they existed)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[:start] + section + text[end + len(END) :]
