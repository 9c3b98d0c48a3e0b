import pytest

from loadgen.analysis.stats import distribution


def test_distribution_percentiles() -> None:
    d = distribution(list(range(1, 101)))
    assert d["mean"] == pytest.approx(50.5)
    assert d["p50"] == pytest.approx(50.5) and d["p90"] == pytest.approx(90.1)
    assert distribution([])["p99"] is None
