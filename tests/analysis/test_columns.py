"""The columnar figures must equal RequestRecord's own derived properties, record by record."""

import math

import numpy as np
import pytest

from loadgen.analysis.columns import RequestColumns, columns_of, stalled
from loadgen.client.record import RequestRecord

MS = 1_000_000


def record(
    i: int, chunks: list[tuple[int, int]], usage: int | None = None, error: str | None = None
):
    r = RequestRecord(f"r{i}", f"q{i}", "1k", ["low", "high"][i % 2], 100, 64, 0, 0.0)
    r.send_ns = 1000 * MS * i
    r.chunk_ns = [r.send_ns + t * MS for t, _ in chunks]
    r.chunk_tokens = [n for _, n in chunks]
    r.end_ns = (r.chunk_ns[-1] if chunks else r.send_ns) + 3 * MS
    r.usage_output_tokens = usage
    r.error_kind = error
    return r


RECORDS = [
    record(0, [(50, 0), (80, 1), (90, 3), (120, 2), (121, 0)], usage=6),
    record(1, [(40, 1), (55, 1), (70, 4)]),  # no usage: the sum over chunks
    record(2, [(30, 2)], usage=2),  # one chunk: no TPOT
    record(3, [(10, 0)]),  # no token at all
    record(4, [(40, 1), (60, 2)], error="http"),  # failed: left out, counted
]


def test_columns_equal_the_record_properties() -> None:
    cols = columns_of(RECORDS)
    ok = [r for r in RECORDS if r.ok]
    assert len(cols) == len(ok) and cols.failed == 1
    for i, r in enumerate(ok):
        assert cols.output_tokens[i] == r.output_tokens
        assert cols.e2e_ms[i] == pytest.approx(r.e2e_ms)
        assert cols.category[i] == r.category
        for name in ("ttft_ms", "tpot_ms"):
            expected = getattr(r, name)
            if expected is None:
                assert math.isnan(getattr(cols, name)[i])
            else:
                assert getattr(cols, name)[i] == pytest.approx(expected)
        later = [n for _, n in r.token_chunks[1:]]
        assert cols.later_chunks[i] == len(later) and cols.later_tokens[i] == sum(later)


def test_selection_and_concatenation_keep_rows_together() -> None:
    cols = columns_of(RECORDS)
    low = cols.select(cols.category == "low")
    assert set(low.category) == {"low"} and len(low) == 2
    both = RequestColumns.concat([cols, low])
    assert len(both) == len(cols) + 2 and both.failed == 1
    assert np.array_equal(both.e2e_ms[-2:], low.e2e_ms)


def test_no_records_give_empty_columns() -> None:
    assert len(columns_of([])) == 0


def _stream(i: int, gaps_us: list[int]) -> RequestRecord:
    """A request whose token chunks (one token each) come ``gaps_us`` apart after 30 ms."""
    times, t = [], 30_000
    for gap in [0, *gaps_us]:
        t += gap
        times.append(t)
    r = record(i, [(0, 1)] * len(times))
    r.chunk_ns = [r.send_ns + us * 1000 for us in times]
    return r


STREAMS = [
    _stream(0, [2000] * 20),  # steps 2 ms apart: no stall
    _stream(1, [2000, 300_000] + [10] * 9 + [2000] * 5),  # 300 ms, then 10 chunks at once: stall
    _stream(2, [2000, 300_000] + [10] * 6 + [2000] * 5),  # 7 at once: two events per read, no
    _stream(3, [10] * 9),  # the whole stream at once: the stall is from the send (30 ms)
    _stream(4, [2000, 100_000] + [10] * 7 + [2000, 400_000] + [10] * 8),  # two: the longer
]


def test_a_stall_is_a_burst_of_eight_chunks_and_the_gap_before_it() -> None:
    got = [r.stall_ms for r in STREAMS]
    assert got == pytest.approx([0.0, 300.0, 0.0, 30.0, 400.0])


def test_the_vectorised_stall_test_equals_the_record_property() -> None:
    """Chunks of five requests concatenated in record order, as requests.parquet stores them."""
    times = np.concatenate([np.asarray(r.chunk_ns, dtype=np.int64) for r in STREAMS])
    parent = np.repeat(np.arange(len(STREAMS)), [len(r.chunk_ns) for r in STREAMS])
    expected = [r.stall_ms > 0 for r in STREAMS]
    assert stalled(times, parent, len(STREAMS)).tolist() == expected
    assert stalled(times[:3], parent[:3], 5).tolist() == [False] * 5  # fewer chunks than a burst
