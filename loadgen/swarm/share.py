"""Which prompts this Locust process sends, in which phase, and (open loop) when.

Prompts ``[start, start + warmup)`` of the bucket warm the server up; ``[start + warmup, ... +
requests)`` are measured. In a distributed run worker ``index`` of ``share`` takes every
``share``-th prompt of both lists, so no prompt is sent twice across workers (prefix caching would
otherwise flatter TTFT) and the workers' parts add up to the whole run exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import gevent.event

from loadgen.data.prepared import PreparedPrompt
from loadgen.load.arrivals import Arrivals, arrival_offsets_ns
from loadgen.prompt_pool import PromptPool


@dataclass(frozen=True)
class Slot:
    prompt: PreparedPrompt
    warmup: bool
    intended_send_ns: int | None  # None: closed loop, send now


def bucket_slice(
    data_dir: Path, bucket: str, start: int, warmup: int, requests: int
) -> tuple[list[PreparedPrompt], list[PreparedPrompt]]:
    """(warm-up prompts, measured prompts) of the whole run; ``requests`` 0 = the rest."""
    if warmup < 0:
        raise ValueError(f"--warmup must be >= 0 (got {warmup})")
    count = None if requests == 0 else warmup + requests
    prompts = PromptPool.from_prepared(data_dir, bucket, start, count).prompts
    if len(prompts) <= warmup:
        raise ValueError(f"{warmup} warm-up requests leave none of {len(prompts)} to measure")
    return prompts[:warmup], prompts[warmup:]


@dataclass
class ProcessPlan:
    """This process's part of the run; users ``take()`` slots until it returns None."""

    warmup: list[PreparedPrompt]
    measured: list[PreparedPrompt]
    offsets_ns: list[int] | None = None  # open loop: one per measured prompt
    _next_warm: int = 0
    _next: int = 0
    _warm_in_flight: int = 0
    measured_start_ns: int | None = None
    _warm_done: gevent.event.Event = field(default_factory=gevent.event.Event)

    @classmethod
    def share_of(
        cls,
        warmup: list[PreparedPrompt],
        measured: list[PreparedPrompt],
        index: int,
        share: int,
        arrivals: Arrivals | None,
        rate: float,
        burstiness: float,
        seed: int,
    ) -> ProcessPlan:
        own = measured[index::share]
        offsets = (
            None
            if arrivals is None
            else arrival_offsets_ns(arrivals, rate, len(own), burstiness, seed, index, share)
        )
        plan = cls(warmup[index::share], own, offsets)
        if not plan.warmup:
            plan._warm_done.set()
        return plan

    def take(self) -> Slot | None:
        """The next slot; measured slots wait until every warm-up request of this process ended."""
        if self._next_warm < len(self.warmup):
            self._next_warm += 1
            self._warm_in_flight += 1
            return Slot(self.warmup[self._next_warm - 1], True, None)
        self._warm_done.wait()
        if self._next >= len(self.measured):
            return None
        if self.measured_start_ns is None:
            self.measured_start_ns = time.perf_counter_ns()
        i, self._next = self._next, self._next + 1
        intended = None if self.offsets_ns is None else self.measured_start_ns + self.offsets_ns[i]
        return Slot(self.measured[i], False, intended)

    def warmup_ended(self) -> None:
        self._warm_in_flight -= 1
        if self._warm_in_flight == 0 and self._next_warm == len(self.warmup):
            self._warm_done.set()
