"""The engine-independent acceptance record, and reset-aware counter deltas over a window.

The SD figures, defined once here (PRODUCT.md, "The measurements"):

- **AL while drafting** (``acceptance_length``): 1 + accepted / drafts. Engines count a draft only
  on steps where one was proposed (ngram proposes nothing when it finds no match), so this is the
  length of the steps that drafted, not what the speedup follows.
- **Tokens per target step**: 1 + accepted / decode steps, over *all* decode steps of the
  window, drafted or not: what the speedup follows. From the engine's own step count where it
  exposes one (``Acceptance.target_steps``), else from the client's chunks
  (:mod:`loadgen.client.figures`), which a server or proxy that merges chunks inflates.
- **Drafted share**: drafts / decode steps, the share of steps that drafted.
- **Conditional acceptance rate** AR_k = accepted_k / accepted_(k-1), with drafts for k = 1
  (SPEED-Bench's P(L >= k) / P(L >= k-1)); the unconditional rate is accepted_k / drafts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
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
    # Decode steps of every request in the window, drafted or not, counted by the engine; None
    # when the engine exposes no such count (vLLM 0.32, SGLang): the client's chunks stand in.
    target_steps: float | None = None

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

    @property
    def conditional_per_position(self) -> list[float | None]:
        """AR_k from the unconditional per-position rates (accepted_k / drafts)."""
        return conditional_rates([1.0, *self.per_position])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["acceptance_rate"] = self.acceptance_rate
        data["acceptance_length"] = self.acceptance_length
        data["conditional_per_position"] = self.conditional_per_position
        return data


def conditional_rates(reached: Sequence[float]) -> list[float | None]:
    """AR_k = reached_k / reached_(k-1) for k >= 1, where ``reached[k]`` counts (or is the share
    of) the steps that accepted at least k tokens (``reached[0]``: the drafts). None where no step
    reached k-1."""
    return [b / a if a else None for a, b in itertools.pairwise(reached)]


def reached_from_histogram(histogram: Sequence[float]) -> list[float]:
    """Steps that accepted at least k tokens, k = 0..K, from counts of steps that accepted
    exactly j (vLLM's per-request ``acceptance_histogram``, or chunk sizes minus one)."""
    return [float(sum(histogram[k:])) for k in range(len(histogram))]


@dataclass(frozen=True)
class StepFigures:
    """AL while drafting beside tokens per target step (definitions: the module docstring)."""

    al_while_drafting: float | None
    tokens_per_target_step: float | None
    target_steps: float | None
    drafted_share: float | None
    steps_source: str


CLIENT_STEPS = (
    "client chunks after the first (one chunk per step; merged chunks would inflate tokens "
    "per step)"
)


def step_figures(acceptance: Acceptance, client_tokens: int, client_steps: int) -> StepFigures:
    """The engine's step count when it has one, else the client's steps (tokens in the chunks
    after the first / those chunks)."""
    drafts = acceptance.drafts
    steps: float | None
    per_step: float | None
    if acceptance.target_steps and acceptance.accepted_tokens is not None:
        steps = acceptance.target_steps
        per_step = 1.0 + acceptance.accepted_tokens / acceptance.target_steps
        source = f"{acceptance.source}: engine step count"
    else:
        steps = float(client_steps) if client_steps else None
        per_step = client_tokens / client_steps if client_steps else None
        source = CLIENT_STEPS
    return StepFigures(
        al_while_drafting=acceptance.acceptance_length,
        tokens_per_target_step=per_step,
        target_steps=steps,
        drafted_share=drafts / steps if drafts is not None and steps else None,
        steps_source=source,
    )
