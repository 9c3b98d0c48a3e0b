"""The report's predicted section (loadgen/report/predicted.py, ``refresh_prediction``): re-rendered
alone while the rest of the report is current, exactly as a whole rebuild would write it, and the
whole report rebuilt once a cell is newer than it. FAKE cells (tests/fakes/cells.py)."""

import json
import os
import time
from pathlib import Path

from loadgen.report.build import build_report, refresh_prediction
from loadgen.report.predicted import BEGIN, END
from tests.fakes.cells import FakeServer, write_results

SENTINEL = "\nsentinel: written by the test outside the predicted section\n"


def prediction(rate: float) -> dict[str, object]:
    """The smallest prediction.json the section renders: one saturation entry, no SLO."""
    saturation = {"server": "base", "bucket": "1k", "rate_rps": rate, "batch_slots": 4}
    return {"kind": "FAKE prediction", "predictions": [], "saturation": [saturation], "slo": {}}


def row(rate: float) -> str:
    return f"| base | 1k | {rate:.3g} | 4 | n/a | n/a | n/a |"


def test_predict_re_renders_only_its_section_and_matches_a_whole_rebuild(tmp_path: Path) -> None:
    servers = [FakeServer("base"), FakeServer("sd", "base", speculative="eagle", draft_tokens=3)]
    results = write_results(tmp_path / "r", servers, ["1k"], [1, 4], requests=24)
    past = time.time() - 60  # the cells were written well before the report
    for f in results.rglob("*"):
        os.utime(f, (past, past))
    build_report(results)
    md, page = results / "report.md", results / "report.html"
    assert BEGIN in md.read_text() and END in page.read_text()  # empty section, markers ready

    (results / "prediction.json").write_text(json.dumps(prediction(1.25)))
    md.write_text(md.read_text() + SENTINEL)
    refresh_prediction(results)
    text = md.read_text()
    assert SENTINEL in text  # the measured part was not rebuilt
    assert row(1.25) in text and "<td>base</td><td>1k</td><td>1.25</td>" in page.read_text()
    spliced = (text.replace(SENTINEL, ""), page.read_text())
    build_report(results)
    assert (md.read_text(), page.read_text()) == spliced  # what a whole rebuild writes

    (results / "prediction.json").write_text(json.dumps(prediction(2.5)))
    refresh_prediction(results)
    text = md.read_text()
    assert row(2.5) in text and row(1.25) not in text and text.count(BEGIN) == 1

    cell = next(results.rglob("requests.parquet"))
    later = time.time() + 60  # a cell newer than the report: its measured part is stale
    os.utime(cell, (later, later))
    md.write_text(md.read_text() + SENTINEL)
    refresh_prediction(results)
    assert SENTINEL not in md.read_text() and row(2.5) in md.read_text()
