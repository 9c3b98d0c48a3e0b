"""Open-loop send times on an absolute clock: Poisson, gamma (with burstiness) or constant.

Offsets are drawn once, up front, from a seeded generator, so a run's schedule is reproducible and
never bends to the server: a late request is late against this clock (no coordinated omission).
With ``share`` processes each drawing its own part at ``rate / share`` the union is the asked-for
process (superposed Poisson is Poisson; constant streams are interleaved by a phase offset).
"""

from __future__ import annotations

import random
from typing import Literal

Arrivals = Literal["poisson", "gamma", "constant"]
ARRIVALS: tuple[Arrivals, ...] = ("poisson", "gamma", "constant")
NS_PER_S = 1_000_000_000


def arrival_offsets_ns(
    kind: Arrivals,
    rate: float,
    count: int,
    burstiness: float = 1.0,
    seed: int = 0,
    index: int = 0,
    share: int = 1,
) -> list[int]:
    """Send offsets (ns from the start of the measured phase) of this process's ``count`` requests.

    ``rate`` is the whole run's requests/s; this process (``index`` of ``share``) sends at
    ``rate / share``. Gamma follows vLLM's convention: shape ``burstiness``, mean gap ``1/rate``
    (burstiness 1 is Poisson, < 1 burstier, > 1 smoother).
    """
    if rate <= 0:
        raise ValueError(f"--rate must be > 0 requests/s for an open-loop run (got {rate})")
    if burstiness <= 0:
        raise ValueError(f"--burstiness must be > 0 (got {burstiness})")
    own_rate = rate / share
    if kind == "constant":
        phase = index / rate
        return [round((phase + i / own_rate) * NS_PER_S) for i in range(count)]
    rng = random.Random(seed * 1_000_003 + index)
    shape = 1.0 if kind == "poisson" else burstiness
    t, out = 0.0, []
    for _ in range(count):
        t += rng.gammavariate(shape, 1.0 / (own_rate * shape))
        out.append(round(t * NS_PER_S))
    return out
