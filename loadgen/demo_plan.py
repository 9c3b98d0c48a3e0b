"""The demo's grid: buckets, concurrencies, requests and the two CPU variants it compares.

Apart from the demo itself so that ``speedbench --help`` knows its defaults without importing
the demo (and the sweep, the report and the analysis behind it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loadgen.sweep.plan import SweepPlan

PREPARED = Path("data") / "prepared"


@dataclass(frozen=True)
class DemoPlan:
    buckets: tuple[str, ...] = ("1k", "2k")
    concurrencies: tuple[int, ...] = (1, 4)
    requests_per_user: int = 4
    min_requests: int = 6
    osl: int = 128
    warmup: int = 2
    variants: tuple[str, ...] = ("vllm-cpu-base", "vllm-cpu-ngram")

    def sweep_plan(self, model: str, port: int) -> SweepPlan:
        """The sweep the demo is: its variants launched here, closed loop, one repeat."""
        return SweepPlan.model_validate(
            dict(
                name="demo",
                model=model,
                data=str(PREPARED),
                servers=[{"variant": v} for v in self.variants],
                buckets=list(self.buckets),
                concurrencies=list(self.concurrencies),
                osl=self.osl,
                requests=self.min_requests,
                requests_per_user=self.requests_per_user,
                warmup=self.warmup,
                port=port,
            )
        )
