"""The metrics window over a FAKE page replaying SGLang fixtures (direct scrape + sampler)."""

import time
from pathlib import Path

import pytest

from loadgen.metrics import sglang, trtllm, vllm
from loadgen.metrics.collect import MetricsWindow, poll_url
from tests.fakes.exposition_server import Exposition, serving
from tests.fakes.fault_server import FaultPlan, FaultServer
from tests.metrics.test_adapters import SGLANG


def test_poll_url_swaps_the_metrics_path_for_the_poll_path() -> None:
    assert poll_url("http://h:8000/prometheus/metrics", trtllm.ADAPTER) == "http://h:8000/metrics"
    assert poll_url("http://h:30000/metrics", sglang.ADAPTER) == "http://h:30000/metrics"


def test_sglang_window_polls_and_estimates(tmp_path: Path) -> None:
    page = Exposition(SGLANG[0])
    with serving(page) as url:
        window = MetricsWindow(sglang.ADAPTER, (url + "/metrics",), poll_interval_s=60)
        window.open(tmp_path)
        page.set(SGLANG[3])  # the load ran: 800 tokens at AL 2.0 / rate 0.25 (last interval)
        result = window.close(tmp_path)
    acc = result.acceptance
    assert acc.estimate and acc.drafts == pytest.approx(400)
    assert acc.accepted_tokens == pytest.approx(400) and acc.draft_tokens == pytest.approx(1600)
    assert result.counters is not None and result.counters.generation_tokens == 800
    assert (tmp_path / "metrics_before.txt").read_text() == SGLANG[0]
    assert len((tmp_path / "polls.jsonl").read_text().splitlines()) == 2


def test_no_endpoint_and_no_prometheus_gives_a_sourceless_record(tmp_path: Path) -> None:
    window = MetricsWindow(vllm.ADAPTER)
    window.open(tmp_path)
    result = window.close(tmp_path)
    assert result.acceptance.source.startswith("none") and result.counters is None


def test_engine_dying_mid_cell_keeps_a_summary_with_the_reason(tmp_path: Path) -> None:
    with serving(Exposition(SGLANG[0])) as url:
        window = MetricsWindow(vllm.ADAPTER, (url + "/metrics",))
        window.open(tmp_path)
    result = window.close(tmp_path)  # the server is gone
    assert result.acceptance.source.startswith("none") and result.counters is None
    [flag] = result.flags
    assert flag.startswith("engine metrics missing for this cell: cannot scrape engine metrics")
    assert "after the cell" in flag and "client-side only" in flag


def test_a_hung_metrics_endpoint_costs_one_scrape_timeout_and_is_flagged(tmp_path: Path) -> None:
    plan = FaultPlan(metrics_broken_at=0, metrics_fault="hang")
    with FaultServer(plan) as server:
        window = MetricsWindow(vllm.ADAPTER, (server.url + "/metrics",), scrape_timeout_s=0.5)
        window.open(tmp_path)
        server.state.arrived = 1  # as if the load had begun: /metrics hangs from now on
        started = time.monotonic()
        result = window.close(tmp_path)
        elapsed = time.monotonic() - started
    # one 0.5 s timeout, not two: measured 0.50-0.61 s (12 runs, load average 0.7-5.1)
    assert elapsed < 0.95
    assert result.acceptance.source.startswith("none") and result.counters is None
    assert "Read timed out" in result.flags[0] and "metrics endpoint hung" in result.flags[0]


def test_a_hung_endpoint_before_the_load_refuses_the_cell_within_the_timeout(
    tmp_path: Path,
) -> None:
    with FaultServer(FaultPlan(metrics_broken_at=-1)) as server:
        window = MetricsWindow(vllm.ADAPTER, (server.url + "/metrics",), scrape_timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=r"before the cell.*--no-metrics"):
            window.open(tmp_path)
        elapsed = time.monotonic() - started  # the server's shutdown (~0.5 s poll) left out
    assert elapsed < 0.95  # one 0.5 s timeout, not two: measured 0.50-0.52 s


def test_unreachable_endpoint_fails_before_the_load_naming_the_fix(tmp_path: Path) -> None:
    window = MetricsWindow(vllm.ADAPTER, ("http://127.0.0.1:9/metrics",))
    with pytest.raises(RuntimeError, match=r"127\.0\.0\.1:9/metrics.*--metrics-url"):
        window.open(tmp_path)


def test_gauge_engine_without_a_direct_url_says_why_it_has_no_figures(tmp_path: Path) -> None:
    window = MetricsWindow(sglang.ADAPTER)
    window.open(tmp_path)
    result = window.close(tmp_path)
    assert any("needs a direct --metrics-url" in f for f in result.flags)
