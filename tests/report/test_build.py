"""``speedbench report DIR`` over FAKE cells (tests/fakes/cells.py) in the layout a sweep writes."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.analysis.bootstrap import ALL
from tests.fakes.cells import FakeServer, write_results

SERVERS = [
    FakeServer("base"),
    FakeServer("sd-k2", "base", speculative="eagle", draft_tokens=2),
    FakeServer("sd-k4", "base", speculative="eagle", draft_tokens=4),
    FakeServer("sg-base", engine="sglang", step_ms=17),
    FakeServer(
        "sg-sd", "sg-base", engine="sglang", speculative="eagle", draft_tokens=3, step_ms=17
    ),
]
BUCKETS, CONCURRENCIES = ["1k", "8k"], [1, 4, 32]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = write_results(
        tmp_path_factory.mktemp("results"),
        SERVERS,
        BUCKETS,
        CONCURRENCIES,
        requests=48,
        repeats=2,
        slos={"ttft_ms": 500, "tpot_ms": 40, "percentile": "p90"},
    )
    return run_report(out)


def run_report(out: Path) -> Path:
    """``speedbench report OUT`` as a user runs it; OUT once it succeeded."""
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "report", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_speedup_csv_has_one_row_per_pair_and_cell_with_intervals(results: Path) -> None:
    with (results / "speedup.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * len(BUCKETS) * len(CONCURRENCIES)
    assert {r["category"] for r in rows} == {ALL}
    for r in rows:
        assert float(r["ci_low"]) <= float(r["speedup_output_tps"]) <= float(r["ci_high"])
        assert float(r["tpot_p90_ci_low"]) <= float(r["tpot_p90_ci_high"])
    with (results / "speedup_by_tier.csv").open() as fh:
        tiers = list(csv.DictReader(fh))
    assert len(tiers) == 3 * len(rows)


def test_summary_json_answers_the_capacity_questions(results: Path) -> None:
    summary = json.loads((results / "summary.json").read_text())
    assert {(c["variant"], c["bucket"]) for c in summary["crossovers"]} == {
        (v, b) for v in ("sd-k2", "sd-k4", "sg-sd") for b in BUCKETS
    }
    assert summary["slos"]["tpot_ms"] == 40
    assert len(summary["slo_capacity"]) == len(SERVERS) * len(BUCKETS)
    # Only the two eagle variants against `base` compete on draft length.
    assert {b["variant"] for b in summary["best_draft_length"]} <= {"sd-k2", "sd-k4"}
    assert len(summary["best_draft_length"]) == len(BUCKETS) * len(CONCURRENCIES)
    assert all(c["repeats"] == 2 for c in summary["cells"])


def test_markdown_prints_an_interval_next_to_every_ratio(results: Path) -> None:
    md = (results / "report.md").read_text()
    section = md.split("## Speedup of SD over its baseline")[1].split("\n## ")[0]
    lines = [
        line for line in section.splitlines() if line.startswith("| 1k") or line.startswith("| 8k")
    ]
    assert lines
    for line in lines:
        assert len(re.findall(r"\d\.\d\d \[\d+\.\d\d, \d+\.\d\d\]", line)) == 4, line
    for title in (
        "## Crossover",
        "## SLO capacity",
        "## Best draft length",
        "## Cells side by side",
    ):
        assert title in md


def test_html_is_self_contained_with_every_plot(results: Path) -> None:
    html = (results / "report.html").read_text()
    assert "<script" not in html and not re.search(r"(src|href)=[\"']?https?:", html)
    plots = set(re.findall(r'data-plot="([^"]+)"', html))
    expected = {f"heatmap-{v}" for v in ("sd-k2", "sd-k4", "sg-sd")}
    expected |= {f"{kind}-{b}" for kind in ("throughput", "pareto", "ttft_ms-cdf", "tpot_ms-cdf")
                 for b in BUCKETS}  # fmt: skip
    expected |= {"acceptance-per-position", "acceptance-per-category"}
    assert plots == expected


def test_console_table_prints_the_csv_figures_and_marks_open_loop_rows(tmp_path: Path) -> None:
    """The console table ``speedbench report`` prints is the speedup.csv rows, figure for
    figure; an open-loop row's speedup (per request) is marked, since it is not the ratio of
    the delivered tok/s beside it."""
    out = write_results(tmp_path, SERVERS[:2], ["1k"], [1, 4], requests=24, rates=(20.0,))
    proc = subprocess.run([sys.executable, "-m", "loadgen.cli", "report", str(out)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    table = {tuple(line.split()[:2]): line.split() for line in proc.stdout.splitlines()
             if line.split()[:1] == ["1k"]}  # fmt: skip
    with (out / "speedup.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(table) == 3
    for r in rows:
        cells = table[("1k", r["load"])]
        assert cells[2] == f"{float(r['baseline_output_tps']):.1f}"
        assert cells[3] == f"{float(r['variant_output_tps']):.1f}"
        speedup = f"{float(r['speedup_output_tps']):.2f}"
        assert cells[4] == (speedup + "+" if r["load"].startswith("rate=") else speedup)
    assert "+ open loop: base and SD tok/s are the delivered (window) rates" in proc.stdout
