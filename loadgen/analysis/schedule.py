"""Open-loop schedule figures from records: how late requests left, latency from the intended send
time (what a user arriving on schedule saw: no coordinated omission), and whether the server kept
up. ``schedule_report`` is the ``schedule`` block of a cell summary.

Who was late depends on the loop. Open loop: a request leaves late when the server's backlog held
the harness back, so the flag blames the server. Closed loop: each user sends as soon as its last
reply ended, so the server never holds a send back: a late send is the load generator's own
lateness (a busy event loop, a CPU shared with the engine), flagged as such."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadgen.analysis.stats import distribution
from loadgen.client.record import NS_PER_MS, RequestRecord

# A request that leaves this late has waited on the harness, i.e. on the server's backlog.
LAG_LIMIT_MS = 10.0


def send_lag_ms(record: RequestRecord) -> float:
    return (record.send_ns - record.intended_send_ns) / NS_PER_MS


def ttft_from_intended_ms(record: RequestRecord) -> float | None:
    first = record.first_token_ns
    return None if first is None else (first - record.intended_send_ns) / NS_PER_MS


def e2e_from_intended_ms(record: RequestRecord) -> float:
    return (record.end_ns - record.intended_send_ns) / NS_PER_MS


def schedule_report(records: Sequence[RequestRecord], closed: bool = False) -> dict[str, Any]:
    """Lag and intended-time latencies; ``kept_up`` False (with the reason) when the schedule
    slipped: p99 lag above ``LAG_LIMIT_MS`` or the achieved send rate below 95 % of the offered.
    ``closed``: the cell is a closed loop, so the flag names the load generator."""
    if not records:
        return {"requests": 0}
    lags = [send_lag_ms(r) for r in records]
    ok = [r for r in records if r.ok]
    ttfts = [t for r in ok if (t := ttft_from_intended_ms(r)) is not None]
    report: dict[str, Any] = {
        "requests": len(records),
        "send_lag_ms": distribution(lags),
        "ttft_from_intended_ms": distribution(ttfts),
        "e2e_from_intended_ms": distribution([e2e_from_intended_ms(r) for r in ok]),
    }
    reasons = []
    lag_p99 = report["send_lag_ms"]["p99"]
    if lag_p99 is not None and lag_p99 > LAG_LIMIT_MS:
        reasons.append(f"p99 send lag {lag_p99:.1f} ms > {LAG_LIMIT_MS:g} ms")
    if len(records) > 1:
        intended = sorted(r.intended_send_ns for r in records)
        actual = sorted(r.send_ns for r in records)
        offered = (len(records) - 1) / max(1, intended[-1] - intended[0]) * 1e9
        achieved = (len(records) - 1) / max(1, actual[-1] - actual[0]) * 1e9
        report["offered_rate_rps"], report["achieved_rate_rps"] = offered, achieved
        if achieved < 0.95 * offered:
            reasons.append(f"sent {achieved:.2f} req/s of {offered:.2f} req/s offered")
    report["kept_up"] = not reasons
    if reasons:
        who = (
            "the load generator sent late (closed loop: the server never holds a send back)"
            if closed
            else "the server could not keep up with the schedule"
        )
        report["flag"] = f"{who}: " + "; ".join(reasons)
    return report
