"""AL while drafting beside tokens per target step, the drafted share, AR_k, and the flag."""

from __future__ import annotations

import json

import pytest

from loadgen.engines import engine_for
from loadgen.metrics.acceptance import (
    CLIENT_STEPS,
    Acceptance,
    conditional_rates,
    reached_from_histogram,
    step_figures,
)
from loadgen.metrics.crosscheck import DRAFTING_GAP_TOLERANCE, drafting_gap_flag
from loadgen.metrics.window import text_deltas
from tests.metrics.test_adapters import CASES, TRT_AFTER, TRT_BEFORE, TRT_JSON, polls


def test_conditional_rate_per_position_is_accepted_k_over_accepted_k_minus_1() -> None:
    # 10 drafts; 8 accepted position 1, 4 position 2, 1 position 3
    acc = Acceptance(
        "x", drafts=10, draft_tokens=30, accepted_tokens=13, per_position=[0.8, 0.4, 0.1]
    )
    assert acc.conditional_per_position == pytest.approx([0.8, 0.5, 0.25])
    assert acc.to_dict()["conditional_per_position"] == pytest.approx([0.8, 0.5, 0.25])
    assert conditional_rates([10, 0, 0]) == [0.0, None]  # nothing reached position 1
    # steps accepting exactly 0, 1, 2, 3 tokens: 2, 4, 3, 1 -> reached 10, 8, 4, 1
    assert reached_from_histogram([2, 4, 3, 1]) == [10, 8, 4, 1]


def test_client_steps_stand_in_when_the_engine_counts_none() -> None:
    # 134 drafts, 381 accepted; the client saw 762 tokens in 390 steps (issue 15's demo cell)
    acc = Acceptance("vllm", drafts=134, draft_tokens=402, accepted_tokens=381)
    figs = step_figures(acc, client_tokens=762, client_steps=390)
    assert figs.al_while_drafting == pytest.approx(1 + 381 / 134)
    assert figs.tokens_per_target_step == pytest.approx(762 / 390)
    assert figs.drafted_share == pytest.approx(134 / 390)
    assert figs.steps_source == CLIENT_STEPS
    (flag,) = drafting_gap_flag(figs)
    assert "only 34% of decode steps drafted" in flag and flag.count(".") <= 3


def test_no_flag_when_every_step_drafts() -> None:
    acc = Acceptance("vllm", drafts=100, draft_tokens=300, accepted_tokens=150)
    figs = step_figures(acc, client_tokens=250, client_steps=100)
    assert figs.tokens_per_target_step == pytest.approx(2.5) == figs.al_while_drafting
    assert drafting_gap_flag(figs) == [] and DRAFTING_GAP_TOLERANCE == 0.10


def test_baseline_has_tokens_per_step_but_no_al() -> None:
    figs = step_figures(Acceptance("vllm"), client_tokens=63, client_steps=63)
    assert figs.tokens_per_target_step == 1.0 and figs.al_while_drafting is None
    assert figs.drafted_share is None and drafting_gap_flag(figs) == []


def _single_rank(body: str) -> str:
    stats = [s for s in json.loads(body) if s.get("attentionDpRank", 0) == 0]
    return json.dumps(stats)


def test_trtllm_counts_decode_steps_exactly_from_iteration_stats() -> None:
    """Iterations 99..103 each step 2 requests (99 drafts nothing): 10 steps, 8 drafts."""
    adapter = engine_for("trtllm").adapter
    deltas = text_deltas([TRT_BEFORE], [TRT_AFTER], adapter.counters)
    acc = adapter.reduce(deltas, [polls(*map(_single_rank, TRT_JSON))])
    assert acc.target_steps == 10 and acc.drafts == 8
    figs = step_figures(acc, client_tokens=0, client_steps=0)
    assert figs.tokens_per_target_step == pytest.approx(1 + 14 / 10)
    assert figs.drafted_share == pytest.approx(0.8)
    assert figs.steps_source.endswith("engine step count")
    # attention data parallelism: how steps split over ranks is unknown, so no count
    assert adapter.reduce(deltas, [polls(*TRT_JSON)]).target_steps is None


def test_vllm_and_sglang_expose_no_step_count() -> None:
    for case in CASES.values():
        if case.engine in ("vllm", "sglang"):
            adapter = engine_for(case.engine).adapter
            deltas = text_deltas(case.before, case.after, adapter.counters)
            assert adapter.reduce(deltas, case.polls).target_steps is None
