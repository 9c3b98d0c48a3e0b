"""The automatic rate sweep (``rate_sweep:`` in a plan), as guidellm's ``sweep`` offers.

The closed-loop cells run first; the saturation throughput is the most requests/s any of them
completed (every server, bucket and repeat: the highest concurrency of the fastest server, as a
rule). Then ``points`` open-loop rates spread evenly from ``low`` to ``high`` times that
saturation are measured on every server, like rates given by hand. The saturation, the cell it
came from and the rates are recorded in the manifest (``rate_sweep``) and shown in the report;
a resumed or extended sweep keeps them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loadgen.results.io import SUMMARY_FILE, read_cell_summary
from loadgen.sweep.plan import PlanError, RateSweep


def saturation(cells: list[Path]) -> tuple[float, Path]:
    """The most requests/s a finished cell completed, and that cell."""
    measured = []
    for directory in cells:
        if (directory / SUMMARY_FILE).is_file():
            summary = read_cell_summary(directory)
            if summary.duration_s > 0 and summary.requests_ok:
                measured.append((summary.requests_ok / summary.duration_s, directory))
    if not measured:
        raise PlanError(
            "rate_sweep: no closed-loop cell completed a request, so there is no saturation "
            "throughput to choose rates below: check the servers and re-run to resume"
        )
    return max(measured)


def spread(sweep: RateSweep, saturation_rps: float) -> list[float]:
    """``points`` rates from ``low`` to ``high`` times saturation, to 3 significant digits."""
    step = (sweep.high - sweep.low) / (sweep.points - 1)
    rates = [float(f"{saturation_rps * (sweep.low + i * step):.3g}") for i in range(sweep.points)]
    if len(set(rates)) != len(rates) or min(rates) <= 0:
        raise PlanError(
            f"rate_sweep: saturation {saturation_rps:.3g} requests/s gives too few distinct "
            f"rates for {sweep.points} points ({rates}): lower `points`"
        )
    return rates


def choose(sweep: RateSweep, cells: list[Path], out: Path) -> dict[str, Any]:
    """The manifest's ``rate_sweep`` block: saturation, where it was measured, the rates."""
    rps, where = saturation(cells)
    return {
        "saturation_rps": round(rps, 4),
        "saturation_cell": str(where.relative_to(out)),
        **sweep.model_dump(),
        "rates": spread(sweep, rps),
    }


def describe(chosen: dict[str, Any]) -> str:
    """The report's line about the rate sweep."""
    rates = ", ".join(f"{r:g}" for r in chosen["rates"])
    return (
        f"saturation {chosen['saturation_rps']:.3g} requests/s ({chosen['saturation_cell']}); "
        f"rates {rates} requests/s"
    )
