"""A real sweep (real Locust, real cells, real report) against two FAKE servers given by URL:
a baseline streaming one token per step and an "SD" server streaming four per step."""

import csv
import json
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from loadgen import results
from loadgen.analysis.summary import summarize_cell
from loadgen.cell import run_cell
from loadgen.client.sink import read_parquet
from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.metrics.acceptance import Acceptance
from loadgen.results.io import write_cell_summary
from loadgen.sweep.plan import PlanError, load_plan
from loadgen.sweep.runner import cell_spec, pending_cells, redo_reason, run_sweep
from tests.fakes.fault_server import FaultPlan, FaultServer
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    base = FakeStreamingServer(Behaviour(ttft_s=0.02, step_s=0.01, tokens_per_chunk=1))
    sd = FakeStreamingServer(Behaviour(ttft_s=0.02, step_s=0.01, tokens_per_chunk=4))
    with base, sd:
        yield base.url, sd.url


def make_plan(tmp_path: Path, urls: tuple[str, str], **changes: object) -> Path:
    tiers = ["low_entropy", "mixed", "high_entropy"]
    prompts = [
        PreparedPrompt(f"{i:032d}", "1k", tiers[i % 3], None, 1000, [1, 5, 200 + i])
        for i in range(20)
    ]
    PreparedSet(prompts, {"source": "FAKE", "configs": ["throughput_1k"]}).write(
        tmp_path / "prepared"
    )
    plan = {
        "name": "fake-pair",
        "model": "fake-model",
        "data": "prepared",
        "servers": [
            {"name": "fake-base", "url": urls[0]},
            {"name": "fake-sd", "url": urls[1], "baseline": "fake-base", "speculative": "fake"},
        ],
        "buckets": ["1k"],
        "concurrencies": [1, 2],
        "osl": 24,
        "requests": 6,
        "warmup": 1,
        "slos": {"ttft_ms": 10000, "tpot_ms": 1000},
        **changes,
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_sweep_runs_reports_resumes_and_refuses_a_changed_plan(
    tmp_path: Path, servers: tuple[str, str]
) -> None:
    plan_path = make_plan(tmp_path, servers)
    out = tmp_path / "results"
    rows = run_sweep(load_plan(plan_path), plan_path.parent, out)

    overall = [r for r in rows if r.category == "all"]
    assert [(r.concurrency, r.variant) for r in overall] == [(1, "fake-sd"), (2, "fake-sd")]
    # Four tokens per step instead of one: SD is faster, and the interval says so.
    assert all(r.ci_low is not None and r.ci_low > 1 for r in overall)
    for name in ("report.html", "report.md", "speedup.csv", "summary.json"):
        assert (out / name).is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["plan"]["name"] == "fake-pair" and manifest["data"]["source"] == "FAKE"
    assert manifest["servers"]["fake-sd"]["baseline"] == "fake-base"
    assert manifest["harness"]["git_revision"]

    cells = sorted(out.glob("cells/*/1k/c*/r0"))
    assert len(cells) == 4
    done = {c: (c / "summary.json").stat().st_mtime_ns for c in cells}
    interrupted = out / "cells" / "fake-sd" / "1k" / "c2" / "r0"
    (interrupted / "summary.json").unlink()  # as if killed before the summary was written
    cut_short = out / "cells" / "fake-base" / "1k" / "c1" / "r0"
    summary = json.loads((cut_short / "summary.json").read_text())
    assert summary["server_stopped_answering"] is False
    summary["server_stopped_answering"] = True  # as if its engine had died mid-cell
    (cut_short / "summary.json").write_text(json.dumps(summary))
    done[cut_short] = (cut_short / "summary.json").stat().st_mtime_ns
    run_sweep(load_plan(plan_path), plan_path.parent, out)
    for cell in cells:
        again = (cell / "summary.json").stat().st_mtime_ns
        assert (again != done[cell]) == (cell in (interrupted, cut_short)), cell
    assert not json.loads((cut_short / "summary.json").read_text())["server_stopped_answering"]

    changed = make_plan(tmp_path, servers, osl=32)
    with pytest.raises(PlanError, match="different plan"):
        run_sweep(load_plan(changed), changed.parent, out)

    # the public results API reads the sweep back, typed and as DataFrames
    loaded = results.load(out)
    assert loaded.manifest is not None and loaded.manifest.plan["name"] == "fake-pair"
    assert len(loaded.cells) == 4 and {c.baseline for c in loaded.cells} == {None, "fake-base"}
    frame = loaded.cells_frame()
    assert set(frame["server"]) == {"fake-base", "fake-sd"} and "ttft_ms.p90" in frame
    requests = loaded.requests_frame()
    assert len(requests) == 4 * 6 and requests["ok"].all()
    sd = requests[requests["server"] == "fake-sd"]
    assert (sd["tokens_per_chunk"] > 3.5).all()  # the FAKE SD server streams four per step
    speedups = loaded.speedups_frame()
    assert {"bucket", "concurrency", "speedup_output_tps", "ci_low", "ci_high"} <= set(speedups)


def test_plan_needing_more_prompts_than_the_data_has_is_refused(
    tmp_path: Path, servers: tuple[str, str]
) -> None:
    plan_path = make_plan(tmp_path, servers, requests=50)
    with pytest.raises(PlanError, match="has 20 prompts; the plan needs 101"):
        run_sweep(load_plan(plan_path), plan_path.parent, tmp_path / "results")


def test_open_loop_rates_are_cells_keyed_by_rate_with_schedule_and_capacity(
    tmp_path: Path, servers: tuple[str, str]
) -> None:
    """Closed c=1 beside constant arrivals at 4/s (both keep up) and 40/s with at most 3 requests
    in flight: the baseline (~0.25 s a request) then needs ~10 and falls behind the schedule."""
    plan_path = make_plan(
        tmp_path, servers, concurrencies=[1], rates=[4, 40], arrivals="constant", max_in_flight=3
    )
    out = tmp_path / "results"
    rows = run_sweep(load_plan(plan_path), plan_path.parent, out)

    overall = [r for r in rows if r.category == "all"]
    assert [r.load.label for r in overall] == ["c=1", "rate=4.0/s constant", "rate=40.0/s constant"]
    cell = out / "cells" / "fake-base" / "1k" / "rate4.0-constant" / "r0"
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["concurrency"] is None and summary["load"]["rate_rps"] == 4.0
    assert summary["schedule"]["kept_up"], summary["schedule"]
    run = json.loads((cell / "manifest.json").read_text())["run"]
    assert run["rate"] == 4.0 and run["arrivals"] == "constant"
    records = read_parquet(cell / "requests.parquet")
    gaps = sorted(b.intended_send_ns - a.intended_send_ns for a, b in pairwise(
        sorted(records, key=lambda r: r.intended_send_ns)))  # fmt: skip
    assert gaps == [250_000_000] * 5  # 4/s on an absolute clock

    behind = json.loads(
        (out / "cells" / "fake-base" / "1k" / "rate40.0-constant" / "r0" / "summary.json")
        .read_text()
    )  # fmt: skip
    assert not behind["schedule"]["kept_up"] and "could not keep up" in " ".join(behind["flags"])

    with (out / "speedup.csv").open() as fh:
        by_load = {r["load"]: r for r in csv.DictReader(fh)}
    assert by_load["c=1"]["concurrency"] == "1" and by_load["c=1"]["rate_rps"] == ""
    assert by_load["rate=4.0/s constant"]["rate_rps"] == "4.0"
    assert by_load["rate=4.0/s constant"]["concurrency"] == ""
    # Four tokens per step: each request finishes sooner at the same rate, beyond the interval.
    assert float(by_load["rate=4.0/s constant"]["ci_low"]) > 1

    report = json.loads((out / "summary.json").read_text())
    capacity = {(c["server"], c["series"]): c for c in report["slo_capacity"]}
    assert capacity[("fake-base", "closed")]["load"] == "c=1"
    # Latency SLOs are met everywhere; 40/s fails only because the baseline fell behind.
    assert capacity[("fake-base", "open constant")]["load"] == "rate=4.0/s constant"
    assert capacity[("fake-base", "open constant")]["rate_rps"] == 4.0
    series = {(c["variant"], c["series"]): c for c in report["crossovers"]}
    assert series[("fake-sd", "open constant")]["rate_rps"] == "not reached"
    md = (out / "report.md").read_text()
    assert "| 1k | rate=40.0/s constant | fake-base |" in md
    assert "SERVER CAN'T KEEP UP" in md and "kept up (p99 lag" in md
    html = (out / "report.html").read_text()
    assert "rate=4.0/s constant" in html and "throughput-1k-open-constant" in html

    done = {c: c.stat().st_mtime_ns for c in out.glob("cells/*/1k/*/r0/summary.json")}
    assert len(done) == 2 * 3
    run_sweep(load_plan(plan_path), plan_path.parent, out)  # resumes: every cell is done
    assert {c: c.stat().st_mtime_ns for c in done} == done


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        (FaultPlan(["ok"] * 3 + ["cut"], metrics_broken_at=3, metrics_fault="reset"),
         "its closing metrics scrape failed"),
        (FaultPlan(["ok"] * 3 + ["cut"]), "its last request failed (truncated)"),
        (FaultPlan(["ok"] * 3 + ["reset"]), "its last request failed (connection)"),
        (FaultPlan(), None),
    ],
)  # fmt: skip
def test_a_cell_whose_server_went_away_at_its_last_request_is_redone_on_resume(
    tmp_path: Path, plan: FaultPlan, reason: str | None
) -> None:
    """Issue 17 item 4: one failed request at the tail (a kill during the last request) is not
    the two that count as "stopped answering", but the cell is damaged all the same."""
    with FaultServer(plan) as server:
        path = make_plan(tmp_path, (server.url, server.url), concurrencies=[1], requests=4,
                         warmup=0, osl=8)  # fmt: skip
        sweep = load_plan(path)
        (cell,) = pending_cells(sweep, tmp_path / "out", "fake-base")
        cell_dir = cell.directory(tmp_path / "out", "fake-base")
        (server_plan,) = [s for s in sweep.resolved_servers() if s.name == "fake-base"]
        data = (path.parent / sweep.data).resolve()
        summary = run_cell(cell_spec(sweep, server_plan, server.url, data, cell), cell_dir,
                           progress=False)  # fmt: skip
    assert not summary.server_stopped_answering
    if reason is None:
        assert redo_reason(cell_dir) is None
        assert pending_cells(sweep, tmp_path / "out", "fake-base") == []
    else:
        assert reason in str(redo_reason(cell_dir))
        assert pending_cells(sweep, tmp_path / "out", "fake-base") == [cell]
        assert not cell_dir.exists()  # cleared, to be redone


def test_a_cell_that_saw_foreign_requests_is_redone(tmp_path: Path) -> None:
    """Issue 17 item 5: an orphaned load generator's requests in the window."""
    cell_dir = tmp_path / "cell"
    cell_dir.mkdir()
    flag = "server finished 9 requests in the window, client sent 4: foreign traffic"
    summary = summarize_cell("fake-sd", "1k", 2, [], Acceptance(source="vllm"), None)
    summary.flags.append(flag)
    write_cell_summary(cell_dir, summary)
    assert "foreign traffic" in str(redo_reason(cell_dir))
