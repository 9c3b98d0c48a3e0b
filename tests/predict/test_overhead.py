"""``o`` measured (loadgen/predict/overhead.py): client E2E minus the engine's own request latency,
against a FAKE engine (fake_engine.py) whose scrapes carry its true latency, so the truth is
o + 0.1 ms (its client reads the last chunk 0.1 ms after the step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadgen.load.point import LoadPoint
from loadgen.predict.model import OVERHEAD_FITTED, fit_server
from loadgen.predict.observe import read_cell, read_cells
from loadgen.predict.overhead import measured_overhead_ms
from tests.predict.fake_engine import FakeCell, Law, latency_exposition

LAW = Law("base", o=7.0, noise=0.05)
LOADS = [LoadPoint.closed(c) for c in (1, 4, 16)]


def _sweep(out: Path, scraped_after: int | None) -> Path:
    for k, (bucket, load) in enumerate((b, ld) for b in ("1k", "2k") for ld in LOADS):
        FakeCell(LAW, bucket, load, 80, 48, 1 + k, scraped_after=scraped_after).write(out)
    return out


def test_o_is_the_engines_latency_gap_and_the_fit_keeps_it(tmp_path: Path) -> None:
    cells = read_cells(_sweep(tmp_path, scraped_after=37))
    for cell in cells:
        assert cell.overhead_ms == pytest.approx(LAW.o + 0.1, abs=1e-3)
    model = fit_server(cells)
    assert model.coef["o"] == pytest.approx(LAW.o + 0.1, abs=1e-3)
    assert model.describe()["overhead_source"].startswith("measured")
    for name in ("a", "b", "p"):  # the others still fit the law, around the measured o
        assert model.coef[name] == pytest.approx(getattr(LAW, name), rel=0.12), name


def test_without_scrapes_o_is_fitted(tmp_path: Path) -> None:
    cells = read_cells(_sweep(tmp_path, scraped_after=None))
    assert all(c.overhead_ms is None for c in cells)
    assert fit_server(cells).describe()["overhead_source"] == OVERHEAD_FITTED


def test_a_window_that_saw_other_requests_or_an_engine_without_the_histogram_measures_nothing(
    tmp_path: Path,
) -> None:
    cell = FakeCell(LAW, "1k", LoadPoint.closed(4), 40, 32, 3, scraped_after=0).write(tmp_path)
    e2e = read_cell(cell / "summary.json").overhead_ms
    assert e2e == pytest.approx(LAW.o + 0.1, abs=1e-3)
    client = np.full(40, 100.0)
    assert measured_overhead_ms(cell, "trtllm", client) is None  # declares no latency histogram
    (cell / "metrics_after.txt").write_text(latency_exposition(41, 4.0))  # one request not ours
    assert read_cell(cell / "summary.json").overhead_ms is None
