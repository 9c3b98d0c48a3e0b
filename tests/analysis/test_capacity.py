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
    rows = SpeedupAnalysis(300).rows(load_groups(results))
    found = {c.variant: c for c in crossovers(rows)}
    for variant in ("sd-k1", "sd-k4"):
        mine = sorted((r for r in rows if r.variant == variant and r.category == "all"),
                      key=lambda r: r.concurrency)  # fmt: skip
        above = [r.concurrency for r in mine if r.speedup_output_tps <= 1]
        expected = (
            min(above)
            if above and all(r.speedup_output_tps <= 1 for r in mine if r.concurrency >= min(above))
            else NOT_REACHED
        )
        assert found[variant].concurrency == expected
    # The fake's SD overhead grows with load: k=4 loses at c=64.
    assert found["sd-k4"].concurrency == 64


def test_crossover_not_reached_when_sd_always_wins(results: Path) -> None:
    rows = [r for r in SpeedupAnalysis(100).rows(load_groups(results)) if r.concurrency == 1]
    assert all(c.concurrency == NOT_REACHED for c in crossovers(rows))


def test_slo_capacity_is_the_highest_concurrency_meeting_both_slos(results: Path) -> None:
    groups = load_groups(results)
    tpot_p90 = {g.key: g.summary_distribution("tpot_ms", "p90") for g in groups}
    limit = sorted(tpot_p90.values())[len(tpot_p90) // 2]
    capacity = {c.server: c for c in slo_capacity(groups, {"tpot_ms": limit, "percentile": "p90"})}
    for server in ("base", "sd-k1", "sd-k4"):
        meeting = [k[2].concurrency for k, v in tpot_p90.items() if k[0] == server and v <= limit]
        assert capacity[server].concurrency == (max(meeting) if meeting else None)
    none = slo_capacity(groups, {"ttft_ms": 0.001})
    assert all(c.concurrency is None for c in none)


def test_best_draft_length_picks_the_highest_speedup(results: Path) -> None:
    rows = SpeedupAnalysis(100).rows(load_groups(results))
    methods = {"sd-k1": "eagle", "sd-k4": "eagle"}
    best = best_draft_lengths(rows, methods)
    assert [b.concurrency for b in best] == [1, 8, 64]
    for b in best:
        candidates = [r for r in rows if r.concurrency == b.concurrency and r.category == "all"]
        assert b.speedup_output_tps == max(r.speedup_output_tps for r in candidates)
    assert best_draft_lengths(rows, {"sd-k1": "eagle", "sd-k4": "ngram"}) == []
