"""Schedule lag and latency from the intended send time (no coordinated omission)."""

from loadgen.analysis.schedule import schedule_report
from loadgen.client.record import RequestRecord

MS = 1_000_000


def record(intended_ms: int, lag_ms: int) -> RequestRecord:
    send = (intended_ms + lag_ms) * MS
    r = RequestRecord("r", "q", "1k", "mixed", 4, 2, intended_ms * MS, 0.0, send_ns=send)
    r.chunk_ns, r.chunk_tokens, r.end_ns = [send + 20 * MS, send + 30 * MS], [1, 1], send + 30 * MS
    return r


def test_on_schedule_requests_keep_up() -> None:
    report = schedule_report([record(i * 100, 1) for i in range(20)])
    assert report["kept_up"] and "flag" not in report
    assert report["send_lag_ms"]["p50"] == 1
    assert report["ttft_from_intended_ms"]["p50"] == 21


def test_a_growing_backlog_is_flagged_and_counted_in_latency() -> None:
    report = schedule_report([record(i * 100, i * 60) for i in range(20)])
    assert not report["kept_up"]
    assert "could not keep up" in report["flag"] and "req/s" in report["flag"]
    assert report["ttft_from_intended_ms"]["p99"] > 1000


def test_a_late_send_in_a_closed_loop_is_the_load_generators() -> None:
    late = [record(i * 100, 40) for i in range(20)]
    closed, opened = schedule_report(late, closed=True), schedule_report(late)
    assert closed["flag"].startswith("the load generator sent late")
    assert "p99 send lag 40.0 ms" in closed["flag"] and "server" not in closed["flag"].split(":")[0]
    assert opened["flag"].startswith("the server could not keep up")
