"""Per-token normalisation: a chunk of k tokens after a gap g gives k inter-token latencies g/k."""

import pytest

from loadgen.client.record import RequestRecord

MS = 1_000_000


def record_with(chunks: list[tuple[int, int]], send_ms: int = 0) -> RequestRecord:
    r = RequestRecord("r", "q" * 32, "1k", "mixed", 100, sum(n for _, n in chunks), 0, 0.0)
    r.send_ns = send_ms * MS
    r.chunk_ns = [t * MS for t, _ in chunks]
    r.chunk_tokens = [n for _, n in chunks]
    r.end_ns = chunks[-1][0] * MS + MS
    return r


def test_ttft_is_first_chunk_with_tokens() -> None:
    r = record_with([(50, 0), (100, 1), (130, 3)], send_ms=10)
    assert r.ttft_ms == pytest.approx(90)


def test_itl_spreads_a_chunk_gap_over_its_tokens() -> None:
    r = record_with([(100, 1), (130, 3), (140, 1)])
    assert r.itl_ms == pytest.approx([10, 10, 10, 10])
    assert r.chunk_gap_ms == pytest.approx([30, 10])


def test_tpot_counts_tokens_not_chunks() -> None:
    r = record_with([(100, 1), (130, 3), (160, 4)])
    # 60 ms for the 7 tokens after the first chunk
    assert r.tpot_ms == pytest.approx(60 / 7)
    assert r.tokens_per_chunk == pytest.approx(3.5)


def test_single_chunk_has_no_tpot() -> None:
    r = record_with([(100, 5)])
    assert r.tpot_ms is None and r.itl_ms == [] and r.tokens_per_chunk is None


def test_usage_overrides_chunk_sum_and_round_trips() -> None:
    r = record_with([(100, 1), (110, 2)])
    r.usage_output_tokens = 3
    assert r.output_tokens == 3
    assert RequestRecord.from_dict(r.to_dict()) == r
