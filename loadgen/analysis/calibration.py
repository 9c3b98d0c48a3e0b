"""A/A calibration: a server compared with itself, whose true speedup is exactly 1.

A plan with ``aa: true`` runs every baseline a second time as ``<name>-aa`` with the baseline as
its baseline. Its rows say how far this machine's noise alone moves a speedup: the **A/A spread**
(the largest ``|speedup - 1|`` over the plan's A/A rows), whether each interval holds 1, and the
**minimum detectable effect** of the plan (:mod:`loadgen.analysis.intervals`): a measured SD
speedup smaller than that is not evidence on this machine with these repeats and requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadgen.analysis.bootstrap import ALL
from loadgen.analysis.speedup import SpeedupRow

AA_SUFFIX = "-aa"


def is_aa(row: SpeedupRow) -> bool:
    return row.variant == row.baseline + AA_SUFFIX


@dataclass(frozen=True)
class AaSpread:
    rows: list[SpeedupRow]
    spread: float | None  # max |speedup - 1|
    holding: int  # intervals that hold 1
    with_interval: int

    @property
    def worst_mde(self) -> float | None:
        known = [r.mde_output_tps for r in self.rows if r.mde_output_tps is not None]
        return max(known) if known else None


def aa_spread(rows: Sequence[SpeedupRow]) -> AaSpread:
    mine = [r for r in rows if is_aa(r) and r.category == ALL]
    values = [abs(r.speedup_output_tps - 1) for r in mine if r.speedup_output_tps is not None]
    bounded = [r for r in mine if r.ci_low is not None and r.ci_high is not None]
    holding = sum(1 for r in bounded if (r.ci_low or 0) <= 1 <= (r.ci_high or 0))
    return AaSpread(mine, max(values) if values else None, holding, len(bounded))
