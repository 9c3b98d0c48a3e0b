"""Validation on another sweep (``speedbench predict DIR --against OTHER``), FAKE engine: a repeat
of the same law is predicted within the goals, a load only the other sweep measured too, a
slower law is not; where both sweeps measured a cell, re-measuring's error is exactly the two
measurements' ratio."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from loadgen.cli import main
from loadgen.load.point import LoadPoint
from loadgen.predict.against import NothingToJudge, against
from loadgen.predict.forecast import fit_all
from loadgen.predict.launches import launch_differences
from loadgen.predict.observe import CellObs, read_cells
from loadgen.results.io import write_sweep_manifest
from loadgen.results.schemas import SweepManifest
from tests.predict.fake_engine import Law, write_sweep

BASE = Law("base", noise=0.05)
SD = Law("sd", "base", a=9.0, b=0.9, k=3, noise=0.05)
FITTED_LOADS = [LoadPoint.closed(1), LoadPoint.closed(8), LoadPoint.open(6.0)]
OTHER_LOADS = [*FITTED_LOADS, LoadPoint.closed(4)]  # c=4: never measured by the first sweep


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("first"), [BASE, SD], ["1k"], FITTED_LOADS, 80)


@pytest.fixture(scope="module")
def repeat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("repeat")
    return write_sweep(out, [BASE, SD], ["1k"], OTHER_LOADS, 80, first_seed=500)


def _judged(first: Path, other: Path) -> dict:
    cells = read_cells(first)
    models = {s: f.point for s, f in fit_all(cells, 0, 0, None).items()}
    return against(models, cells, read_cells(other), str(other))


def test_a_repeat_of_the_law_is_predicted_within_the_goals(first: Path, repeat: Path) -> None:
    doc = _judged(first, repeat)
    assert doc["mode"] == "sweep" and doc["against"] == str(repeat)
    errors = doc["errors"]
    assert errors["tok_s"]["cells"] == 2 * len(OTHER_LOADS)
    assert errors["speedup"]["cells"] == len(OTHER_LOADS)
    assert errors["tok_s"]["median_abs"] < 0.05 and errors["tok_s"]["max_abs"] < 0.1
    assert errors["speedup"]["max_abs"] < 0.1
    unseen = [r for r in doc["rows"] if r["load"] == "c=4"]
    assert len(unseen) == 3  # base, sd and the speedup
    assert all(r["remeasured"] == {} for r in unseen)
    assert all(abs(r["tok_s"]["error"]) < 0.1 for r in unseen if "tok_s" in r)


def test_remeasuring_is_the_two_measurements_ratio(first: Path, repeat: Path) -> None:
    doc = _judged(first, repeat)
    a, b = _by_key(read_cells(first)), _by_key(read_cells(repeat))
    checked = 0
    for row in doc["rows"]:
        key = (row["server"], row["bucket"], row["load"])
        if key not in a:
            continue
        if "speedup" in row:
            base = (BASE.name, row["bucket"], row["load"])
            was = a[key].measured["tok_s"] / a[base].measured["tok_s"]
            now = b[key].measured["tok_s"] / b[base].measured["tok_s"]
            assert row["remeasured"]["speedup"] == pytest.approx(was / now - 1, abs=1e-12)
        else:
            for f in ("tok_s", "tpot_mean_ms", "ttft_p90_ms"):
                want = a[key].measured[f] / b[key].measured[f] - 1
                assert row["remeasured"][f] == pytest.approx(want, abs=1e-12)
        checked += 1
    assert checked == 3 * len(FITTED_LOADS)
    summary = doc["remeasured"]["tok_s"]
    assert summary["cells"] == 2 * len(FITTED_LOADS)
    assert 0 < summary["median_abs"] <= summary["max_abs"]  # the engine's noise, redrawn


def _by_key(cells: list[CellObs]) -> dict[tuple[str, str, str], CellObs]:
    return {(c.server, c.bucket, c.load.label): c for c in cells}


def test_a_slower_engine_is_caught(first: Path, tmp_path: Path) -> None:
    """The other sweep's engine steps 60% slower: the model fitted before misses it."""
    slow = [replace(law, a=law.a * 1.6, b=law.b * 1.6) for law in (BASE, SD)]
    other = write_sweep(tmp_path, slow, ["1k"], FITTED_LOADS, 80, first_seed=900)
    doc = _judged(first, other)
    closed = [r for r in doc["rows"] if "tok_s" in r and r["load"].startswith("c=")]
    assert len(closed) == 4  # an open loop's tok/s is its arrival rate's, whatever the engine
    assert min(r["tok_s"]["error"] for r in closed) > 0.15  # predicted faster than it ran


