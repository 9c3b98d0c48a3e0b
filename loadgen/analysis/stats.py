"""Distribution summaries and the bootstrap used for every confidence interval."""

from __future__ import annotations

from collections.abc import Sequence

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
