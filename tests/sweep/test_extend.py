"""Issue 18 item 10: a finished sweep extended with new load points keeps its measured cells and
gives the new ones fresh prompts; a non-additive change is refused; a rate sweep measures the
saturation, then rates below it. Real sweeps (real Locust) against FAKE servers by URL."""

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.sweep.plan import PlanError, SweepPlan, load_plan
from loadgen.sweep.runner import run_sweep
from loadgen.sweep.slices import PromptSlices
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.sweep.test_runner import make_plan


@pytest.fixture
def fakes() -> Iterator[tuple[FakeStreamingServer, FakeStreamingServer]]:
    base = FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.005, tokens_per_chunk=1))
    sd = FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.005, tokens_per_chunk=4))
    with base, sd:
        yield base, sd


def prompts_seen(server: FakeStreamingServer) -> Counter[tuple[int, ...]]:
    return Counter(tuple(body["prompt"]) for body in server.counters.requests)


def test_adding_load_points_keeps_measured_cells_and_takes_fresh_prompts(
    tmp_path: Path, fakes: tuple[FakeStreamingServer, FakeStreamingServer]
) -> None:
    urls = (fakes[0].url, fakes[1].url)
    first = make_plan(tmp_path, urls, concurrencies=[1], requests=3, osl=8)
    out = tmp_path / "results"
    run_sweep(load_plan(first), first.parent, out)
    measured = {p: p.stat().st_mtime_ns for p in out.glob("cells/**/*") if p.is_file()}
    assert len(list(out.glob("cells/*/1k/c1/r0/summary.json"))) == 2

    more = make_plan(tmp_path, urls, concurrencies=[1, 2], rates=[5], requests=3, osl=8)
    rows = run_sweep(load_plan(more), more.parent, out)

    assert {p: p.stat().st_mtime_ns for p in measured} == measured  # untouched
    for server in ("fake-base", "fake-sd"):
        assert {p.parent.name for p in out.glob(f"cells/{server}/1k/*/r0")} == {
            "c1", "c2", "rate5.0"
        }  # fmt: skip
    for fake in fakes:  # warm-ups and cells of both runs: no prompt twice on one server
        seen = prompts_seen(fake)
        assert seen and max(seen.values()) == 1, seen
    assert {r.load.label for r in rows if r.category == "all"} == {"c=1", "c=2", "rate=5.0/s"}
    manifest = json.loads((out / "manifest.json").read_text())
    history = manifest["plan_history"]
    assert [h["event"] for h in history] == ["created", "extended"] and history[1]["at"]
    assert manifest["plan_sha256"] == history[1]["sha256"] == load_plan(more).digest()
    assert manifest["prompts"]["cells"]["1k/c1/r0"] == 1  # after the first warm-up prompt
    assert "extended 1 time(s)" in (out / "report.md").read_text()

    before = {p: p.stat().st_mtime_ns for p in out.glob("cells/**/summary.json")}
    run_sweep(load_plan(more), more.parent, out)  # the extended plan now resumes: all done
    assert {p: p.stat().st_mtime_ns for p in before} == before


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"osl": 16}, "osl (8 -> 16)"),
        ({"model": "other"}, "model ('fake-model' -> 'other')"),
        ({"concurrencies": [2]}, "concurrencies removes [1]"),
        ({"requests": 4}, "requests (3 -> 4)"),
    ],
)
def test_a_change_beyond_adding_cells_is_refused_naming_it(
    tmp_path: Path,
    fakes: tuple[FakeStreamingServer, FakeStreamingServer],
    changes: dict[str, object],
    named: str,
) -> None:
    urls = (fakes[0].url, fakes[1].url)
    first = make_plan(tmp_path, urls, concurrencies=[1], requests=3, osl=8)
    out = tmp_path / "results"
    run_sweep(load_plan(first), first.parent, out)
    changed = make_plan(tmp_path, urls, **{"concurrencies": [1], "requests": 3, "osl": 8,
                                            **changes})  # fmt: skip
    with pytest.raises(PlanError, match="different plan") as refused:
        run_sweep(load_plan(changed), changed.parent, out)
    assert named in str(refused.value)


def test_rate_sweep_measures_saturation_then_rates_below_it(
    tmp_path: Path, fakes: tuple[FakeStreamingServer, FakeStreamingServer]
) -> None:
    urls = (fakes[0].url, fakes[1].url)
    path = make_plan(tmp_path, urls, concurrencies=[1, 4], requests=3, osl=8,
                     rate_sweep={"points": 3, "low": 0.2, "high": 0.8})  # fmt: skip
    out = tmp_path / "results"
    rows = run_sweep(load_plan(path), path.parent, out)

    chosen = json.loads((out / "manifest.json").read_text())["rate_sweep"]
    saturation, rates = chosen["saturation_rps"], chosen["rates"]
    assert saturation > 0 and len(rates) == 3 and rates == sorted(rates)
    assert all(r < saturation for r in rates)
    assert rates[0] == pytest.approx(0.2 * saturation, rel=0.01)
    for server in ("fake-base", "fake-sd"):
        for rate in rates:
            assert (out / "cells" / server / "1k" / f"rate{rate}" / "r0" / "summary.json").is_file()
    assert {r.load.rate for r in rows if r.load.rate is not None} == set(rates)
    assert "rate sweep: saturation" in (out / "report.md").read_text()
    for fake in fakes:
        assert max(prompts_seen(fake).values()) == 1

    before = {p: p.stat().st_mtime_ns for p in out.glob("cells/**/summary.json")}
    run_sweep(load_plan(path), path.parent, out)  # resumes with the recorded rates
    assert {p: p.stat().st_mtime_ns for p in before} == before


BASE = {"name": "t", "model": "m", "data": "d", "servers": [{"variant": "vllm-cpu-base"}],
        "buckets": ["1k"], "concurrencies": [1, 4], "requests": 8}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate_sweep": {"points": 1}}, "greater than or equal to 2"),
        ({"rate_sweep": {"points": 3, "low": 0.5, "high": 0.4}}, "must be below `high`"),
        ({"rate_sweep": {"points": 3, "high": 1.5}}, "less than or equal to 1"),
        ({"rate_sweep": {"points": 3}, "rates": [1]}, "not both"),
        ({"rate_sweep": {"points": 3}, "concurrencies": []}, "needs `concurrencies`"),
        ({"rate_sweep": {"points": 3, "step": 2}}, "unknown key; allowed here: high, low"),
    ],
)
def test_rate_sweep_is_validated(tmp_path: Path, changes: dict, message: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(json.dumps({**BASE, **changes}))
    with pytest.raises(PlanError, match=message):
        load_plan(path)


def test_an_extension_s_slices_follow_every_used_prompt() -> None:
    old = SweepPlan.model_validate({**BASE, "warmup": 2})
    slices = PromptSlices.laid_out(old)
    assert slices.next == 2 + 2 * 8
    new = SweepPlan.model_validate({**BASE, "warmup": 2, "concurrencies": [1, 4, 8],
                                    "buckets": ["1k", "2k"]})  # fmt: skip
    grown = slices.extended(new, fresh_warmup=True)
    assert {k: grown.cells[k] for k in slices.cells} == slices.cells  # measured slices stay
    assert grown.warmup_start == 18 and grown.cells["1k/c8/r0"] == 20
    assert grown.cells["2k/c8/r0"] == 20  # a new load point shares its slice across buckets
    assert sorted({grown.cells[f"2k/c{c}/r0"] for c in (1, 4)}) == [28, 36]
    assert grown.next == 44
