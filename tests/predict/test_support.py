"""Which predicted points rest on measurements and which are extrapolated (FAKE engine cells)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen.cli import main
from loadgen.load.point import LoadPoint
from loadgen.predict.observe import CellObs, read_cells
from loadgen.predict.support import (
    EXTRAPOLATED,
    INTERPOLATED,
    MEASURED,
    MIN_IDLE,
    Support,
    idle_buckets,
    support,
    weakest,
)
from tests.predict.fake_engine import Law, write_sweep
from tests.predict.test_predict import _svg

BASE = Law("base", noise=0.05)
SD = Law("sd", "base", a=9.0, b=0.9, k=3, noise=0.05)
LOADS = [LoadPoint.closed(1), LoadPoint.closed(4), LoadPoint.open(3.0)]


@pytest.fixture(scope="module")
def one_bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("one"), [BASE, SD], ["1k"], LOADS, 24, osl=32)


def _base(path: Path) -> list[CellObs]:
    return [c for c in read_cells(path) if c.server == "base"]


def test_measured_interpolated_and_extrapolated_points(one_bucket: Path) -> None:
    cells = _base(one_bucket)
    assert support(cells, "1k", LoadPoint.closed(4)).kind == MEASURED
    assert support(cells, "1k", LoadPoint.closed(4), category="code").kind == INTERPOLATED
    assert support(cells, "1k", LoadPoint.closed(2)).kind == INTERPOLATED
    assert support(cells, "1k", LoadPoint.open(3.0)).kind == MEASURED
    slower = support(cells, "1k", LoadPoint.open(2.0))
    assert slower.reasons == (
        "rate=2.0/s outside the measured open poisson loads (3 only); measure it",
    )
    beyond = support(cells, "1k", LoadPoint.closed(16))
    assert beyond.kind == EXTRAPOLATED
    assert beyond.reasons == ("c=16 outside the measured closed loads (1-4); measure it",)
    gamma = support(cells, "1k", LoadPoint.open(3.0, "gamma", 0.5))
    assert gamma.reasons == (
        "rate=3.0/s gamma b=0.5: no open gamma b=0.5 cell measured; measure one",
    )
    other = support(cells, "4k", LoadPoint.closed(2))
    assert other.kind == EXTRAPOLATED and len(other.reasons) == 1
    assert "only 1k measured" in other.reasons[0] and "measure a second bucket" in other.reasons[0]
    longer = support(cells, "1k", LoadPoint.closed(4), osl=500)
    assert longer.kind == EXTRAPOLATED
    assert longer.reasons[0].startswith("output length 500 outside the measured")
    assert support(cells, "1k", LoadPoint.closed(4), osl=32).kind == INTERPOLATED


def test_buckets_between_the_measured_ones_are_interpolated(tmp_path: Path) -> None:
    cells = _base(write_sweep(tmp_path, [BASE], ["1k", "4k"], LOADS[:2], 12, osl=16))
    assert support(cells, "2k", LoadPoint.closed(4)).kind == INTERPOLATED
    far = support(cells, "8k", LoadPoint.closed(8))
    assert far.reasons == (
        "bucket 8k outside the measured 1k-4k; measure 8k",
        "c=8 outside the measured closed loads (1-4); measure it",
    )


def test_without_requests_that_found_the_server_idle_the_prefill_is_extrapolated(
    tmp_path: Path,
) -> None:
    """Closed loops of 2 and 4 users never leave the engine idle: no TTFT pins the prefill, so
    even a concurrency between the measured ones is extrapolated, and says to measure c=1; a c=1
    cell in 1k pins 1k (and what lies between pinned buckets), not 2k."""
    busy = [LoadPoint.closed(2), LoadPoint.closed(4)]
    cells = _base(write_sweep(tmp_path / "busy", [BASE], ["1k", "2k"], busy, 24, osl=32))
    assert idle_buckets(cells) == []
    assert support(cells, "1k", LoadPoint.closed(4)).kind == MEASURED
    between = support(cells, "1k", LoadPoint.closed(3))
    assert between == Support(
        EXTRAPOLATED,
        ("no request found the server idle (no c=1 or open-loop cell), so prefill per token "
         "rests on decode steps alone; measure 1k at c=1",),
    )  # fmt: skip
    alone = _base(write_sweep(tmp_path / "alone", [BASE], ["1k"], [LoadPoint.closed(1)], 24, 32))
    assert sum(len(c.idle_ttft) for c in alone) >= MIN_IDLE
    pinned = cells + alone
    assert idle_buckets(pinned) == ["1k"]
    assert support(pinned, "1k", LoadPoint.closed(3)).kind == INTERPOLATED
    assert support(pinned, "2k", LoadPoint.closed(3)).reasons == (
        "bucket 2k: requests found the server idle in 1k only, so its prefill rests on decode "
        "steps; measure 2k at c=1",
    )
    assert support(pinned, "2k", LoadPoint.closed(4)).kind == MEASURED


def test_suggest_puts_c1_first_where_no_request_found_the_server_idle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refits of the same busy cells share one guess at the prefill, so their intervals do not
    ask for c=1; --suggest does, per bucket, before the widest intervals."""
    busy = [LoadPoint.closed(2), LoadPoint.closed(4)]
    sweep = write_sweep(tmp_path, [BASE, SD], ["1k", "2k"], busy, 16, osl=16)
    assert main(["predict", str(sweep), "--draws", "3", "--suggest", "3"]) == 0
    doc = json.loads((sweep / "prediction.json").read_text())
    first, second, third = doc["suggest"]
    for got, bucket in ((first, "1k"), (second, "2k")):
        assert (got["bucket"], got["load"]) == (bucket, "c=1")
        assert (
            got["reason"]
            == f"pins the prefill of base, sd (too few requests found it idle in {bucket})"
        )
    widths: dict[tuple[str, str], float] = {}
    for p in doc["predictions"]:
        if p["measured"] is None and p["load"]["label"] != "c=1":
            low, high = p["predicted"]["intervals"]["tok_s"]
            key = (p["bucket"], p["load"]["label"])
            widths[key] = widths.get(key, 0.0) + (high - low) / p["predicted"]["tok_s"]
    assert third["reason"] == "widest tok/s interval"
    assert (third["bucket"], third["load"]) == max(widths, key=lambda k: widths[k])
    out = capsys.readouterr().out
    assert (
        "measure next: 1k c=1: pins the prefill of base, sd (too few requests found it idle" in out
    )
    assert "prefill pinned by the TTFTs of requests that found it idle: none (no c=1" in out


