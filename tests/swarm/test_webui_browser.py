"""The Locust web UI's speedbench tab in a real headless Chromium (Debian ``chromium`` driven by
Playwright): a run started by the UI against the FAKE streaming server (3 tokens per chunk after
the prefill chunk), the tab's live charts drawn by loadgen/swarm/static/speedbench.js with no
console error, and the tokens-per-chunk histogram in numeric order."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.report.test_browser import CHROMIUM, FLAGS
from tests.test_speed import cell, prepared, web_ui  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
CHARTS = "#speedbench-charts svg[data-chart]"


def wait_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/", timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the Locust web UI never answered at {base}")


def test_the_speedbench_tab_draws_its_live_charts(prepared: Path, tmp_path: Path) -> None:  # noqa: F811
    errors: list[str] = []
    with FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.002, tokens_per_chunk=3)) as fake:
        spec = cell(fake.url, prepared, users=2, requests=6, osl=13)
        with web_ui(spec, tmp_path) as base:
            wait_up(base)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                page = browser.new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(base + "/?tab=speedbench")
                page.wait_for_function(
                    f"document.querySelectorAll('{CHARTS}').length >= 3 && "
                    "[...document.querySelectorAll('#speedbench-charts svg rect')].length > 0",
                    timeout=60_000,
                )
                titles = page.eval_on_selector_all(CHARTS, "els => els.map(e => e.dataset.chart)")
                labels = page.eval_on_selector_all(
                    "#speedbench-charts svg[data-chart^='tokens per chunk'] text.label",
                    "els => els.map(e => e.textContent)",
                )
                browser.close()
    assert {"output tokens/s", "tokens per chunk (after the first)"} <= set(titles), titles
    assert any(t.startswith("latency percentiles") for t in titles), titles
    assert labels == sorted(labels, key=int) and "3" in labels, labels  # numeric order
    assert errors == [], errors
