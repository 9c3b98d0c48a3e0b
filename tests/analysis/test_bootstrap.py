from unittest.mock import patch

import numpy as np
import pytest

from loadgen.analysis import bootstrap
from loadgen.analysis.bootstrap import (
    multinomial_weights,
    point_statistics,
    poisson_weights,
    ratio_interval,
    resample_statistics,
    resample_strata,
    resampled_quantile,
)
from loadgen.analysis.columns import RequestColumns


def side(e2e: np.ndarray, tpot: np.ndarray, tokens: float = 64) -> RequestColumns:
    n = len(e2e)
    return RequestColumns(
        np.array(["mixed"] * n, dtype=object),
        np.full(n, tokens),
        np.full(n, 50.0),
        tpot,
        e2e,
        np.full(n, tokens - 1),
        np.full(n, tokens - 1),
        0,
    )


def test_identical_requests_give_a_degenerate_interval_at_the_true_ratio() -> None:
    base = side(np.full(50, 2000.0), np.full(50, 30.0))
    sd = side(np.full(50, 1000.0), np.full(50, 15.0))
    b, v = resample_statistics(base, "b", 200), resample_statistics(sd, "v", 200)
    assert b is not None and v is not None
    assert ratio_interval(v["output_tps"], b["output_tps"]) == pytest.approx((2.0, 2.0))
    assert ratio_interval(b["tpot_p90"], v["tpot_p90"]) == pytest.approx((2.0, 2.0))
    assert ratio_interval(b["e2e_mean"], v["e2e_mean"]) == pytest.approx((2.0, 2.0))


def test_interval_covers_the_point_and_narrows_with_more_requests() -> None:
    rng = np.random.default_rng(1)

    def width(n: int) -> float:
        base = side(rng.lognormal(7.6, 0.3, n), rng.lognormal(3.4, 0.3, n))
        sd = side(rng.lognormal(7.2, 0.3, n), rng.lognormal(3.0, 0.3, n))
        low, high = ratio_interval(
            resample_statistics(base, "b")["tpot_p90"], resample_statistics(sd, "v")["tpot_p90"]
        )
        point = point_statistics(base)["tpot_p90"] / point_statistics(sd)["tpot_p90"]
        assert low <= point <= high
        return high - low

    assert width(2000) < width(50) / 3


@pytest.mark.parametrize("m", [7, 60, 800])
def test_direct_quantile_draws_match_resampling_and_sorting(m: int) -> None:
    rng = np.random.default_rng(m)
    values = np.sort(rng.lognormal(0, 1, m))
    direct = resampled_quantile(values, 0.9, 20000, np.random.default_rng(1))
    brute = np.quantile(values[rng.integers(0, m, (20000, m))], 0.9, axis=1)
    # Same distribution: the two-sample Kolmogorov-Smirnov distance stays at sampling noise.
    grid = np.union1d(direct, brute)
    cdf = [np.searchsorted(np.sort(x), grid, side="right") / len(x) for x in (direct, brute)]
    assert np.abs(cdf[0] - cdf[1]).max() < 0.02


def test_poisson_weights_have_poisson_one_moments_and_frequencies() -> None:
    w = poisson_weights(np.random.Generator(np.random.SFC64(0)), 1000, 200).ravel()
    assert w.mean() == pytest.approx(1.0, abs=0.01) and w.var() == pytest.approx(1.0, abs=0.02)
    assert np.mean(w == 0) == pytest.approx(np.exp(-1), abs=0.005)


def test_poisson_and_classic_bootstrap_give_the_same_interval() -> None:
    rng = np.random.default_rng(3)
    base = side(rng.lognormal(7.6, 0.4, 3000), rng.lognormal(3.4, 0.4, 3000))
    sd = side(rng.lognormal(7.2, 0.4, 3000), rng.lognormal(3.0, 0.4, 3000))
    intervals = []
    for weights in (multinomial_weights, poisson_weights):
        with patch.object(bootstrap, "poisson_weights", weights):
            b, v = resample_statistics(base, "b"), resample_statistics(sd, "v")
        intervals.append(ratio_interval(v["output_tps"], b["output_tps"]))
    (low_c, high_c), (low_p, high_p) = intervals
    width = high_c - low_c
    assert abs(low_p - low_c) < 0.1 * width and abs(high_p - high_c) < 0.1 * width


def test_fewer_than_two_requests_have_no_interval() -> None:
    one = side(np.array([100.0]), np.array([5.0]))
    assert resample_statistics(one, "x") is None
    assert ratio_interval(None, None) == (None, None)


def test_a_category_drawn_with_its_side_matches_it_resampled_alone() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    cols = side(rng.lognormal(7.6, 0.4, n), rng.lognormal(3.4, 0.4, n))
    cols = RequestColumns(
        np.array(["a", "b", "c"] * (n // 3), dtype=object), *[
            getattr(cols, f) for f in
            ("output_tokens", "ttft_ms", "tpot_ms", "e2e_ms", "later_chunks", "later_tokens")
        ], 0,
    )  # fmt: skip
    joint = resample_strata(cols, "j", ["a", "b", "c"])
    alone = resample_statistics(cols.select(cols.category == "b"), "alone")
    assert set(joint) == {"all", "a", "b", "c"}
    for stat in ("output_tps", "tpot_mean", "tpot_p90", "e2e_mean"):
        # Same spread (a stratum mixed with the others would be about sqrt(3) narrower).
        j, a = joint["b"][stat], alone[stat]
        assert j.std() == pytest.approx(a.std(), rel=0.1), stat
        assert abs(j.mean() - a.mean()) < 0.2 * a.std(), stat
