"""Vectorised per-request bootstrap of the figures a speedup is made of.

Each side (a server's requests in one bucket x concurrency, repeats combined) is resampled once,
``resamples`` times, and every statistic is computed on the same resamples; a ratio's interval is
then the percentile interval of ``variant / baseline`` over paired resample draws. Sides are
independent samples, so they are resampled independently (and a baseline's draws are reused for
every variant compared with it).
"""

from __future__ import annotations

import zlib

import numpy as np

from loadgen.analysis.columns import RequestColumns
from loadgen.analysis.stats import BOOTSTRAP_RESAMPLES, CONFIDENCE

# Resamples are drawn in blocks so memory stays ~ BLOCK x requests whatever the cell size.
BLOCK = 200
STATISTICS = ("output_tps", "tpot_mean", "tpot_p90", "e2e_mean")


def point_statistics(cols: RequestColumns) -> dict[str, float | None]:
    tpot = cols.tpot_ms[~np.isnan(cols.tpot_ms)]
    e2e_total = float(cols.e2e_ms.sum())
    return {
        # Little's law: concurrency * tokens / latency; the concurrency cancels in every ratio.
        "output_tps": float(cols.output_tokens.sum()) / e2e_total * 1000 if e2e_total else None,
        "tpot_mean": float(tpot.mean()) if len(tpot) else None,
        "tpot_p90": float(np.quantile(tpot, 0.9)) if len(tpot) else None,
        "e2e_mean": float(cols.e2e_ms.mean()) if len(cols) else None,
    }


def resample_statistics(
    cols: RequestColumns, label: str, resamples: int = BOOTSTRAP_RESAMPLES
) -> dict[str, np.ndarray] | None:
    """``resamples`` draws of each statistic; None when the side has fewer than two requests."""
    tpot = cols.tpot_ms[~np.isnan(cols.tpot_ms)]
    n, m = len(cols), len(tpot)
    if n < 2 or m < 2:
        return None
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    out = {name: np.empty(resamples) for name in STATISTICS}
    tokens, e2e = cols.output_tokens, cols.e2e_ms
    k90 = 0.9 * (m - 1)
    low, frac = int(np.floor(k90)), k90 - np.floor(k90)
    for start in range(0, resamples, BLOCK):
        b = min(BLOCK, resamples - start)
        rows = rng.integers(0, n, size=(b, n), dtype=np.int32)
        e2e_sums = e2e[rows].sum(axis=1)
        out["output_tps"][start : start + b] = tokens[rows].sum(axis=1) / e2e_sums * 1000
        out["e2e_mean"][start : start + b] = e2e_sums / n
        picks = tpot[rng.integers(0, m, size=(b, m), dtype=np.int32)]
        out["tpot_mean"][start : start + b] = picks.mean(axis=1)
        # Linear-interpolated p90 (as np.quantile) from a partial sort.
        upper = min(low + 1, m - 1)
        part = np.partition(picks, (low, upper), axis=1)
        out["tpot_p90"][start : start + b] = part[:, low] + frac * (part[:, upper] - part[:, low])
    return out


def ratio_interval(
    numerator: np.ndarray | None, denominator: np.ndarray | None
) -> tuple[float, float] | tuple[None, None]:
    if numerator is None or denominator is None:
        return None, None
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(numerator / denominator, [alpha, 1 - alpha])
    return float(low), float(high)
