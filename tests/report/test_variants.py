"""SD variants compared category by category, on FAKE cells whose per-tier acceptance differs by
construction: variant ``sd-narrow`` accepts well on low-entropy text and badly on high-entropy
text; ``sd-even`` accepts the same everywhere."""

from __future__ import annotations

from pathlib import Path

from loadgen.analysis.groups import load_groups
from loadgen.analysis.speedup import SpeedupAnalysis
from loadgen.analysis.variants import compare_variants, worse_flags
from loadgen.report.build import build_report
from tests.fakes.cells import FakeServer, write_results

NARROW = {"low_entropy": 0.9, "mixed": 0.6, "high_entropy": 0.05}
EVEN = {"low_entropy": 0.6, "mixed": 0.6, "high_entropy": 0.6}


def results(tmp_path: Path) -> Path:
    servers = [
        FakeServer("base"),
        FakeServer("sd-narrow", "base", draft_tokens=3, accept=NARROW),
        FakeServer("sd-even", "base", draft_tokens=3, accept=EVEN),
    ]
    return write_results(tmp_path / "r", servers, ["1k"], [2], requests=96)


def test_the_variant_that_is_worse_in_a_category_is_flagged_there_only(tmp_path: Path) -> None:
    groups = load_groups(results(tmp_path))
    rows = SpeedupAnalysis(400).rows(groups)
    entries = compare_variants(rows, groups, 400)
    cats = {(e.variant, e.category) for e in entries}
    assert ("sd-narrow", "high_entropy") in cats and ("sd-even", "all") in cats
    narrow_high = next(
        e for e in entries if (e.variant, e.category) == ("sd-narrow", "high_entropy")
    )
    low, high = narrow_high.tokens_per_step_ci
    assert low is not None and high is not None
    assert low <= narrow_high.tokens_per_step <= high < 1.3  # ~1.05 by construction
    flags = worse_flags(entries)
    assert any(
        "high_entropy: sd-narrow is significantly worse than sd-even in tokens per step" in f
        for f in flags
    ), flags
    assert any("low_entropy: sd-even is significantly worse than sd-narrow" in f for f in flags)
    assert not any("mixed:" in f for f in flags), flags  # same acceptance by construction


def test_the_report_shows_the_category_by_variant_table(tmp_path: Path) -> None:
    out = results(tmp_path)
    build_report(out, resamples=200)
    text = (out / "report.md").read_text()
    assert "## SD variants by category" in text
    assert "sd-narrow is significantly worse than sd-even" in text
    assert "## Acceptance by category" in text
