"""Saturation, SLO capacity and overload against FAKE engines whose law fixes them (fake_engine.py).

A server that holds one sequence at a time (``batch_limit=1``, no context term) completes one
request per ``a + b + p * P/1000`` (its prefill step) ``+ (osl - 1) * (a + b)`` (its decode steps)
when it is never short of work: an exact rate. A batched server's is read off the FAKE engine's own
records under a permanent backlog, an implementation independent of the simulation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from loadgen.cli import main
from loadgen.load.point import LoadPoint
from loadgen.predict.capacity import Slo, batch_slots, saturation_rate, slo_rate
from loadgen.predict.holdout import holdout
from loadgen.predict.model import ServerModel, fit_server
from loadgen.predict.observe import CellObs, read_cells
from loadgen.predict.simulate import simulate
from tests.predict.fake_engine import FakeCell, Law, write_sweep

SERIAL = Law("serial", a=6.0, b=0.5, c=0.0, p=30.0, noise=0.02, batch_limit=1)
BATCHED = Law("batched", noise=0.03, batch_limit=8)
OSL = 64
SERIAL_RPS = 1000 / (SERIAL.a + SERIAL.b + SERIAL.p * 1.0 + (OSL - 1) * (SERIAL.a + SERIAL.b))
CLOSED = [LoadPoint.closed(c) for c in (1, 4, 16)]


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> list[CellObs]:
    out = tmp_path_factory.mktemp("capacity")
    return read_cells(write_sweep(out, [SERIAL, BATCHED], ["1k", "2k"], CLOSED, 64, OSL))


def _model(cells: list[CellObs], law: Law) -> ServerModel:
    return fit_server([c for c in cells if c.server == law.name])


def test_a_serial_servers_saturation_is_one_request_per_service_time(cells: list[CellObs]) -> None:
    model = _model(cells, SERIAL)
    assert model.batch_limit == 1 and batch_slots(model) == 1
    assert saturation_rate(model, "1k") == pytest.approx(SERIAL_RPS, rel=0.03)


def test_a_batched_servers_saturation_is_the_fake_engines_under_a_backlog(
    cells: list[CellObs],
) -> None:
    model = _model(cells, BATCHED)
    assert batch_slots(model) == BATCHED.batch_limit
    backlog = FakeCell(BATCHED, "1k", LoadPoint.closed(16), 240, OSL, seed=99).records()
    ends = np.sort([r.end_ns for r in backlog]) / 1e6
    lo, hi = len(ends) // 4, 3 * len(ends) // 4
    truth = 1000 * (hi - lo) / (ends[hi] - ends[lo])
    assert saturation_rate(model, "1k") == pytest.approx(truth, rel=0.05)
    assert saturation_rate(model, "2k") < saturation_rate(model, "1k")  # longer prefills


def test_slo_capacity_stays_below_saturation_however_loose_the_slo(cells: list[CellObs]) -> None:
    """A 400-request simulation just above saturation still meets a loose SLO while its queue
    grows; the capacity answer must not be such a rate."""
    model = _model(cells, BATCHED)
    ceiling = saturation_rate(model, "1k")
    loose = slo_rate(model, "1k", Slo(ttft_ms=1e9), ceiling=ceiling)
    assert 0.99 * ceiling <= loose < ceiling
    strict = Slo(ttft_ms=150.0)
    rate = slo_rate(model, "1k", strict, ceiling=ceiling)
    assert 0 < rate < loose
    assert strict.met(simulate(model, "1k", LoadPoint.open(rate), 400, seed=7).figures())
    assert not strict.met(simulate(model, "1k", LoadPoint.open(rate * 1.05), 400, seed=7).figures())


def test_an_open_loop_above_saturation_is_flagged_and_summarised_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rates = [LoadPoint.open(r) for r in (1.0, 2.0, 4.0)]  # 1k: utilization ~0.45, ~0.9, ~1.8
    loads = [LoadPoint.closed(1), LoadPoint.closed(4), *rates]
    sweep = write_sweep(tmp_path, [SERIAL], ["1k", "2k"], loads, 60, OSL)
    args = ["predict", str(sweep), "--draws", "2", "--holdout", "cell", "--ttft-ms", "2000",
            "--target-rps", "10"]  # fmt: skip
    assert main(args) == 0
    doc = json.loads((sweep / "prediction.json").read_text())
    saturation = {s["bucket"]: s["rate_rps"] for s in doc["saturation"]}
    assert saturation["1k"] == pytest.approx(SERIAL_RPS, rel=0.03)
    assert {s["batch_slots"] for s in doc["saturation"]} == {1}
    for p in doc["predictions"]:
        rate, used = p["load"]["rate_rps"], p["utilization"]
        expected = None if rate is None else rate / saturation[p["bucket"]]
        assert used == (None if expected is None else pytest.approx(expected))
        assert p["overloaded"] == (rate == 4.0)
    rows = {(r["bucket"], r["load"]): r for r in doc["validation"][0]["rows"]}
    assert sorted(k for k, r in rows.items() if r["overloaded"]) == [
        ("1k", "rate=4.0/s"),
        ("2k", "rate=4.0/s"),
    ]
    assert rows[("1k", "c=4")]["utilization"] is None
    assert 0.8 < rows[("1k", "rate=2.0/s")]["utilization"] < 1
    ttft = doc["validation"][0]["errors"]["ttft_p90_ms"]
    assert ttft["cells"] == len(rows) and ttft["steady"]["cells"] == len(rows) - 2
    steady = [abs(r["ttft_p90_ms"]["error"]) for r in rows.values() if not r["overloaded"]]
    assert ttft["steady"]["max_abs"] == pytest.approx(max(steady))
    cap = next(c for c in doc["capacity"] if c["bucket"] == "1k")
    assert cap["saturation_rps"] == saturation["1k"] and cap["max_rate_rps"] < saturation["1k"]
    assert cap["replicas"] == int(np.ceil(10 / cap["max_rate_rps"]))
    low, high = cap["interval"]
    row = (f"| serial | 1k | {saturation['1k']:.3g} | 1 | {cap['max_rate_rps']:.3g} | "
           f"{low:.3g}-{high:.3g} | {cap['replicas']} |")  # fmt: skip
    assert row in (sweep / "report.md").read_text()  # the report's predicted-capacity table
    assert (
        "<td>serial</td><td>1k</td><td>" + f"{saturation['1k']:.3g}</td>"
        in (sweep / "report.html").read_text()
    )
    out = capsys.readouterr().out
    assert f"saturation serial 1k: {saturation['1k']:.3g} req/s (batch slots: 1)" in out
    assert "! overloaded: an open loop at or above its saturation rate" in out
    assert "~ near saturation (utilization >= 80%)" in out
    marks = {
        tuple(line.split()[1:3]): line[-2:]
        for line in out.splitlines()
        if line.startswith("serial ")
    }
    assert marks[("1k", "rate=4.0/s")] == " !" and marks[("1k", "rate=2.0/s")] == " ~"
    assert marks[("1k", "rate=1.0/s")] not in (" !", " ~")
    assert marks[("1k", "c=4")] not in (" !", " ~")


def test_holdout_without_overload_has_no_overloaded_rows(cells: list[CellObs]) -> None:
    result = holdout([c for c in cells if c.server == BATCHED.name], "load")
    assert result["rows"] and not any(r["overloaded"] for r in result["rows"])
    for summary in result["errors"].values():
        every = {k: v for k, v in summary.items() if k not in ("steady", "inside")}
        assert summary["steady"] == every