def test_the_weakest_support_carries_every_reason() -> None:
    far = Support(EXTRAPOLATED, ("c=16 outside", "bucket 8k outside"))
    assert weakest(Support(MEASURED), Support(INTERPOLATED)) == Support(INTERPOLATED)
    assert weakest(far, Support(MEASURED), Support(EXTRAPOLATED, ("c=16 outside",))) == far


def test_cli_marks_extrapolated_points_in_json_console_and_report(
    one_bucket: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["predict", str(one_bucket), "--draws", "2", "--bucket", "4k", "--ttft-ms", "300"]
    assert main(args) == 0
    doc = json.loads((one_bucket / "prediction.json").read_text())
    kinds = {(p["server"], p["bucket"], p["load"]["label"]): p["support"]["kind"]
             for p in doc["predictions"]}  # fmt: skip
    assert kinds[("sd", "1k", "c=4")] == MEASURED and kinds[("sd", "1k", "c=2")] == INTERPOLATED
    assert kinds[("sd", "1k", "c=16")] == EXTRAPOLATED  # the ladder goes to 4x the largest c
    assert {k for (_, b, _), k in kinds.items() if b == "4k"} == {EXTRAPOLATED}
    for c in doc["capacity"]:  # only 3 req/s was measured: other rates are extrapolated
        assert (c["support"]["kind"] == EXTRAPOLATED) == (c["max_rate_rps"] != 3.0), c
    out = capsys.readouterr().out
    assert f"SLO capacity base 1k: {doc['capacity'][0]['max_rate_rps']:.2f} req/s" in out
    assert any(line.startswith("SLO capacity base 1k") and line.endswith(" *")
               for line in out.splitlines())  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith("base") and " c=16 " in line)
    assert row.endswith(" *")
    assert "* extrapolated, base: c=16 outside the measured closed loads (1-4); measure it" in out
    idle = sum(len(c.idle_ttft) for c in _base(one_bucket))
    assert doc["models"]["base"]["idle_requests"] == {"1k": idle} and idle >= MIN_IDLE
    assert f"  prefill pinned by the TTFTs of requests that found it idle: 1k {idle}\n" in out
    page = (one_bucket / "report.html").read_text()
    assert "extrapolated: c=8, 16" in _svg(page, "predicted-tok_s-1k")
    assert "all extrapolated" in _svg(page, "predicted-speedup-4k")
