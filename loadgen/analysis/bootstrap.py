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
    # SFC64: a fast generator of good quality; drawing indices dominates the cost.
    rng = np.random.Generator(np.random.SFC64(zlib.crc32(label.encode())))
    out = {name: np.empty(resamples) for name in STATISTICS}
    tokens, e2e = cols.output_tokens, cols.e2e_ms
    constant_tokens = bool(np.all(tokens == tokens[0]))
    for start in range(0, resamples, BLOCK):
        b = min(BLOCK, resamples - start)
        rows = uniform_indices(rng, n, b)
        e2e_sums = e2e[rows].sum(axis=1)
        token_sums = n * tokens[0] if constant_tokens else tokens[rows].sum(axis=1)
        out["output_tps"][start : start + b] = token_sums / e2e_sums * 1000
        out["e2e_mean"][start : start + b] = e2e_sums / n
        # Every request has a TPOT (the usual case): the same draw; else resample those that do.
        picks = rows if m == n else uniform_indices(rng, m, b)
        out["tpot_mean"][start : start + b] = tpot[picks].mean(axis=1)
    out["tpot_p90"] = resampled_quantile(np.sort(tpot), 0.9, resamples, rng)
    return out


def uniform_indices(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """``rows`` x ``n`` uniform draws from range(n): 32 random bits each, scaled by
    multiply-shift (bias below n / 2**32, i.e. nil), about twice as fast as ``rng.integers``."""
    size = rows * n
    bits = rng.bit_generator.random_raw((size + 1) // 2).view(np.uint32)[:size]
    scaled = (bits.astype(np.uint64) * np.uint64(n)) >> np.uint64(32)
    return scaled.view(np.int64).reshape(rows, n)


def resampled_quantile(
    ordered: np.ndarray, q: float, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Exact bootstrap draws of the linear-interpolated quantile (as ``np.quantile``), O(resamples).

    Resampling m values from their empirical distribution applies its quantile function to m
    uniforms; the r-th smallest of m uniforms is Beta(r, m + 1 - r), and the next one lies above
    it by (1 - u) * Beta(1, m - r). So the two order statistics the quantile interpolates between
    are drawn directly instead of resampling and sorting m values ``resamples`` times.
    """
    m = len(ordered)
    position = q * (m - 1)
    low = int(np.floor(position))
    frac = position - low
    u_low = rng.beta(low + 1, m - low, resamples)
    u_high = u_low + (1 - u_low) * (rng.beta(1, m - low - 1, resamples) if low + 1 < m else 0.0)

    def at(u: np.ndarray) -> np.ndarray:
        return np.asarray(ordered[np.clip(np.ceil(u * m).astype(np.int64) - 1, 0, m - 1)])

    x_low = at(u_low)
    return np.asarray(x_low + frac * (at(u_high) - x_low))


def ratio_interval(
    numerator: np.ndarray | None, denominator: np.ndarray | None
) -> tuple[float, float] | tuple[None, None]:
    if numerator is None or denominator is None:
        return None, None
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(numerator / denominator, [alpha, 1 - alpha])
    return float(low), float(high)
