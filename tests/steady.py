"""The steady-state requests of a closed-loop cell, written out from the report's definition
(docs: loadgen/analysis/steady.py) in plain Python, so tests recompute the headline tok/s
without calling the code under test."""

from __future__ import annotations

MIN_STEADY = 4


def steady_requests(spans: list[tuple[int, int]], c: int) -> list[int]:
    """Indices of the (send, end) spans sent after the c-th send and ended by the first end
    after the last send; every index when c is 1 or fewer than MIN_STEADY qualify."""
    if c == 1 or len(spans) < c:
        return list(range(len(spans)))
    all_in = sorted(send for send, _ in spans)[c - 1]
    last_send = max(send for send, _ in spans)
    drain = min((end for _, end in spans if end > last_send), default=max(e for _, e in spans))
    kept = [i for i, (send, end) in enumerate(spans) if send > all_in and end <= drain]
    return kept if len(kept) >= MIN_STEADY else list(range(len(spans)))
