"""What an engine adapter is: its metric names as data, and one reduction to ``Acceptance``.

An adapter never fetches anything. The window machinery (``loadgen.metrics.collect``) gives it
the declared counters' window deltas (from a direct scrape or from PromQL) and, for engines whose
SD figures are not counters, the raw bodies the sampler polled during the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.window import Deltas, WindowCounters, text_deltas


@dataclass(frozen=True)
class Poll:
    """One body fetched by the sampler. ``polls[0]`` is taken before the load starts."""

    wall: float
    body: str
    error: str | None = None


@dataclass(frozen=True)
class TokenCounters:
    """The engine's counters behind the cross-checks (None: the engine has none)."""

    generation: str | None
    prompt: str | None
    prefix_cache_hits: str | None
    prefix_cache_queries: str | None
    requests: str | None  # finished requests

    def names(self) -> tuple[str, ...]:
        found = (
            self.generation,
            self.prompt,
            self.prefix_cache_hits,
            self.prefix_cache_queries,
            self.requests,
        )
        return tuple(n for n in found if n is not None)


# (window deltas, per scrape target: its polls in time order) -> the record
Reducer = Callable[[Deltas, Sequence[Sequence[Poll]]], Acceptance]


@dataclass(frozen=True)
class EngineAdapter:
    engine: str
    source: str  # written into Acceptance.source
    metrics_path: str  # Prometheus text exposition
    sd_counters: tuple[str, ...]
    tokens: TokenCounters
    reduce: Reducer
    gauges: tuple[str, ...] = ()  # read from polls (declared for dashboards and docs)
    poll_path: str | None = None  # polled during the window; None: no sampler needed
    # histogram (seconds) of each request's time inside the server, arrival to last output; its
    # _sum and _count over a window time what the client's E2E adds (None: not exposed or not
    # checked on a recorded scrape)
    request_latency: str | None = None

    @property
    def counters(self) -> tuple[str, ...]:
        """Every counter the window reads, direct or through PromQL."""
        return self.sd_counters + self.tokens.names()

    @property
    def metric_names(self) -> tuple[str, ...]:
        return self.counters + self.gauges

    def request_latency_window(
        self, before: Sequence[str], after: Sequence[str]
    ) -> tuple[float, float] | None:
        """(requests finished, their summed in-server latency in seconds) between two scrapes
        of every target; None without the histogram or across a counter reset."""
        if self.request_latency is None:
            return None
        names = (f"{self.request_latency}_count", f"{self.request_latency}_sum")
        deltas = text_deltas(before, after, names)
        count, total = (deltas.total(n) for n in names)
        if count is None or total is None or deltas.reset:
            return None
        return count, total

    def window_counters(self, deltas: Deltas) -> WindowCounters:
        t = self.tokens

        def total(name: str | None) -> float | None:
            return None if name is None else deltas.total(name)

        return WindowCounters(
            generation_tokens=total(t.generation),
            prompt_tokens=total(t.prompt),
            prefix_cache_hits=total(t.prefix_cache_hits),
            prefix_cache_queries=total(t.prefix_cache_queries),
            reset=deltas.reset,
            requests=total(t.requests),
        )
