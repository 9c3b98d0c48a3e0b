from pathlib import Path

import pytest

from loadgen.analysis.capacity import (
    NOT_REACHED,
    best_draft_lengths,
    crossovers,
    slo_capacity,
)
from loadgen.analysis.groups import load_groups
from loadgen.analysis.speedup import SpeedupAnalysis
from tests.fakes.cells import FakeServer, write_results

SERVERS = [
    FakeServer("base"),
    FakeServer("sd-k1", "base", speculative="eagle", draft_tokens=1),
    FakeServer("sd-k4", "base", speculative="eagle", draft_tokens=4),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fake-results")
    return write_results(out, SERVERS, ["1k"], [1, 8, 64], requests=64, repeats=2)


def test_repeats_are_pooled_into_one_group(results: Path) -> None:
    groups = load_groups(results)
    assert len(groups) == 3 * 3
    assert all(len(g.summaries) == 2 and len(g.columns) == 128 for g in groups)
    g = groups[0]
    tokens = sum(s.output_tokens for s in g.summaries)
    assert g.output_tps == pytest.approx(tokens / sum(s.duration_s for s in g.summaries))


def test_crossover_is_where_sd_stops_paying_off(results: Path) -> None:
    """The FAKE cells are seeded: their steady-state speedups are literals (c=1, 8, 64; at c=1
    and c=64 every request is kept, so they equal Little's law over all requests), and the
    crossover is the lowest concurrency from which they stay <= 1."""
    rows = SpeedupAnalysis(300).rows(load_groups(results))
    speedups = {
        (r.variant, r.concurrency): round(r.speedup_output_tps, 4)
        for r in rows
        if r.category == "all" and r.speedup_output_tps is not None
    }
    assert speedups == {
        ("sd-k1", 1): 1.3562, ("sd-k1", 8): 1.2973, ("sd-k1", 64): 0.9462,
        ("sd-k4", 1): 1.4348, ("sd-k4", 8): 1.2494, ("sd-k4", 64): 0.6017,
    }  # fmt: skip
    # The fake's SD overhead grows with load: both lose at c=64 only.
    assert {c.variant: c.concurrency for c in crossovers(rows)} == {"sd-k1": 64, "sd-k4": 64}


def test_crossover_not_reached_when_sd_always_wins(results: Path) -> None:
    rows = [r for r in SpeedupAnalysis(100).rows(load_groups(results)) if r.concurrency == 1]
    assert all(c.concurrency == NOT_REACHED for c in crossovers(rows))


def test_slo_capacity_is_the_highest_concurrency_meeting_both_slos(results: Path) -> None:
    """p90 TPOT of the seeded cells (ms): base 20.8 / 32.4 / 125.0, sd-k1 17.4 / 28.5 / 159.3,
    sd-k4 20.6 / 37.6 / 309.6 at c=1 / 8 / 64: a 30 ms SLO admits c=1, 8 and 1."""
    groups = load_groups(results)
    p90 = {(g.server, g.load.concurrency): g.summary_distribution("tpot_ms", "p90") for g in groups}
    assert p90[("sd-k1", 8)] == pytest.approx(28.5377, abs=1e-4)
    assert p90[("base", 8)] == pytest.approx(32.3951, abs=1e-4)
    capacity = slo_capacity(groups, {"tpot_ms": 30, "percentile": "p90"})
    assert {c.server: c.concurrency for c in capacity} == {"base": 1, "sd-k1": 8, "sd-k4": 1}
    none = slo_capacity(groups, {"ttft_ms": 0.001})
    assert all(c.concurrency is None for c in none)


def test_best_draft_length_picks_the_highest_speedup(results: Path) -> None:
    rows = SpeedupAnalysis(100).rows(load_groups(results))
    best = best_draft_lengths(rows, {"sd-k1": "eagle", "sd-k4": "eagle"})
    assert [(b.concurrency, b.variant, round(b.speedup_output_tps, 4)) for b in best] == [
        (1, "sd-k4", 1.4348), (8, "sd-k1", 1.2973), (64, "sd-k1", 0.9462)
    ]  # fmt: skip
    assert best_draft_lengths(rows, {"sd-k1": "eagle", "sd-k4": "ngram"}) == []
