"""Live figures for the speedbench tab of Locust's web UI, from whole records as they end (on the
master in a distributed run: every worker's), so rates are credited at request end; the exact
per-chunk timings stay in the records.

Per token, never per chunk: TPOT and ITL percentiles come from each record's per-token figures.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

from loadgen.analysis.stats import distribution
from loadgen.client import figures
from loadgen.client.record import RequestRecord

WINDOW_S = 10.0
BIN_S = 2.0  # the tokens/s chart's resolution


class LiveTokens:
    def __init__(self, window_s: float = WINDOW_S, start: float | None = None) -> None:
        self.window_s = window_s
        self.start = time.monotonic() if start is None else start
        self._recent: deque[tuple[float, int]] = deque()
        self.chunk_sizes: Counter[int] = Counter()
        self.tokens = 0
        self.requests = 0
        self.errors: Counter[str] = Counter()
        self.ttft: list[float] = []
        self.tpot: list[float] = []
        self.itl: list[float] = []
        self.token_bins: Counter[int] = Counter()  # bin index -> output tokens ended in it
        self.acceptance: list[dict[str, Any]] = []  # engine acceptance over the run
        self.positions = 0  # the engine's draft length k (0: unknown)
        self.ended: str | None = None
        self.final: list[dict[str, Any]] = []  # the run's summary, once written

    def add(self, record: RequestRecord, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.requests += 1
        if record.error_kind:
            self.errors[record.error_kind] += 1
        self.tokens += record.output_tokens
        self._recent.append((now, record.output_tokens))
        self.token_bins[int((now - self.start) // BIN_S)] += record.output_tokens
        self.chunk_sizes.update(record.step_sizes)
        if record.ok:
            if record.ttft_ms is not None:
                self.ttft.append(record.ttft_ms)
            if record.tpot_ms is not None:
                self.tpot.append(record.tpot_ms)
            self.itl += record.itl_ms

    def tokens_per_s(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        return sum(n for _, n in self._recent) / self.window_s

    def mean_tokens_per_chunk(self) -> float | None:
        tokens = sum(k * v for k, v in self.chunk_sizes.items())
        return figures.tokens_per_step(tokens, sum(self.chunk_sizes.values()))

    def merged_chunks(self) -> int:
        """Chunks longer than one engine step can stream (1 + k): merged in transit."""
        if not self.positions:
            return 0
        return sum(v for k, v in self.chunk_sizes.items() if k > self.positions + 1)

    def charts(self) -> dict[str, Any]:
        """What the tab's charts draw (JSON)."""
        last = max(self.token_bins, default=-1)
        return {
            "tokens_per_s": [
                [round(i * BIN_S, 1), self.token_bins.get(i, 0) / BIN_S] for i in range(last + 1)
            ],
            "latency_ms": {
                "TTFT": distribution(self.ttft),
                "TPOT (per token)": distribution(self.tpot),
                "ITL (per token)": distribution(self.itl),
            },
            "tokens_per_chunk": [[k, v] for k, v in sorted(self.chunk_sizes.items())],
            "acceptance": self.acceptance,
            "merged_chunks": self.merged_chunks(),
            "draft_length": self.positions,
            "ended": self.ended,
            "final": self.final,
        }

    def rows(self) -> list[dict[str, Any]]:
        """Rows of the web UI's "speedbench" table (name, value); numbers in numeric order."""
        mean = self.mean_tokens_per_chunk()
        rows: list[dict[str, Any]] = [
            {"name": "run ended", "value": self.ended or "running"},
            {"name": f"output tokens/s (last {self.window_s:g} s)", "value": self.tokens_per_s()},
            {"name": "mean tokens per chunk", "value": "-" if mean is None else round(mean, 3)},
            {"name": "measured requests ended", "value": self.requests},
            {"name": "output tokens", "value": self.tokens},
        ]
        if self.acceptance:
            last = self.acceptance[-1]
            rows.append({"name": "engine acceptance length", "value": last["length"]})
        if self.merged_chunks():
            rows.append(
                {"name": "FLAG merged chunks (longer than 1 + k tokens)",
                 "value": self.merged_chunks()}
            )  # fmt: skip
        rows += [
            {"name": f"chunks of {k:>3} tokens", "value": v}
            for k, v in sorted(self.chunk_sizes.items())
        ]
        rows += [{"name": f"errors: {k}", "value": v} for k, v in sorted(self.errors.items())]
        return rows + self.final
