"""Every metrics setting of a plan reaches its cells: an SD server read through a REAL
Prometheus (`prometheus_url`), and one with two replica endpoints (`replica_metrics_urls`).
The FAKE SD server counts vLLM-named SD counters as it streams (one draft per chunk, every
token after the chunk's first accepted), so the engine's figures equal the client's exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen.sweep.plan import load_plan
from loadgen.sweep.runner import run_cells
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.prometheus_server import running_prometheus
from tests.sweep.test_runner import make_plan

SD = Behaviour(ttft_s=0.02, step_s=0.01, tokens_per_chunk=4)


def only_cell(out: Path, server: str) -> dict:
    (summary,) = (out / "cells" / server).rglob("summary.json")
    return json.loads(summary.read_text())


@pytest.mark.prometheus
def test_a_sweep_reads_acceptance_through_prometheus(tmp_path: Path) -> None:
    with FakeStreamingServer(SD) as sd:
        target = sd.url.removeprefix("http://")
        with running_prometheus([target], "/metrics", tmp_path / "prom") as prom:
            plan = make_plan(
                tmp_path, ("", ""), concurrencies=[2],
                servers=[{"name": "fake-sd", "url": sd.url, "prometheus_url": prom}],
            )  # fmt: skip
            run_cells(load_plan(plan), tmp_path, tmp_path / "out")
    summary = only_cell(tmp_path / "out", "fake-sd")
    acceptance = summary["acceptance"]
    assert acceptance["source"].endswith("via PromQL increase()"), acceptance
    assert "promql_window" in summary["metrics_window"]
    assert acceptance["accepted_tokens"] == summary["client_accepted_tokens"]
    assert (
        summary["metrics_window"]["direct_acceptance"]["accepted_tokens"]
        == (acceptance["accepted_tokens"])
    )  # the direct scrape of the same window: the cross-check agrees to the token
    assert summary["flags"] == []


def test_a_sweep_sums_two_replica_endpoints(tmp_path: Path) -> None:
    with FakeStreamingServer(SD) as sd, FakeStreamingServer(SD) as idle_replica:
        server = {
            "name": "fake-sd",
            "url": sd.url,
            "metrics_url": sd.url + "/metrics",
            "replica_metrics_urls": [idle_replica.url + "/metrics"],
        }
        plan = make_plan(tmp_path, ("", ""), concurrencies=[2], servers=[server])
        run_cells(load_plan(plan), tmp_path, tmp_path / "out")
    (cell,) = {p.parent for p in (tmp_path / "out" / "cells").rglob("summary.json")}
    assert (cell / "metrics_before_1.txt").is_file() and (cell / "metrics_after_1.txt").is_file()
    summary = only_cell(tmp_path / "out", "fake-sd")
    # the idle replica adds nothing: the sum is the busy one's, equal to the client's count
    assert summary["acceptance"]["accepted_tokens"] == summary["client_accepted_tokens"] > 0
    assert summary["server_counters"]["generation_tokens"] == summary["output_tokens"]
