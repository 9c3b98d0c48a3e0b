"""A cell's load point: closed loop at a concurrency, or open loop at a rate with its arrivals.

One value keys a cell everywhere: its directory (``c16``, ``rate4.0``), its label in tables and
plots (``c=16``, ``rate=4.0/s``), its place in a series (closed-loop cells form one series ordered
by concurrency; open-loop cells one per arrival process, ordered by rate) and its block in
``summary.json``. Open-loop latencies count from the intended send time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from loadgen.load.arrivals import ARRIVALS, Arrivals

CLOSED = "closed"
OPEN = "open"


@dataclass(frozen=True)
class LoadPoint:
    concurrency: int | None = None  # closed loop: users, each sending when its last request ended
    rate: float | None = None  # open loop: requests/s of the cell, on an absolute clock
    arrivals: Arrivals = "poisson"
    burstiness: float = 1.0  # gamma shape (1 = Poisson); only meaningful for gamma

    def __post_init__(self) -> None:
        if (self.concurrency is None) == (self.rate is None):
            raise ValueError("a load point is either a concurrency (closed) or a rate (open)")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 (got {self.concurrency})")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be > 0 requests/s (got {self.rate})")
        if self.arrivals not in ARRIVALS:
            raise ValueError(f"arrivals must be one of {ARRIVALS} (got {self.arrivals!r})")
        if self.burstiness <= 0 or (self.burstiness != 1.0 and self.arrivals != "gamma"):
            raise ValueError("burstiness is a gamma shape > 0, only for gamma arrivals")

    @classmethod
    def closed(cls, concurrency: int) -> LoadPoint:
        return cls(concurrency=concurrency)

    @classmethod
    def open(
        cls, rate: float, arrivals: Arrivals = "poisson", burstiness: float = 1.0
    ) -> LoadPoint:
        return cls(rate=float(rate), arrivals=arrivals, burstiness=float(burstiness))

    @property
    def is_open(self) -> bool:
        return self.rate is not None

    @property
    def mode(self) -> str:
        return OPEN if self.is_open else CLOSED

    @property
    def level(self) -> float:
        """The position within its series: concurrency, or rate."""
        return float(self.rate if self.rate is not None else cast(int, self.concurrency))

    @property
    def series(self) -> str:
        """Cells comparable along one axis: all closed-loop cells, or one arrival process."""
        if not self.is_open:
            return CLOSED
        return f"{OPEN} {self.arrivals}" + self._shape(" b=")

    def _shape(self, prefix: str) -> str:
        return f"{prefix}{self.burstiness:g}" if self.arrivals == "gamma" else ""

    @property
    def label(self) -> str:
        """``c=16``, ``rate=4.0/s``, ``rate=4.0/s constant``, ``rate=4.0/s gamma b=0.5``."""
        if not self.is_open:
            return f"c={self.concurrency}"
        kind = "" if self.arrivals == "poisson" else f" {self.arrivals}"
        return f"rate={self.rate}/s{kind}{self._shape(' b=')}"

    @property
    def slug(self) -> str:
        """A directory name: ``c16``, ``rate4.0``, ``rate4.0-constant``, ``rate4.0-gamma0.5``."""
        if not self.is_open:
            return f"c{self.concurrency}"
        kind = "" if self.arrivals == "poisson" else f"-{self.arrivals}"
        return f"rate{self.rate}{kind}{self._shape('')}"

    def sort_key(self) -> tuple[int, str, float]:
        return (int(self.is_open), self.series, self.level)

    def to_dict(self) -> dict[str, Any]:
        """The ``load`` block of a cell's ``summary.json``."""
        return {
            "mode": self.mode,
            "label": self.label,
            "concurrency": self.concurrency,
            "rate_rps": self.rate,
            "arrivals": self.arrivals if self.is_open else None,
            "burstiness": self.burstiness if self.is_open else None,
        }
