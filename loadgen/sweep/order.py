"""When each server runs each cell: the order that decides whether drift becomes "speedup".

A machine drifts (thermal state, other work, caches); if every variant cell runs after every
baseline cell, the drift is read as speedup (issue 20). The orders:

- ``sequential`` (default, cheapest): each server's cells in one block, servers in plan order.
  Launched variants start once each. Drift between the blocks falls on one side.
- ``interleaved`` (``url:`` servers only, no extra cost): cell by cell, servers in A B, B A
  order within a repeat and the pattern flipped each repeat (A B B A, B A A B, ...), so a
  drift linear over two cells falls on both sides equally *and* each load point's cells
  alternate which server goes first across repeats. (Flipping per cell alone made a plan with
  two load points run B first at every c=4 cell, so any cost of going first, e.g. the first
  cell after a change of load, would be read as speedup.) An even number of repeats balances
  the first place exactly.
- ``random`` (``url:`` servers only): servers shuffled per cell, seeded by ``order_seed``
  (default 0, recorded with the plan), for drift that is not linear.
- ``interleaved_launches`` (launched variants): each repeat launches every server in turn, the
  order alternating per repeat (A B, B A, ...). Costs ``repeats - 1`` extra start-ups and
  warm-ups per server; drift between repeats then falls on both sides.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from loadgen.sweep.plan import SweepPlan
from loadgen.sweep.plan_server import ResolvedServer

C = TypeVar("C")


@dataclass(frozen=True)
class Block(Generic[C]):
    """Cells one server runs back to back (launched servers: within one launch)."""

    server: ResolvedServer
    cells: list[C]


def schedule(
    plan: SweepPlan, servers: Sequence[ResolvedServer], cells: Sequence[C], repeat_of: dict[C, int]
) -> list[Block[C]]:
    """The plan's cells as blocks in time order."""
    order = plan.order or "sequential"
    if order == "sequential":
        return [Block(s, list(cells)) for s in servers]
    if order == "interleaved_launches":
        repeats = sorted(set(repeat_of.values()))
        return [
            Block(s, [c for c in cells if repeat_of[c] == r])
            for r in repeats
            for s in (servers if r % 2 == 0 else list(reversed(servers)))
        ]
    rng = random.Random(plan.order_seed or 0)
    blocks: list[Block[C]] = []
    place: Counter[int] = Counter()  # the cell's place within its repeat
    for cell in cells:
        flip = (repeat_of[cell] + place[repeat_of[cell]]) % 2
        place[repeat_of[cell]] += 1
        turn = list(reversed(servers)) if flip else list(servers)
        if order == "random":
            rng.shuffle(turn)
        blocks += [Block(s, [cell]) for s in turn]
    return blocks
