"""report.html in a real headless Chromium (Debian ``chromium``, driven by Playwright): it loads
without console errors or network requests, every plot renders with its marks, and a screenshot
is written for a human to look at (``SPEEDBENCH_SCREENSHOT`` names where, default: tmp)."""

import csv
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
    FakeServer("vllm-eagle3-k4", "base", speculative="eagle", draft_tokens=4),  # long: legends
]


OVERFLOWING_TEXT = """() => [...document.querySelectorAll('svg.plot')].flatMap(svg => {
    const box = svg.getBoundingClientRect();
    return [...svg.querySelectorAll('text')].filter(t => {
        const r = t.getBoundingClientRect();
        return r.width > 0 && (r.left < box.left - 0.5 || r.right > box.right + 0.5
                               || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5);
    }).map(t => svg.dataset.plot + ': ' + t.textContent);
})"""


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian chromium is missing: run .ci/setup")
    from playwright.sync_api import sync_playwright

    results = write_results(
        tmp_path / "results", SERVERS, ["1k", "8k"], [1, 4, 16], requests=36,
        slos={"ttft_ms": 400, "tpot_ms": 35}, rates=(2.0, 8.0),
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
        # heatmaps; per bucket: tok/s vs concurrency and vs rate, Pareto, TTFT and TPOT CDFs;
        # acceptance per position and per category
        assert len(names) == 2 + 5 * 2 + 2, names
        for i, name in enumerate(names):
            plot = plots.nth(i)
            box = plot.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 100, name
            marks = plot.locator("polyline, circle, rect").count()
            assert marks > 3, f"{name} drew nothing"
        lines = page.locator('svg[data-plot="throughput-1k"] polyline').count()
        assert lines == len(SERVERS)
        assert page.locator('svg[data-plot="throughput-1k-open-poisson"] polyline').count() == 3
        # Every text of every plot lies inside its box (titles and heatmap labels not clipped).
        overflow = page.evaluate(OVERFLOWING_TEXT)
        assert overflow == [], overflow
        heat = page.locator('svg[data-plot="heatmap-sd-k2"]').inner_html()
        assert "c=16" in heat and "rate=8.0/s" in heat
        assert page.locator("table").count() >= 5
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests
    assert shot.stat().st_size > 10_000


def test_a_demo_shaped_report_keeps_every_label_inside_its_plot(tmp_path: Path) -> None:
    """Two concurrencies make the narrowest heatmap: its title used to be clipped."""
    from playwright.sync_api import sync_playwright

    servers = [
        FakeServer("vllm-cpu-base"),
        FakeServer("vllm-cpu-ngram", "vllm-cpu-base", draft_tokens=3),
    ]
    results = write_results(tmp_path / "results", servers, ["1k", "2k"], [1, 4], requests=12)
    subprocess.run([sys.executable, "-m", "loadgen.cli", "report", str(results)], check=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto((results / "report.html").as_uri())
        page.wait_for_load_state("load")
        overflow = page.evaluate(OVERFLOWING_TEXT)
        heatmap = page.locator('svg[data-plot="heatmap-vllm-cpu-ngram"]')
        heatmap.screenshot(path=str(tmp_path / "heatmap.png"))
        # the speedup table as the browser shows it: the same numbers as speedup.csv
        table = page.locator("table").first
        headers = table.locator("thead th").all_inner_texts()
        cells = table.locator("tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
        )
        browser.close()
    assert overflow == [], overflow
    with (results / "speedup.csv").open() as fh:
        expected = [
            [r["bucket"], r["load"], f"{float(r['baseline_output_tps']):.1f}",
             f"{float(r['variant_output_tps']):.1f}",
             f"{float(r['speedup_output_tps']):.2f} "
             f"[{float(r['ci_low']):.2f}, {float(r['ci_high']):.2f}]",
             f"{float(r['acceptance_length']):.2f}"]
            for r in csv.DictReader(fh)
        ]  # fmt: skip
    columns = ["bucket", "load", "base tok/s", "SD tok/s", "tok/s speedup (steady)",
               "AL while drafting"]  # fmt: skip
    shown = [dict(zip(headers, row, strict=True)) for row in cells]
    overall = [[row[c] for c in columns] for row in shown if row["tier"] == "all"]
    assert overall == expected
