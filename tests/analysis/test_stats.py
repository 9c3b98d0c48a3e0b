import numpy as np
import pytest

from loadgen.analysis.stats import bootstrap_ratio_ci, distribution


def test_distribution_percentiles() -> None:
    d = distribution(list(range(1, 101)))
    assert d["mean"] == pytest.approx(50.5)
    assert d["p50"] == pytest.approx(50.5) and d["p90"] == pytest.approx(90.1)
    assert distribution([])["p99"] is None


def test_bootstrap_interval_brackets_the_true_ratio() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(100, 5, size=(200, 1))
    variant = rng.normal(150, 5, size=(200, 1))
    low, high = bootstrap_ratio_ci(base, variant, lambda rows: float(rows[:, 0].mean()))
    assert low is not None and high is not None
    assert low < 1.5 < high and high - low < 0.05


def test_bootstrap_needs_two_rows_per_side() -> None:
    one = np.ones((1, 1))
    assert bootstrap_ratio_ci(one, one, lambda r: float(r.mean())) == (None, None)
