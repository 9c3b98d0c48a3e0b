"""report.html in a real headless Chromium (Debian ``chromium``, driven by Playwright): it loads
without console errors or network requests, every plot renders with its marks, and a screenshot
is written for a human to look at (``SPEEDBENCH_SCREENSHOT`` names where, default: tmp)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.cells import FakeServer, write_results

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVERS = [
    FakeServer("base"),
    FakeServer("sd-k2", "base", speculative="eagle", draft_tokens=2),
    FakeServer("sd-k4", "base", speculative="eagle", draft_tokens=4),
]


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian chromium is missing: run .ci/setup")
    from playwright.sync_api import sync_playwright

    results = write_results(
        tmp_path / "results", SERVERS, ["1k", "8k"], [1, 4, 16], requests=36,
        slos={"ttft_ms": 400, "tpot_ms": 35},
    )  # fmt: skip
    subprocess.run([sys.executable, "-m", "loadgen.cli", "report", str(results)], check=True)
    shot = Path(os.environ.get("SPEEDBENCH_SCREENSHOT", tmp_path / "report.png"))

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((results / "report.html").as_uri())
        page.wait_for_load_state("load")
        plots = page.locator("svg.plot")
        names = [plots.nth(i).get_attribute("data-plot") for i in range(plots.count())]
        assert len(names) == 2 + 4 * 2 + 2, names
        for i, name in enumerate(names):
            plot = plots.nth(i)
            box = plot.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 100, name
            marks = plot.locator("polyline, circle, rect").count()
            assert marks > 3, f"{name} drew nothing"
        lines = page.locator('svg[data-plot="throughput-1k"] polyline').count()
        assert lines == len(SERVERS)
        assert page.locator("table").count() >= 5
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests
    assert shot.stat().st_size > 10_000
