"""The engine-independent acceptance record, and reset-aware counter deltas over a window."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CounterDelta:
    value: float
    reset: bool  # the counter went down: the engine restarted inside the window


def counter_delta(before: float, after: float) -> CounterDelta:
    """Like Prometheus ``increase()`` over two points: a drop means a restart from zero."""
    if after < before:
        return CounterDelta(after, True)
    return CounterDelta(after - before, False)


@dataclass(frozen=True)
class Acceptance:
    """What SD bought in a window. All-null figures for a baseline (no drafts were made)."""

    source: str
    drafts: float | None = None
    draft_tokens: float | None = None
    accepted_tokens: float | None = None
    per_position: list[float] = field(default_factory=list)
    counter_reset: bool = False
    # True when the engine only exposes interval gauges (SGLang) or partial iteration stats, so
    # drafts / tokens are reconstructed from averages rather than counted.
    estimate: bool = False

    @property
    def acceptance_rate(self) -> float | None:
        if not self.draft_tokens or self.accepted_tokens is None:
            return None
        return self.accepted_tokens / self.draft_tokens

    @property
    def acceptance_length(self) -> float | None:
        """Tokens produced per target-model step: 1 (the bonus/verified token) + accepted/drafts."""
        if not self.drafts or self.accepted_tokens is None:
            return None
        return 1.0 + self.accepted_tokens / self.drafts

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["acceptance_rate"] = self.acceptance_rate
        data["acceptance_length"] = self.acceptance_length
        return data
