"""Requests differ in how well they draft (FAKE engine, two domains accepting 0.8 and 0.3 with
k=3, in turn per request): the fit keeps each request's steps per token, and the simulation draws
them per request, so the tail of TPOT and E2E across requests is the engine's; drawn step by step
from the pooled distribution every request would pace alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from loadgen.cli import main
from loadgen.load.point import LoadPoint
from loadgen.predict.model import fit_server
from loadgen.predict.observe import read_cell, read_cells
from loadgen.predict.simulate import simulate
from tests.predict.fake_engine import FakeCell, Law, write_sweep

LAW = Law("sd", k=3, noise=0.05, categories=(("code", 0.8), ("chat", 0.3)))
LOADS = [LoadPoint.closed(1), LoadPoint.closed(4)]


def test_each_requests_steps_per_token_are_read_and_spread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = write_sweep(tmp_path, [LAW], ["1k"], LOADS, 60, 64)
    cells = read_cells(sweep)
    per_request = np.concatenate([c.steps_per_token for c in cells])
    assert len(per_request) >= 0.9 * sum(len(c.prompts) for c in cells)
    # 1 + a + a^2 + a^3 tokens per step: 2.95 (code), 1.39 (chat); their steps per token apart
    code, chat = 1 / 2.952, 1 / 1.39
    assert np.quantile(per_request, 0.25) == pytest.approx(code, rel=0.15)
    assert np.quantile(per_request, 0.75) == pytest.approx(chat, rel=0.15)
    model = fit_server(cells)
    lo, hi = model.describe()["request_steps_per_token_p10_p90_relative"]["1k"]
    mean = (code + chat) / 2
    assert lo == pytest.approx(code / mean, rel=0.15) and hi == pytest.approx(chat / mean, rel=0.15)
    assert main(["predict", str(sweep), "--draws", "0"]) == 0
    shown = f"a request's steps per token, p10-p90 x the mean: 1k: {lo:.2f}-{hi:.2f}"
    assert shown in capsys.readouterr().out


def test_the_tail_across_requests_is_predicted_with_the_spread(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "fit", [LAW], ["1k"], LOADS, 120, 64)
    model = fit_server(read_cells(sweep))
    load = LoadPoint.closed(4)
    truth = read_cell(FakeCell(LAW, "1k", load, 400, 64, seed=77).write(tmp_path) / "summary.json")
    alike = replace(model, step_spread={})
    got, flat = (simulate(m, "1k", load, 400, truth.osl, seed=5).figures() for m in (model, alike))
    for figure in ("tpot_p90_ms", "e2e_p90_ms"):
        assert got[figure] == pytest.approx(truth.measured[figure], rel=0.06), figure
        assert abs(flat[figure] / truth.measured[figure] - 1) > 0.15, figure  # the old draw
    assert got["tok_s"] == pytest.approx(truth.measured["tok_s"], rel=0.05)


def test_a_server_that_never_drafts_has_no_spread(tmp_path: Path) -> None:
    cells = read_cells(write_sweep(tmp_path, [Law("base", noise=0.05)], ["1k"], LOADS, 30, 32))
    model = fit_server(cells)
    assert (
        model.step_spread == {} and model.draw_step_scales("1k", 3, np.random.default_rng()) is None
    )
