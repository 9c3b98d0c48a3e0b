"""Open-loop schedules: right mean rate, right shape, reproducible, split exactly across workers."""

import numpy as np
import pytest

from loadgen.load.arrivals import arrival_offsets_ns


def gaps_s(offsets: list[int]) -> np.ndarray:
    return np.diff([0, *offsets]) / 1e9


def test_poisson_has_the_asked_rate_and_exponential_gaps() -> None:
    gaps = gaps_s(arrival_offsets_ns("poisson", 50.0, 20_000, seed=1))
    assert gaps.mean() == pytest.approx(1 / 50, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)  # CV of an exponential


def test_gamma_burstiness_sets_the_spread_not_the_rate() -> None:
    bursty = gaps_s(arrival_offsets_ns("gamma", 50.0, 20_000, burstiness=0.25, seed=1))
    smooth = gaps_s(arrival_offsets_ns("gamma", 50.0, 20_000, burstiness=4.0, seed=1))
    assert bursty.mean() == pytest.approx(1 / 50, rel=0.05)
    assert smooth.mean() == pytest.approx(1 / 50, rel=0.05)
    assert bursty.std() / bursty.mean() == pytest.approx(2.0, rel=0.1)  # 1/sqrt(shape)
    assert smooth.std() / smooth.mean() == pytest.approx(0.5, rel=0.1)


def test_constant_workers_interleave_into_the_whole_runs_clock() -> None:
    parts = [arrival_offsets_ns("constant", 10.0, 5, index=i, share=2) for i in range(2)]
    assert sorted(parts[0] + parts[1]) == [i * 100_000_000 for i in range(10)]


def test_same_seed_same_schedule_and_workers_differ() -> None:
    a = arrival_offsets_ns("poisson", 5.0, 10, seed=3, index=0, share=2)
    assert a == arrival_offsets_ns("poisson", 5.0, 10, seed=3, index=0, share=2)
    assert a != arrival_offsets_ns("poisson", 5.0, 10, seed=3, index=1, share=2)


def test_open_loop_without_a_rate_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="--rate must be > 0"):
        arrival_offsets_ns("poisson", 0.0, 3)