def test_a_sweep_of_other_servers_is_refused_by_name(first: Path, tmp_path: Path) -> None:
    other = write_sweep(tmp_path, [Law("stranger")], ["1k"], FITTED_LOADS[:1], 20)
    with pytest.raises(NothingToJudge, match=r"none of its servers \(stranger\) was fitted"):
        _judged(first, other)


def test_cli_prints_and_writes_the_validation(
    first: Path, repeat: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", str(first), "--draws", "0", "--against", str(repeat)]) == 0
    doc = json.loads((first / "prediction.json").read_text())
    (validation,) = doc["validation"]
    assert validation["mode"] == "sweep" and validation["remeasured"]["speedup"]["cells"] == 3
    out = capsys.readouterr().out
    assert f"sweep {repeat} tok_s: median |err|" in out
    assert f"sweep {repeat} speedup, the 3 cells measured in both: the model" in out
    assert validation["launch_differences"] == [
        f"{first} has no sweep manifest: launches, model and machine not compared"
    ]
    assert f"! sweep {repeat}, matched by server name: {first} has no sweep manifest" in out


def _manifest(draft_tokens: int, isa: list[str]) -> SweepManifest:
    """A sweep manifest of the FAKE servers as a sweep writes one (the fields compared)."""
    sd = {"method": "ngram", "num_speculative_tokens": draft_tokens}
    server = {"engine": "fake", "version": {"version": "1.0"}, "variant": {"args": ["--seed", "0"]}}
    return SweepManifest(
        plan={},
        plan_sha256="0" * 64,
        model={"model_sha256": "ab" * 32, "config_sha256": "cd" * 32},
        host={"cpu": "AMD EPYC", "cpu_isa": isa, "cores": 2},
        servers={
            "base": server,
            "sd": {**server, "variant": {**server["variant"], "speculative": sd}},  # type: ignore[dict-item]
        },
    )


def test_launches_that_differ_are_named_before_the_errors(
    first: Path, repeat: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cells are matched by server name: an SD server launched with 5 draft tokens instead of 3
    on a CPU with AVX-512 is named as such (and nothing else is); identical launches are not."""
    here, there = tmp_path / "here", tmp_path / "there"
    shutil.copytree(first, here)
    shutil.copytree(repeat, there)
    write_sweep_manifest(here, _manifest(3, ["avx2"]))
    write_sweep_manifest(there, _manifest(3, ["avx2"]))
    assert launch_differences(here, there, ["base", "sd"]) == []
    write_sweep_manifest(there, _manifest(5, ["avx2", "avx512f"]))
    assert main(["predict", str(here), "--draws", "0", "--against", str(there)]) == 0
    (validation,) = json.loads((here / "prediction.json").read_text())["validation"]
    assert validation["launch_differences"] == [
        "CPU instruction sets [avx2] here, [avx2 avx512f] there",
        "sd: speculative decoding {'method': 'ngram', 'num_speculative_tokens': 3} here, "
        "{'method': 'ngram', 'num_speculative_tokens': 5} there",
    ]
    assert validation["errors"]["tok_s"]["cells"] == 8  # still judged: the reader was told
    out = capsys.readouterr().out
    assert f"! sweep {there}, matched by server name: CPU instruction sets [avx2] here" in out


def test_a_dir_without_cells_is_refused_before_any_prediction(
    first: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    here = tmp_path / "here"
    shutil.copytree(first, here)
    (here / "prediction.json").unlink(missing_ok=True)
    assert main(["predict", str(here), "--draws", "0", "--against", str(tmp_path / "none")]) == 2
    assert f"no cells (*/summary.json with requests.parquet) under {tmp_path / 'none'}" in (
        capsys.readouterr().err
    )
    assert not (here / "prediction.json").exists()  # refused: no prediction written
