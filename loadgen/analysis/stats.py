"""Distribution summaries and the bootstrap used for every confidence interval."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


def distribution(values: Sequence[float]) -> dict[str, float | None]:
    """mean / p50 / p90 / p99 (linear interpolation); nulls when there is nothing to summarise."""
    if len(values) == 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    arr = np.asarray(values, dtype=float)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"mean": float(arr.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


def bootstrap_ratio_ci(
    baseline: np.ndarray,
    variant: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[float, float] | tuple[None, None]:
    """Percentile interval of ``statistic(variant) / statistic(baseline)``.

    Rows (requests) of each side are resampled independently with replacement; a row may hold
    several columns (e.g. tokens and latency) that must stay together.
    """
    if len(baseline) < 2 or len(variant) < 2:
        return None, None
    rng = np.random.default_rng(seed)
    ratios = np.empty(resamples)
    for i in range(resamples):
        b = baseline[rng.integers(0, len(baseline), len(baseline))]
        v = variant[rng.integers(0, len(variant), len(variant))]
        ratios[i] = statistic(v) / statistic(b)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return float(low), float(high)
