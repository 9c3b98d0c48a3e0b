from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.crosscheck import ClientCounts, restart_flags, server_flags
from loadgen.metrics.window import WindowCounters
from tests.metrics.test_adapters import VLLM, scaled

CLIENT = ClientCounts(requests=4, output_tokens=400, accepted_tokens=200, tokens_per_chunk=2.0)
SD = Acceptance("s", drafts=200, draft_tokens=600, accepted_tokens=200)


def counters(**over: float | None) -> WindowCounters:
    base: dict = dict(
        generation_tokens=400,
        prompt_tokens=4000,
        prefix_cache_hits=0,
        prefix_cache_queries=4000,
        reset=False,
        requests=4,
    )
    return WindowCounters(**{**base, **over})


def test_consistent_cell_raises_nothing() -> None:
    assert server_flags(counters(), SD, CLIENT) == []


def test_foreign_traffic_shows_in_tokens_and_requests() -> None:
    flags = server_flags(counters(generation_tokens=480, requests=5), SD, CLIENT)
    assert any("generated 480" in f for f in flags) and any("finished 5" in f for f in flags)


def test_engine_without_a_counter_skips_that_check() -> None:
    none = counters(generation_tokens=None, requests=None, prefix_cache_hits=None)
    assert server_flags(none, SD, CLIENT) == []


def test_prefix_cache_and_restart() -> None:
    flags = server_flags(counters(prefix_cache_hits=1000, reset=True), SD, CLIENT)
    assert any("restarted" in f for f in flags) and any(
        "prefix cache served 1000" in f for f in flags
    )


def test_merged_chunks_exceed_the_acceptance_length() -> None:
    merged = ClientCounts(requests=4, output_tokens=400, accepted_tokens=300, tokens_per_chunk=4.0)
    flags = server_flags(counters(), SD, merged)
    assert any("300 accepted" in f for f in flags) and any(
        "4.00 tokens per chunk" in f for f in flags
    )


def test_estimates_get_a_wider_tolerance() -> None:
    near = ClientCounts(requests=4, output_tokens=400, accepted_tokens=250, tokens_per_chunk=2.0)
    assert server_flags(counters(), SD, near) != []
    estimated = Acceptance("s", drafts=200, draft_tokens=600, accepted_tokens=200, estimate=True)
    assert server_flags(counters(), estimated, near) == []


def test_restart_is_seen_by_the_process_start_time_even_when_counters_grew_back() -> None:
    """Real vLLM-CPU exposition: a restarted engine whose counters are higher again after the
    load than before it looks like a normal window to two-point deltas; its start time tells."""
    restarted = VLLM.replace("process_start_time_seconds 1.7959179243e+09",
                             "process_start_time_seconds 1.7959180000e+09")  # fmt: skip
    assert restarted != VLLM
    [flag] = restart_flags([VLLM], [scaled(restarted, 3)])
    assert "target 0: the engine process restarted" in flag and "lower bounds" in flag
    assert restart_flags([VLLM], [scaled(VLLM, 3)]) == []
    assert restart_flags(["a_total 1\n"], ["a_total 2\n"]) == []  # no start time: no claim


def test_drafts_accepted_past_max_tokens_are_allowed_for_up_to_k_per_request() -> None:
    """Real vLLM-CPU, 3 requests of 32 tokens, ngram k=3: the server counted 22 accepted tokens,
    the client saw 17 (the last step of a request accepted drafts past max_tokens)."""
    seen = ClientCounts(requests=3, output_tokens=96, accepted_tokens=17, tokens_per_chunk=1.22)
    ngram = Acceptance("s", drafts=9, draft_tokens=27, accepted_tokens=22, per_position=[0.9] * 3)
    assert server_flags(counters(generation_tokens=96, requests=3), ngram, seen) == []
    more = Acceptance("s", drafts=9, draft_tokens=27, accepted_tokens=40, per_position=[0.9] * 3)
    flags = server_flags(counters(generation_tokens=96, requests=3), more, seen)
    assert any("17 accepted" in f for f in flags)  # beyond 3 per request: not the end of a stream
