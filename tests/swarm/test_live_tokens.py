"""Live UI figures from records: tokens/s over a window, the tokens-per-chunk histogram."""

from loadgen.client.record import RequestRecord
from loadgen.swarm.live_tokens import LiveTokens


def record(chunks: list[int], error: str | None = None) -> RequestRecord:
    r = RequestRecord("r", "q", "1k", "mixed", 4, sum(chunks), 0, 0.0, error_kind=error)
    r.chunk_tokens = chunks
    r.chunk_ns = list(range(len(chunks)))
    return r


def test_tokens_per_second_counts_only_the_window() -> None:
    live = LiveTokens(window_s=10)
    live.add(record([1, 3, 3]), now=100.0)
    live.add(record([1, 2]), now=105.0)
    assert live.tokens_per_s(now=109.0) == (7 + 3) / 10
    assert live.tokens_per_s(now=112.0) == 3 / 10


def test_histogram_leaves_out_the_prefill_chunk_and_counts_errors() -> None:
    live = LiveTokens()
    live.add(record([1, 3, 3, 2]))
    live.add(record([1, 3], error="short_output"))
    assert live.chunk_sizes == {3: 3, 2: 1}
    assert live.mean_tokens_per_chunk() == 11 / 4
    rows = {row["name"]: row["value"] for row in live.rows()}
    assert rows["chunks of   3 tokens"] == 3 and rows["errors: short_output"] == 1


def test_histogram_rows_and_chart_are_in_numeric_order_and_flag_merged_chunks() -> None:
    live = LiveTokens()
    live.add(record([1, 2, 10, 11, 12, 1]))
    live.positions = 3  # k = 3: a step streams at most 4 tokens
    names = [row["name"] for row in live.rows() if row["name"].startswith("chunks of")]
    assert names == sorted(names) == [f"chunks of {k:>3} tokens" for k in (1, 2, 10, 11, 12)]
    charts = live.charts()
    assert [k for k, _ in charts["tokens_per_chunk"]] == [1, 2, 10, 11, 12]
    assert charts["merged_chunks"] == 3 and live.merged_chunks() == 3
    assert charts["latency_ms"]["TPOT (per token)"]["p50"] is not None
