"""Held-out validation over repeats of a sweep (FAKE engine): each repeat's SD cell is judged on
its own repeat's baseline, measured and predicted."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.load.point import LoadPoint
from loadgen.predict.forecast import fit_all
from loadgen.predict.holdout import holdout
from loadgen.predict.observe import read_cells
from loadgen.predict.support import EXTRAPOLATED, INTERPOLATED
from tests.predict.fake_engine import Law, write_sweep

LAWS = [Law("base", noise=0.05), Law("sd", "base", a=9.0, b=0.9, k=3, noise=0.05)]
LOADS = [LoadPoint.closed(1), LoadPoint.closed(8), LoadPoint.open(6.0)]


def test_speedup_of_a_repeat_is_its_own_runs_ratio(tmp_path: Path) -> None:
    runs = [
        read_cells(write_sweep(tmp_path / f"run{r}", LAWS, ["1k"], LOADS, 40, 32, 100 * r))
        for r in (1, 2)
    ]
    ratios = sorted(
        sd.measured["tok_s"] / base.measured["tok_s"]
        for cells in runs
        for sd in cells
        for base in cells
        if sd.baseline == base.server and sd.load == base.load
    )
    rows = holdout([c for cells in runs for c in cells], "cell")["rows"]
    speedups = [r["speedup"] for r in rows if "speedup" in r]
    assert sorted(s["measured"] for s in speedups) == pytest.approx(ratios)
    assert len({round(s["measured"], 9) for s in speedups}) == len(ratios) == 2 * len(LOADS)


def test_own_acceptance_changes_the_sd_cells_only(tmp_path: Path) -> None:
    """The diagnostic simulates each SD cell with its own tokens per step; a baseline (width 1)
    is simulated as before, and an SD cell whose prompts drafted worse is predicted slower."""
    cells = read_cells(write_sweep(tmp_path, LAWS, ["1k"], LOADS, 40, 32, 7))
    sd = next(c for c in cells if c.server == "sd" and c.load == LOADS[1])
    worse = sd.step_tokens.copy()
    worse[1] += worse[2:].sum()  # every step accepts nothing
    model = fit_all(cells, 0, 0, None)["sd"].point
    assert model.with_acceptance("1k", worse).pmf("1k")[1] > 0.5 > model.pmf("1k")[1]
    base = fit_all(cells, 0, 0, None)["base"].point
    assert base.with_acceptance("1k", sd.step_tokens) is base
    plain, own = holdout(cells, "cell"), holdout(cells, "cell", own_acceptance=True)
    for a, b in zip(plain["rows"], own["rows"], strict=True):
        if a["server"] == "base":
            assert a["tok_s"]["predicted"] == b["tok_s"]["predicted"]


def test_held_out_rows_say_which_were_extrapolations(tmp_path: Path) -> None:
    """Leaving out the lowest or highest load makes that cell an extrapolation of the others
    (c=1 also takes the only requests that found the server idle); the ``inside`` summary is
    over the rest, the speedup row as supported as the weaker of its two cells."""
    loads = [LoadPoint.closed(1), LoadPoint.closed(2), LoadPoint.closed(4)]
    cells = read_cells(write_sweep(tmp_path, LAWS, ["1k"], loads, 24, 32))
    result = holdout(cells, "cell")
    kinds = {(r["server"], r["load"], "speedup" in r): r["support"] for r in result["rows"]}
    assert {k[1]: v["kind"] for k, v in kinds.items()} == {
        "c=1": EXTRAPOLATED,
        "c=2": INTERPOLATED,
        "c=4": EXTRAPOLATED,
    }
    low = kinds[("base", "c=1", False)]["reasons"]
    assert low[0] == "c=1 outside the measured closed loads (2-4); measure it"
    assert low[1].startswith("no request found the server idle")
    assert kinds[("sd", "c=4", True)] == kinds[("sd", "c=4", False)]
    for figure in ("tok_s", "speedup"):
        inside = [r for r in result["rows"] if figure in r and r["load"] == "c=2"]
        errors = result["errors"][figure]
        assert errors["cells"] == 3 * len(inside)
        assert errors["inside"]["cells"] == len(inside)
        assert errors["inside"]["max_abs"] == max(abs(r[figure]["error"]) for r in inside)
