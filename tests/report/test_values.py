"""report.md, speedup.csv and report.html hold the numbers of the cells they come from.

Every expected figure is recomputed here from the cells' own files (``requests.parquet`` stamps,
``summary.json`` counters, ``manifest.json``) with plain arithmetic, not through the analysis
code: the headline (steady) tok/s = c x sum(tokens) / sum(E2E) over the requests sent after the
c-th send and ended by the first end after the last send (all of them when fewer than 4 such);
Little over all requests beside it; TPOT per request = (last - first chunk) / tokens after the
first; AL = 1 + accepted / drafts; tokens per chunk pooled over the steps.
"""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

import pytest

from loadgen.client.sink import read_parquet
from tests.fakes.cells import FakeServer, write_results
from tests.report.test_build import run_report
from tests.steady import steady_requests

SERVERS = [FakeServer("base"), FakeServer("sd", "base", speculative="eagle", draft_tokens=3)]
CONCURRENCIES = [1, 4]
FLAG = "server generated 999 tokens in the window, client received 1: foreign traffic"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = write_results(tmp_path_factory.mktemp("results"), SERVERS, ["1k"], CONCURRENCIES, 24)
    flagged = out / "cells" / "sd" / "1k" / "c4" / "r0" / "summary.json"
    summary = json.loads(flagged.read_text())
    summary["flags"] = [FLAG]  # as a cross-check would have raised it
    flagged.write_text(json.dumps(summary))
    return run_report(out)


def cell_figures(results: Path, server: str, c: int) -> dict[str, float]:
    """The cell's figures from its stamps and counters, by hand."""
    cell = results / "cells" / server / "1k" / f"c{c}" / "r0"
    records = read_parquet(cell / "requests.parquet")
    summary = json.loads((cell / "summary.json").read_text())
    e2e_s = [(r.end_ns - r.send_ns) / 1e9 for r in records]
    tokens = [sum(r.chunk_tokens) for r in records]
    steady = steady_requests([(r.send_ns, r.end_ns) for r in records], c)
    tpot = [(r.chunk_ns[-1] - r.chunk_ns[0]) / sum(r.chunk_tokens[1:]) / 1e6 for r in records]
    steps = sum(len(r.chunk_tokens) - 1 for r in records)
    window_s = (max(r.end_ns for r in records) - min(r.send_ns for r in records)) / 1e9
    acc = summary["acceptance"]
    return {
        "tps": c * sum(tokens[i] for i in steady) / sum(e2e_s[i] for i in steady),
        "littles_all_tps": c * sum(tokens) / sum(e2e_s),
        "steady_share": len(steady) / len(records),
        "window_tps": sum(tokens) / window_s,
        "tpot_mean": sum(tpot) / len(tpot),
        "e2e_mean": sum(e2e_s) / len(e2e_s),
        "tokens_per_chunk": sum(sum(r.chunk_tokens[1:]) for r in records) / steps,
        "al": 1 + acc["accepted_tokens"] / acc["drafts"] if acc["drafts"] else float("nan"),
        "requests": len(records),
    }


def expected_rows(results: Path) -> dict[int, dict[str, float]]:
    out = {}
    for c in CONCURRENCIES:
        base, sd = cell_figures(results, "base", c), cell_figures(results, "sd", c)
        out[c] = {
            "baseline_output_tps": base["tps"],
            "variant_output_tps": sd["tps"],
            "speedup_output_tps": sd["tps"] / base["tps"],
            "littles_speedup_output_tps": sd["littles_all_tps"] / base["littles_all_tps"],
            "window_speedup_output_tps": sd["window_tps"] / base["window_tps"],
            "tpot_speedup": base["tpot_mean"] / sd["tpot_mean"],
            "e2e_speedup": base["e2e_mean"] / sd["e2e_mean"],
            "acceptance_length": sd["al"],
            "client_tokens_per_chunk": sd["tokens_per_chunk"],
            "baseline_requests": base["requests"],
            "variant_requests": sd["requests"],
        }
    return out


def test_speedup_csv_values_are_the_cells(results: Path) -> None:
    with (results / "speedup.csv").open() as fh:
        rows = {int(r["concurrency"]): r for r in csv.DictReader(fh)}
    expected = expected_rows(results)
    assert set(rows) == set(expected)
    for c, want in expected.items():
        row = rows[c]
        assert (row["baseline"], row["variant"], row["load"]) == ("base", "sd", f"c={c}")
        for key, value in want.items():
            assert float(row[key]) == pytest.approx(value, rel=1e-9), (c, key)
        assert float(row["ci_low"]) <= float(row["speedup_output_tps"]) <= float(row["ci_high"])
    # the flag of the SD c=4 cell travels with its pair's row
    assert rows[4]["flags"] == f"sd: {FLAG}" and rows[1]["flags"] == ""


