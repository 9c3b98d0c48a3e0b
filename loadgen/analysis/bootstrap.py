"""Vectorised per-request bootstrap of the figures a speedup is made of.

Each side (a server's requests in one bucket x concurrency, repeats combined) is resampled once,
``resamples`` times, and every statistic is computed on the same resamples; a ratio's interval is
then the percentile interval of ``variant / baseline`` over paired resample draws. Sides are
independent samples, so they are resampled independently (and a baseline's draws are reused for
every variant compared with it).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from loadgen.analysis.columns import RequestColumns
from loadgen.analysis.stats import BOOTSTRAP_RESAMPLES, CONFIDENCE
from loadgen.analysis.steady import littles_tps

# Resamples are drawn in blocks so memory stays ~ BLOCK x requests whatever the cell size.
BLOCK = 100
# From this many requests on, the Poisson bootstrap replaces the classic one (same intervals,
# several times cheaper); below it a resample without any request would be too likely.
POISSON_MIN_REQUESTS = 500
# output_tps: per-user tok/s over the steady requests (the headline, loadgen.analysis.steady);
# littles_tps: the same over every request (labelled "Little's law, all requests").
STATISTICS = ("output_tps", "littles_tps", "tpot_mean", "tpot_p90", "e2e_mean")
ALL = "all"


def point_statistics(cols: RequestColumns) -> dict[str, float | None]:
    tpot = cols.tpot_ms[~np.isnan(cols.tpot_ms)]
    steady = cols.steady_mask()
    return {
        # Little's law: concurrency * tokens / latency; the concurrency cancels in every ratio.
        "output_tps": littles_tps(cols.output_tokens[steady], cols.e2e_ms[steady], 1),
        "littles_tps": littles_tps(cols.output_tokens, cols.e2e_ms, 1),
        "tpot_mean": float(tpot.mean()) if len(tpot) else None,
        "tpot_p90": float(np.quantile(tpot, 0.9)) if len(tpot) else None,
        "e2e_mean": float(cols.e2e_ms.mean()) if len(cols) else None,
    }


Draws = dict[str, np.ndarray]
# Strata this small are resampled on their own, so no resample can miss them entirely.
POISSON_MIN_STRATUM = 100


def resample_statistics(
    cols: RequestColumns, label: str, resamples: int = BOOTSTRAP_RESAMPLES
) -> Draws | None:
    """``resamples`` draws of each statistic; None when the side has fewer than two requests."""
    return resample_strata(cols, label, [], resamples)[ALL]


def resample_strata(
    cols: RequestColumns,
    label: str,
    categories: Sequence[str],
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict[str, Draws | None]:
    """Draws for all requests (``ALL``) and for each category, from one set of resamples.

    With the Poisson bootstrap every request is weighted independently, so the weights of one
    resample restricted to a category are a Poisson resample of that category: one matrix
    product serves every stratum. Small sides use the classic bootstrap, stratum by stratum.
    """
    valid = ~np.isnan(cols.tpot_ms)
    masks = {ALL: np.ones(len(cols), dtype=bool)}
    masks |= {c: cols.category == c for c in categories}
    live = {k: m for k, m in masks.items() if m.sum() >= 2 and (m & valid).sum() >= 2}
    out: dict[str, Draws | None] = {k: None for k in masks}
    rng = np.random.Generator(np.random.SFC64(zlib.crc32(label.encode())))
    if not live:
        return out
    if (
        len(cols) >= POISSON_MIN_REQUESTS
        and min(m.sum() for m in live.values()) >= POISSON_MIN_STRATUM
    ):
        out |= _draw(cols, valid, live, poisson_weights, resamples, rng)
    else:
        for key, mask in live.items():
            out |= _draw(
                cols.select(mask), valid[mask], {key: None}, multinomial_weights, resamples, rng
            )
    return out


def _draw(
    cols: RequestColumns,
    valid: np.ndarray,
    strata: Mapping[str, np.ndarray | None],
    weights: Callable[[np.random.Generator, int, int], np.ndarray],
    resamples: int,
    rng: np.random.Generator,
) -> dict[str, Draws | None]:
    n = len(cols)
    # Per-request columns whose weighted sums make every mean-type statistic, per stratum.
    # float32: the sums carry ~1e-5 relative error, far below any interval's width, and halve
    # the memory traffic that bounds the cost.
    steady = cols.steady_mask()
    base = [cols.output_tokens, cols.e2e_ms, np.where(valid, cols.tpot_ms, 0.0), valid, np.ones(n)]
    base += [cols.output_tokens * steady, cols.e2e_ms * steady]
    width = len(base)
    values = np.column_stack(
        [col * (1 if mask is None else mask) for mask in strata.values() for col in base]
    ).astype(np.float32)
    out = {key: {name: np.empty(resamples) for name in STATISTICS} for key in strata}
    for start in range(0, resamples, BLOCK):
        b = min(BLOCK, resamples - start)
        sums = (weights(rng, n, b) @ values).astype(float)
        for i, key in enumerate(strata):
            s = sums[:, width * i : width * (i + 1)]
            with np.errstate(divide="ignore", invalid="ignore"):
                out[key]["output_tps"][start : start + b] = s[:, 5] / s[:, 6] * 1000
            out[key]["littles_tps"][start : start + b] = s[:, 0] / s[:, 1] * 1000
            out[key]["e2e_mean"][start : start + b] = s[:, 1] / s[:, 4]
            out[key]["tpot_mean"][start : start + b] = s[:, 2] / np.maximum(s[:, 3], 1)
    for key, mask in strata.items():
        tpot = cols.tpot_ms[valid if mask is None else valid & mask]
        out[key]["tpot_p90"] = resampled_quantile(np.sort(tpot), 0.9, resamples, rng)
    return dict(out)


def multinomial_weights(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """The classic bootstrap: how often each request is drawn in n draws with replacement."""
    draws = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
    counts = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n)
    return counts.astype(np.float32)


def _poisson_table(bits: int = 16) -> np.ndarray:
    """Poisson(1) by inverse CDF at 2**bits evenly spaced probabilities (error < 2**-bits)."""
    k = np.arange(20)
    pmf = np.exp(-1.0) / np.cumprod(np.concatenate([[1.0], k[1:]]))
    u = (np.arange(2**bits) + 0.5) / 2**bits
    return np.asarray(np.searchsorted(np.cumsum(pmf), u), dtype=np.float32)


POISSON_TABLE = _poisson_table()


def poisson_weights(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """The Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012): each request drawn
    Poisson(1) times, independently. For large n it matches the classic bootstrap and costs one
    16-bit random number and a table look-up per request and resample."""
    size = rows * n
    bits = rng.bit_generator.random_raw(-(-size // 4)).view(np.uint16)[:size]
    return np.asarray(POISSON_TABLE[bits].reshape(rows, n))


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
    ratios = numerator / denominator
    ratios = ratios[np.isfinite(ratios)]
    if len(ratios) < 2:
        return None, None
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return float(low), float(high)
