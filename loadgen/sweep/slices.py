"""Which prompts each cell sends: disjoint slices of every bucket, recorded in the manifest.

A results directory's manifest holds ``prompts``: each cell's first prompt (the same on every
server), the warm-up's first prompt and the next prompt no cell has used. A new sweep lays the
slices out as :meth:`SweepPlan.prompt_start` does (warm-up, then repeat by repeat, load point by
load point). Cells added later (an extension, or the rates a rate sweep chose) take fresh slices
after every slice already given out, so the slices of measured cells never move and a server
(and its prefix cache) never sees a prompt twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadgen.load.point import LoadPoint
from loadgen.sweep.plan import SweepPlan


def cell_key(bucket: str, load: LoadPoint, repeat: int) -> str:
    return f"{bucket}/{load.slug}/r{repeat}"


@dataclass
class PromptSlices:
    """Each cell's first prompt (by :func:`cell_key`), the warm-up's, and the next unused one."""

    cells: dict[str, int] = field(default_factory=dict)
    warmup_start: int = 0
    next: int = 0

    @classmethod
    def laid_out(cls, plan: SweepPlan) -> PromptSlices:
        """A new sweep's slices (the layout every sweep had before they were recorded)."""
        cells = {
            cell_key(bucket, load, repeat): plan.prompt_start(repeat, i)
            for repeat in range(plan.repeats)
            for bucket in plan.buckets
            for i, load in enumerate(plan.load_points())
        }
        return cls(cells, 0, plan.prompts_per_bucket())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PromptSlices:
        return cls(dict(data["cells"]), int(data["warmup_start"]), int(data["next"]))

    def to_json(self) -> dict[str, Any]:
        return {"cells": self.cells, "warmup_start": self.warmup_start, "next": self.next}

    def start(self, bucket: str, load: LoadPoint, repeat: int) -> int:
        return self.cells[cell_key(bucket, load, repeat)]

    def new_cells(self, plan: SweepPlan) -> list[tuple[str, LoadPoint, int]]:
        """The plan's cells that have no slice yet, in the plan's order."""
        return [
            (bucket, load, repeat)
            for repeat in range(plan.repeats)
            for bucket in plan.buckets
            for load in plan.load_points()
            if cell_key(bucket, load, repeat) not in self.cells
        ]

    def extended(self, plan: SweepPlan, fresh_warmup: bool) -> PromptSlices:
        """These slices plus fresh ones for the plan's new cells (and, ``fresh_warmup``, a fresh
        warm-up: servers warmed up before must not be sent the old warm-up prompts again)."""
        cells, start = dict(self.cells), self.next
        warmup_start = self.warmup_start
        new = self.new_cells(plan)
        if fresh_warmup and new:
            warmup_start, start = start, start + plan.warmup
        shared: dict[tuple[str, int], int] = {}  # one slice per new load and repeat, all buckets
        for bucket, load, repeat in new:
            if (load.slug, repeat) not in shared:
                shared[load.slug, repeat] = start
                start += plan.requests_for(load)
            cells[cell_key(bucket, load, repeat)] = shared[load.slug, repeat]
        return PromptSlices(cells, warmup_start, start)
