"""FAKE ENGINE, simulated: a continuous-batching server driven by c closed-loop users.

Not an engine and not HTTP: a discrete-event model whose steady-state throughput is known in
closed form, so throughput estimators can be checked against truth. Every step serves every
request in flight one token and lasts ``a + b * in_flight + p * joined`` (``joined``: requests
whose first token, the prefill's, this step makes), times a log-normal jitter and the cell's
``drift`` factor. Users re-send as soon as a request ends (it joins the next step), so in the
steady state exactly ``c`` requests are in flight and, with ``L`` tokens per request,

    truth tok/s = c / (drift * (a + b * c + p * c / mean(L)))      (jitter has mean 1)

All users start together (ramp-up: ``c`` prefills in the first step) and the last requests end
with fewer than ``c`` in flight (drain: shorter steps), as in a real closed-loop cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loadgen.analysis.columns import RequestColumns

MS = 1_000_000


@dataclass(frozen=True)
class SimServer:
    a_ms: float = 10.0  # fixed cost per step
    b_ms: float = 0.25  # per request in flight
    p_ms: float = 4.0  # per prefill joining the step
    osl: tuple[int, int] = (48, 80)  # output tokens, uniform in [low, high]
    jitter: float = 0.05  # log-normal sigma of each step's time

    def truth_tps(self, users: int, drift: float = 1.0) -> float:
        mean_len = (self.osl[0] + self.osl[1]) / 2
        step_ms = self.a_ms + self.b_ms * users + self.p_ms * users / mean_len
        return users / (drift * step_ms) * 1000


@dataclass(frozen=True)
class SimCell:
    send_ns: np.ndarray
    end_ns: np.ndarray
    tokens: np.ndarray
    ttft_ms: np.ndarray


def simulate(
    server: SimServer, users: int, requests: int, seed: int, drift: float = 1.0
) -> SimCell:
    """One closed-loop cell of ``requests`` requests from ``users`` users."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(server.osl[0], server.osl[1] + 1, requests)
    send, end = np.zeros(requests, np.int64), np.zeros(requests, np.int64)
    first = np.zeros(requests, np.int64)
    left = lengths.copy()
    active: list[int] = list(range(min(users, requests)))
    joining = set(active)
    issued, now = len(active), 0
    while active:
        step_ms = server.a_ms + server.b_ms * len(active) + server.p_ms * len(joining)
        now += int(step_ms * drift * rng.lognormal(-(server.jitter**2) / 2, server.jitter) * MS)
        done = []
        for r in active:
            left[r] -= 1
            if r in joining:
                first[r] = now
            if left[r] == 0:
                end[r] = now
                done.append(r)
        joining = set()
        for r in done:
            active.remove(r)
            if issued < requests:  # the same user sends its next request at once
                send[issued] = now
                active.append(issued)
                joining.add(issued)
                issued += 1
    return SimCell(send, end, lengths.astype(float), (first - send) / MS)


def columns(cell: SimCell, users: int, repeat: int = 0) -> RequestColumns:
    """The cell as the analysis reads it (steady requests marked)."""
    from loadgen.analysis.steady import steady_span

    n = len(cell.send_ns)
    e2e = (cell.end_ns - cell.send_ns) / MS
    return RequestColumns(
        category=np.array(["mixed"] * n, dtype=object),
        output_tokens=cell.tokens,
        ttft_ms=cell.ttft_ms,
        tpot_ms=(e2e - cell.ttft_ms) / np.maximum(cell.tokens - 1, 1),
        e2e_ms=e2e,
        later_chunks=cell.tokens - 1,
        later_tokens=cell.tokens - 1,
        failed=0,
        steady=steady_span(cell.send_ns, cell.end_ns, users).mask,
        repeat=np.full(n, repeat, dtype=np.int64),
    )
