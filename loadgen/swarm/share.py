"""Which measured prompts this Locust process sends and (open loop) when.

Prompts ``[start, start + warmup)`` of the bucket warm the server up (sent by the run's owner
before the metrics window opens, see ``swarm.lifecycle``); ``[start + warmup, ... + requests)``
are measured. In a distributed run worker ``index`` of ``share`` takes every ``share``-th
measured prompt, so no prompt is sent twice across workers (prefix caching would otherwise
flatter TTFT) and the workers' parts add up to the whole run exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from loadgen.data.prepared import PreparedPrompt
from loadgen.load.arrivals import Arrivals, arrival_offsets_ns
from loadgen.prompt_pool import PromptPool


@dataclass(frozen=True)
class Slot:
    prompt: PreparedPrompt
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

    measured: list[PreparedPrompt]
    offsets_ns: list[int] | None = None  # open loop: one per measured prompt
    _next: int = 0
    measured_start_ns: int | None = None

    @classmethod
    def share_of(
        cls,
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
        return cls(own, offsets)

    def take(self) -> Slot | None:
        if self._next >= len(self.measured):
            return None
        if self.measured_start_ns is None:
            self.measured_start_ns = time.perf_counter_ns()
        i, self._next = self._next, self._next + 1
        intended = None if self.offsets_ns is None else self.measured_start_ns + self.offsets_ns[i]
        return Slot(self.measured[i], intended)
