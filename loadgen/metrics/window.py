"""Counter deltas over a cell's window, reset-aware per series, then summed.

Like Prometheus ``sum by (position) (increase(x[window]))``: each series (one engine label, one
replica) gets its own delta, a drop in one series means that series restarted from zero, and only
then are the deltas summed over every label but ``position``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from loadgen.metrics.acceptance import counter_delta
from loadgen.metrics.exposition import parse_exposition

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Labels]
CounterKey = tuple[str, str | None]  # (metric name, ``position`` label if any)
TARGET_LABEL = "speedbench_target"  # added per scrape target so replicas stay separate series


@dataclass(frozen=True)
class Deltas:
    """Window increase of each declared counter, summed over all labels but ``position``."""

    values: dict[CounterKey, float]
    reset: bool

    def has(self, name: str) -> bool:
        return any(key[0] == name for key in self.values)

    def total(self, name: str) -> float | None:
        """Sum over positions too; None when the engine does not expose the counter."""
        found = [v for (n, _), v in self.values.items() if n == name]
        return sum(found) if found else None

    def positions(self, name: str) -> list[float]:
        by_pos = [(int(p), v) for (n, p), v in self.values.items() if n == name and p is not None]
        return [v for _, v in sorted(by_pos)]


@dataclass(frozen=True)
class WindowCounters:
    """Deltas of the non-SD counters the harness cross-checks against the client (None: the
    engine exposes no such counter)."""

    generation_tokens: float | None
    prompt_tokens: float | None
    prefix_cache_hits: float | None
    prefix_cache_queries: float | None
    reset: bool
    requests: float | None = None  # requests the engine finished in the window


def snapshot(texts: Sequence[str], names: Collection[str]) -> dict[SeriesKey, float]:
    """The declared counters of one scrape of every target (replica)."""
    series: dict[SeriesKey, float] = {}
    for index, text in enumerate(texts):
        for s in parse_exposition(text):
            if s.name in names:
                series[(s.name, (*s.labels, (TARGET_LABEL, str(index))))] = s.value
    return series


def window_deltas(
    before: dict[SeriesKey, float], after: dict[SeriesKey, float], names: Collection[str]
) -> Deltas:
    sums: dict[CounterKey, float] = defaultdict(float)
    reset = False
    for (name, labels), value in after.items():
        if name not in names:
            continue
        delta = counter_delta(before.get((name, labels), 0.0), value)
        reset = reset or delta.reset
        sums[(name, dict(labels).get("position"))] += delta.value
    return Deltas(dict(sums), reset)


def text_deltas(before: Sequence[str], after: Sequence[str], names: Collection[str]) -> Deltas:
    """Two scrapes of the same targets (same order) -> window deltas."""
    return window_deltas(snapshot(before, names), snapshot(after, names), names)
