"""The steady state of a closed-loop cell, and the headline throughput drawn from it.

A closed-loop cell with ``c`` users has a ramp-up (all users send their first request together)
and a drain (after the last send, requests finish with fewer than ``c`` in flight and run
faster). Neither happens to a server that serves ``c`` users for hours, which is what capacity
planning asks about. So:

- **Steady requests**: those sent *after* the c-th send (the first wave, sent together, is the
  ramp-up) and ended *no later than* the drain began (the first end after the last send). Every
  one of them ran while all ``c`` users were busy. Only send and end times are needed, no user
  ids. With fewer than :data:`MIN_STEADY` such requests the cell is too short to have a steady
  state and every request is kept (``steady_fallback``).
- **Steady tok/s** (the headline, ``output_tokens_per_s`` of a group and of the speedup):
  Little's law over the steady requests, ``c * sum(tokens) / sum(E2E)``: with ``c`` requests in
  flight, requests complete at ``c / mean E2E`` per second. Client think time between a user's
  requests is left out (the harness's gap, not the server's capacity).
- **Share kept**: steady requests / requests, and the all-busy span (c-th send to drain start) /
  the cell's window (first send to last end).

Other estimators are kept and labelled: ``littles_all`` (the same law over every request, which
counts the drain's faster requests) and ``window`` (tokens / first send to last end, which counts
ramp-up and drain time at less than ``c`` users).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this many steady requests a cell has no usable steady state: every request is kept.
MIN_STEADY = 4


@dataclass(frozen=True)
class SteadySpan:
    mask: np.ndarray  # bool per request: ran with all users busy
    fallback: bool  # too few steady requests: the mask keeps every request
    time_share: float | None  # all-busy span / window; None without a window

    @property
    def request_share(self) -> float | None:
        return float(self.mask.mean()) if len(self.mask) else None


def steady_span(send_ns: np.ndarray, end_ns: np.ndarray, users: int | None) -> SteadySpan:
    """The steady requests of one cell (open loop, ``users`` None: every request)."""
    n = len(send_ns)
    keep_all = SteadySpan(np.ones(n, dtype=bool), True, None)
    if n == 0 or users is None:
        return keep_all
    send, end = np.asarray(send_ns, dtype=np.int64), np.asarray(end_ns, dtype=np.int64)
    window = int(end.max() - send.min())
    last_send = int(send.max())
    after = end[end > last_send]
    drain_start = int(after.min()) if len(after) else int(end.max())
    if users <= 1:  # no ramp-up and no drain: one user is always busy
        return SteadySpan(np.ones(n, dtype=bool), False, 1.0)
    if n < users:
        return keep_all
    all_in = int(np.sort(send)[users - 1])
    mask = (send > all_in) & (end <= drain_start)
    span = max(drain_start - all_in, 0)
    share = span / window if window else None
    if int(mask.sum()) < MIN_STEADY:
        return SteadySpan(np.ones(n, dtype=bool), True, share)
    return SteadySpan(mask, False, share)


def littles_tps(tokens: np.ndarray, e2e_ms: np.ndarray, users: int) -> float | None:
    """``users * sum(tokens) / sum(E2E)`` in tokens per second (None without any latency)."""
    total = float(np.sum(e2e_ms))
    return users * float(np.sum(tokens)) / total * 1000 if total else None


# A cell's first requests are a cold start when both their TTFTs exceed this multiple of the
# median TTFT of the requests sent after the first wave (the first wave of c users prefills
# together, so it is left out of the reference).
COLD_FACTOR = 4.0
COLD_FIRST = 2
COLD_MIN_REST = 4


def cold_start_flag(send_ns: np.ndarray, ttft_ms: np.ndarray, users: int | None) -> str | None:
    """One sentence when the cell's first requests look like a server that was not warm."""
    order = np.argsort(send_ns, kind="stable")
    ttft = np.asarray(ttft_ms, dtype=float)[order]
    first = ttft[:COLD_FIRST]
    rest = ttft[max(users or 1, COLD_FIRST) :]
    rest = rest[~np.isnan(rest)]
    if len(first) < COLD_FIRST or np.isnan(first).any() or len(rest) < COLD_MIN_REST:
        return None
    median = float(np.median(rest))
    if median <= 0 or first.min() <= COLD_FACTOR * median:
        return None
    shown = ", ".join(f"{t:.0f}" for t in first)
    return (
        f"cold start: the first {COLD_FIRST} requests' TTFTs ({shown} ms) exceed {COLD_FACTOR:g}x "
        f"the median of the later ones ({median:.0f} ms): the server was not warm; raise warmup"
    )


def steady_figures(
    send_ns: np.ndarray, end_ns: np.ndarray, tokens: np.ndarray, e2e_ms: np.ndarray, users: int
) -> dict[str, float | bool | None]:
    """A closed-loop cell's steady-state tok/s and what it keeps (for its ``summary.json``)."""
    span = steady_span(send_ns, end_ns, users)
    return {
        "steady_output_tokens_per_s": littles_tps(tokens[span.mask], e2e_ms[span.mask], users),
        "steady_request_share": span.request_share,
        "steady_time_share": span.time_share,
        "steady_fallback": span.fallback,
    }
