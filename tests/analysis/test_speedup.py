import pytest

from loadgen.analysis.speedup import speedup_row
from loadgen.analysis.summary import summarize_cell
from loadgen.client.record import RequestRecord
from loadgen.metrics.acceptance import Acceptance

MS = 1_000_000


def records(
    step_ms: int, tokens_per_chunk: int, n: int = 8, tokens: int = 65
) -> list[RequestRecord]:
    """n sequential requests: TTFT 100 ms, then chunks of k tokens every step_ms."""
    out, t = [], 0
    for i in range(n):
        r = RequestRecord(f"r{i}", f"{i:032d}", "1k", "mixed", 1000, tokens, t, 0.0)
        r.send_ns = t
        now, sent = t + 100 * MS, 0
        while sent < tokens:
            k = 1 if sent == 0 else min(tokens_per_chunk, tokens - sent)
            now += 0 if sent == 0 else step_ms * MS
            r.chunk_ns.append(now)
            r.chunk_tokens.append(k)
            sent += k
        r.end_ns = now
        r.usage_output_tokens = tokens
        out.append(r)
        t = now
    return out


def cell(server: str, recs: list[RequestRecord], acc: Acceptance) -> dict:
    return summarize_cell(server, "1k", 1, recs, acc, None)


def test_sd_that_halves_tpot_shows_a_speedup_with_an_interval() -> None:
    base_recs, sd_recs = records(10, 1), records(10, 2)
    base = cell("base", base_recs, Acceptance("s"))
    sd = cell("sd", sd_recs, Acceptance("s", drafts=10, draft_tokens=30, accepted_tokens=10))
    row = speedup_row(base, base_recs, sd, sd_recs)
    assert row.tpot_speedup == pytest.approx(2.0)
    assert row.speedup_output_tps == pytest.approx(base.duration_s / sd.duration_s)
    assert row.speedup_output_tps > 1.5
    assert row.acceptance_length == pytest.approx(2.0)
    assert row.ci_low is not None and row.ci_low <= row.ci_high


def test_slower_sd_is_reported_below_one() -> None:
    base_recs, sd_recs = records(10, 1), records(25, 2)
    row = speedup_row(
        cell("b", base_recs, Acceptance("s")),
        base_recs,
        cell("v", sd_recs, Acceptance("s")),
        sd_recs,
    )
    assert row.speedup_output_tps < 1 and row.tpot_speedup == pytest.approx(10 / 12.5)
