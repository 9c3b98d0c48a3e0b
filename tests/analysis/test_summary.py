from loadgen.analysis.summary import summarize_cell
from loadgen.client.record import RequestRecord
from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.vllm import WindowCounters
from tests.analysis.test_speedup import records


def test_summary_has_the_interface_fields() -> None:
    s = summarize_cell("srv", "1k", 2, records(10, 2, n=4), Acceptance("s"), None)
    for key in (
        "server",
        "bucket",
        "concurrency",
        "requests_ok",
        "requests_failed",
        "duration_s",
        "output_tokens",
        "output_tokens_per_s",
        "ttft_ms",
        "tpot_ms",
        "itl_ms",
        "e2e_ms",
        "acceptance",
        "client_tokens_per_chunk",
    ):
        assert key in s.model_dump(mode="json")
    assert s.requests_ok == 4 and s.output_tokens == 4 * 65
    assert set(s.ttft_ms.model_dump()) == {"mean", "p50", "p90", "p99"}
    assert s.flags == []


def test_failures_are_counted_by_kind_and_flagged() -> None:
    recs = records(10, 1, n=3)
    recs[0].error_kind = "http_500"
    s = summarize_cell("srv", "1k", 1, recs, Acceptance("s"), None)
    assert s.requests_failed == 1 and s.errors_by_kind == {"http_500": 1}
    assert s.flags == [
        "1 of 3 requests failed (33%, above 5%: the figures describe a failing server, not its "
        "speed): {'http_500': 1}"
    ]


def test_one_failure_in_forty_is_counted_but_not_called_untrustworthy() -> None:
    recs = records(10, 1, n=40)
    recs[5].error_kind = "http_429"
    assert summarize_cell("srv", "1k", 1, recs, Acceptance("s"), None).flags == [
        "1 of 40 requests failed (2%): {'http_429': 1}"
    ]


def test_a_cell_ending_in_connection_failures_says_the_server_stopped_answering() -> None:
    recs = records(10, 1, n=6)
    for r, kind in zip(recs[3:], ["truncated", "connection", "connection"], strict=True):
        r.error_kind = kind
    flags = summarize_cell("srv", "1k", 1, recs, Acceptance("s"), None).flags
    assert "the last 3 requests failed ({'connection': 2, 'truncated': 1})" in flags[1]
    assert "stopped answering" in flags[1]
    recs[-1].error_kind = None  # the server came back: not "gone", just failures
    assert len(summarize_cell("srv", "1k", 1, recs, Acceptance("s"), None).flags) == 1


def test_foreign_traffic_and_prefix_cache_hits_are_flagged() -> None:
    recs: list[RequestRecord] = records(10, 1, n=2)
    counters = WindowCounters(
        generation_tokens=500,
        prompt_tokens=2000,
        prefix_cache_hits=1500,
        prefix_cache_queries=2000,
        reset=False,
    )
    flags = summarize_cell("srv", "1k", 1, recs, Acceptance("s"), counters).flags
    assert any("foreign traffic" in f for f in flags)
    assert any("prefix cache" in f for f in flags)


def test_client_and_server_accepted_tokens_are_cross_checked() -> None:
    recs = records(10, 3, n=2, tokens=64)  # 1 + 21 chunks of 3: 42 tokens beyond one per chunk
    agree = Acceptance("s", drafts=21, draft_tokens=42, accepted_tokens=42)
    disagree = Acceptance("s", drafts=21, draft_tokens=63, accepted_tokens=10)
    assert summarize_cell("s", "1k", 1, recs, agree, None).client_accepted_tokens == 84
    ok = Acceptance("s", drafts=42, draft_tokens=84, accepted_tokens=84)
    assert summarize_cell("s", "1k", 1, recs, ok, None).flags == []
    assert any(
        "accepted tokens" in f for f in summarize_cell("s", "1k", 1, recs, disagree, None).flags
    )
