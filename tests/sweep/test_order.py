"""Cell order (A B B A, random with a seed, interleaved launches) and A/A mode in the plan."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from loadgen.sweep.order import schedule
from loadgen.sweep.plan import SweepPlan


def _plan(**extra: Any) -> SweepPlan:
    servers = [{"url": "http://a", "name": "A"}, {"url": "http://b", "name": "B", "baseline": "A"}]
    return SweepPlan.model_validate(
        dict(
            name="p",
            model="m",
            data="d",
            servers=servers,
            buckets=["1k"],
            concurrencies=[1],
            requests=4,
            repeats=2,
            **extra,
        )
    )


def _names(plan: SweepPlan) -> list[tuple[str, int]]:
    servers = plan.resolved_servers()
    cells = [0, 1, 2]
    return [(b.server.name, c) for b in schedule(plan, servers, cells, {c: c for c in cells})
            for c in b.cells]  # fmt: skip


def test_default_is_sequential_and_digest_unchanged() -> None:
    plan = _plan()
    assert _names(plan) == [("A", 0), ("A", 1), ("A", 2), ("B", 0), ("B", 1), ("B", 2)]
    assert plan.digest() == _plan(order=None).digest()
    assert plan.digest() != _plan(order="interleaved").digest()


def test_interleaved_is_abba() -> None:
    got = _names(_plan(order="interleaved"))
    assert got == [("A", 0), ("B", 0), ("B", 1), ("A", 1), ("A", 2), ("B", 2)]


def test_interleaved_alternates_the_first_server_of_each_load_across_repeats() -> None:
    # cells (repeat, load) of 4 repeats x 2 loads: flipping per cell alone put B first at every
    # c=4 cell, so a cost of going first would have read as speedup
    plan, cells = _plan(order="interleaved"), [(r, c) for r in range(4) for c in (1, 4)]
    blocks = schedule(plan, plan.resolved_servers(), cells, {c: c[0] for c in cells})
    firsts = {cell: blocks[2 * k].server.name for k, cell in enumerate(cells)}
    assert [firsts[(r, 4)] for r in range(4)] == ["B", "A", "B", "A"]
    assert [firsts[(r, 1)] for r in range(4)] == ["A", "B", "A", "B"]
    assert "".join(b.server.name for b in blocks) == "ABBABAABABBABAAB"


def test_random_order_is_reproducible_from_its_seed() -> None:
    assert _names(_plan(order="random", order_seed=7)) == _names(
        _plan(order="random", order_seed=7)
    )


def test_interleaved_launches_alternate_per_repeat() -> None:
    got = _names(_plan(order="interleaved_launches"))
    assert [n for n, _ in got] == ["A", "B", "B", "A", "A", "B"]


def test_interleaving_launched_variants_cell_by_cell_is_refused() -> None:
    with pytest.raises(ValidationError, match="interleaved_launches"):
        SweepPlan.model_validate(
            dict(
                name="p",
                model="m",
                data="d",
                servers=[{"variant": "vllm-cpu-base"}],
                buckets=["1k"],
                concurrencies=[1],
                requests=4,
                order="interleaved",
            )
        )


def test_aa_pairs_each_baseline_with_itself() -> None:
    names = {(s.name, s.baseline) for s in _plan(aa=True).resolved_servers()}
    assert ("A-aa", "A") in names and ("B", "A") in names
