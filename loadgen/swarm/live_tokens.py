"""Live figures for Locust's web UI: output tokens/s over the last seconds, tokens per chunk.

Fed with whole records as they end (on the master in a distributed run: every worker's), so the
rate is credited at request end; the exact per-chunk timings stay in the records.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

from loadgen.client import figures
from loadgen.client.record import RequestRecord

WINDOW_S = 10.0


class LiveTokens:
    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._recent: deque[tuple[float, int]] = deque()
        self.chunk_sizes: Counter[int] = Counter()
        self.tokens = 0
        self.requests = 0
        self.errors: Counter[str] = Counter()

    def add(self, record: RequestRecord, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.requests += 1
        if record.error_kind:
            self.errors[record.error_kind] += 1
        self.tokens += record.output_tokens
        self._recent.append((now, record.output_tokens))
        self.chunk_sizes.update(record.step_sizes)

    def tokens_per_s(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        return sum(n for _, n in self._recent) / self.window_s

    def mean_tokens_per_chunk(self) -> float | None:
        tokens = sum(k * v for k, v in self.chunk_sizes.items())
        return figures.tokens_per_step(tokens, sum(self.chunk_sizes.values()))

    def rows(self) -> list[dict[str, Any]]:
        """Rows of the web UI's "speedbench" table (name, value)."""
        mean = self.mean_tokens_per_chunk()
        rows: list[dict[str, Any]] = [
            {"name": f"output tokens/s (last {self.window_s:g} s)", "value": self.tokens_per_s()},
            {"name": "mean tokens per chunk", "value": "-" if mean is None else round(mean, 3)},
            {"name": "measured requests ended", "value": self.requests},
            {"name": "output tokens", "value": self.tokens},
        ]
        rows += [
            {"name": f"chunks of {k} tokens", "value": v}
            for k, v in sorted(self.chunk_sizes.items())
        ]
        rows += [{"name": f"errors: {k}", "value": v} for k, v in sorted(self.errors.items())]
        return rows