def markdown_table(md: str, title: str) -> list[dict[str, str]]:
    section = md.split(f"## {title}\n")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header = [h.strip() for h in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (v.strip() for v in line.strip("|").split("|")), strict=True))
        for line in lines[1:]
    ]


def test_report_md_tables_hold_the_cells_numbers(results: Path) -> None:
    md = (results / "report.md").read_text()
    with (results / "speedup.csv").open() as fh:
        csv_rows = {int(r["concurrency"]): r for r in csv.DictReader(fh)}
    expected = expected_rows(results)
    speedups = [r for r in markdown_table(md, "Speedup of SD over its baseline")
                if r["tier"] == "all"]  # fmt: skip
    assert [r["load"] for r in speedups] == [f"c={c}" for c in CONCURRENCIES]
    for row in speedups:
        c = int(row["load"][2:])
        want, ci = expected[c], csv_rows[c]
        assert row["base tok/s"] == f"{want['baseline_output_tps']:.1f}"
        assert row["SD tok/s"] == f"{want['variant_output_tps']:.1f}"
        assert row["tok/s speedup (steady)"] == (
            f"{want['speedup_output_tps']:.2f} "
            f"[{float(ci['ci_low']):.2f}, {float(ci['ci_high']):.2f}]"
        )
        assert row["Little all"] == f"{want['littles_speedup_output_tps']:.2f}"
        assert row["window"] == f"{want['window_speedup_output_tps']:.2f}"
        assert row["mean TPOT speedup"].startswith(f"{want['tpot_speedup']:.2f} [")
        assert row["mean E2E speedup"].startswith(f"{want['e2e_speedup']:.2f} [")
        assert row["AL while drafting"] == f"{want['acceptance_length']:.2f}"
        assert row["client tok/chunk"] == f"{want['client_tokens_per_chunk']:.2f}"
        assert row["requests"] == "24 / 24"

    cells = markdown_table(md, "Cells side by side")
    assert [(r["load"], r["server"]) for r in cells] == [
        (f"c={c}", s.name) for c in CONCURRENCIES for s in SERVERS
    ]
    for row in cells:
        c, server = int(row["load"][2:]), row["server"]
        mine = cell_figures(results, server, c)
        summary = json.loads(
            (results / "cells" / server / "1k" / f"c{c}" / "r0" / "summary.json").read_text()
        )
        assert (row["ok"], row["failed"], row["repeats"]) == ("24", "0", "1")
        assert row["tok/s (steady; open loop: window)"] == f"{mine['tps']:.1f}"
        assert row["steady kept"] == f"{mine['steady_share']:.0%}"
        ttft, tpot = summary["ttft_ms"], summary["tpot_ms"]
        assert row["TTFT p50 / p90 ms"] == f"{ttft['p50']:.0f} / {ttft['p90']:.0f}"
        assert row["TPOT mean / p90 ms"] == f"{mine['tpot_mean']:.2f} / {tpot['p90']:.2f}"
        assert row["client tok/chunk"] == f"{mine['tokens_per_chunk']:.2f}"
        assert row["AL while drafting"] == ("n/a" if server == "base" else f"{mine['al']:.2f}")

    flags = markdown_table(md, "Cross-check flags")
    assert flags == [{"server": "sd", "bucket": "1k", "load": "c=4", "flag": FLAG}]


def html_tables(page: str) -> dict[str, list[list[str]]]:
    """Each table of the page by its heading: rows of cell texts."""
    out = {}
    for title, body in re.findall(r"<h2>([^<]+)</h2><p class='note'>.*?<tbody>(.*?)</tbody>", page):
        rows = re.findall(r"<tr>(.*?)</tr>", body)
        out[html.unescape(title)] = [
            [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)] for row in rows
        ]
    return out


def test_report_html_tables_and_manifest_match_the_markdown_and_the_sweep(results: Path) -> None:
    page = (results / "report.html").read_text()
    md = (results / "report.md").read_text()
    tables = html_tables(page)
    for title in ("Speedup of SD over its baseline", "Cells side by side", "Cross-check flags"):
        assert tables[title] == [list(r.values()) for r in markdown_table(md, title)], title
    shown = re.search(r"<h2>Manifest</h2><pre>\n(.*?)\n</pre>", page, re.S)
    assert shown is not None
    manifest = json.loads(html.unescape(shown.group(1)))
    on_disk = json.loads((results / "manifest.json").read_text())
    assert manifest["plan"] == on_disk["plan"] == {"name": "FAKE results for tests", "slos": {}}
    assert manifest["servers"] == on_disk["servers"]
    assert manifest["servers"]["sd"] == {
        "engine": "vllm", "speculative": "eagle", "baseline": "base"
    }  # fmt: skip
