"""Requests as columns: ``requests.parquet`` -> numpy arrays of the per-request figures.

The per-request schema stays :class:`~loadgen.client.record.RequestRecord`; this module computes
the derived figures of :mod:`loadgen.client.figures` (ok, output tokens, TTFT, TPOT, E2E, steps
and their tokens) vectorised over
the stored columns, so a report over a million requests never builds a million objects. Derived
figures are still computed from the raw times, never stored. Open-loop cells count TTFT and E2E
from the intended send time (``from_intended``): a request the schedule had to hold back was late
for its user too (no coordinated omission).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loadgen.analysis.steady import steady_span
from loadgen.client import figures
from loadgen.client.figures import NS_PER_MS
from loadgen.client.record import RequestRecord

RAW_COLUMNS = [
    "category",
    "intended_send_ns",
    "send_ns",
    "end_ns",
    "chunk_ns",
    "chunk_tokens",
    "usage_output_tokens",
    "error_kind",
]


@dataclass(frozen=True)
class RequestColumns:
    """The successful requests of one or more cells (failed ones are only counted)."""

    category: np.ndarray  # str objects
    output_tokens: np.ndarray  # float
    ttft_ms: np.ndarray  # float, NaN when no token came
    tpot_ms: np.ndarray  # float, NaN with fewer than two token chunks
    e2e_ms: np.ndarray  # float
    later_chunks: np.ndarray  # token chunks after the first
    later_tokens: np.ndarray  # tokens in those chunks
    failed: int
    # bool: ran while all users were busy (:mod:`loadgen.analysis.steady`); open loop: all True
    steady: np.ndarray | None = None
    repeat: np.ndarray | None = None  # int: which cell (repeat) each request came from

    def __len__(self) -> int:
        return len(self.e2e_ms)

    def tokens_per_step(self) -> float | None:
        """Client tokens per chunk after the first, pooled (:mod:`loadgen.client.figures`)."""
        return figures.tokens_per_step(self.later_tokens.sum(), self.later_chunks.sum())

    def select(self, mask: np.ndarray) -> RequestColumns:
        return RequestColumns(
            self.category[mask],
            self.output_tokens[mask],
            self.ttft_ms[mask],
            self.tpot_ms[mask],
            self.e2e_ms[mask],
            self.later_chunks[mask],
            self.later_tokens[mask],
            0,
            self.steady_mask()[mask],
            self.repeats()[mask],
        )

    def steady_mask(self) -> np.ndarray:
        return np.ones(len(self), dtype=bool) if self.steady is None else self.steady

    def repeats(self) -> np.ndarray:
        return np.zeros(len(self), dtype=np.int64) if self.repeat is None else self.repeat

    @classmethod
    def concat(cls, parts: Sequence[RequestColumns]) -> RequestColumns:
        """Repeats of one cell combined into one sample; ``repeat`` numbers the parts."""
        joined = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _ARRAYS}
        steady = np.concatenate([p.steady_mask() for p in parts])
        repeat = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(parts)])
        return cls(**joined, failed=sum(p.failed for p in parts), steady=steady, repeat=repeat)


_ARRAYS = (
    "category",
    "output_tokens",
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "later_chunks",
    "later_tokens",
)


def read_columns(
    path: Path, from_intended: bool = False, users: int | None = None
) -> RequestColumns:
    return from_table(pq.read_table(path, columns=RAW_COLUMNS), from_intended, users)


def from_table(
    table: pa.Table, from_intended: bool = False, users: int | None = None
) -> RequestColumns:
    """``users``: a closed-loop cell's concurrency, which marks its steady requests."""
    ok = pc.is_null(table["error_kind"]).to_numpy(zero_copy_only=False)
    n = table.num_rows
    times = _flat(table["chunk_ns"])
    tokens = _flat(table["chunk_tokens"])
    lengths = pc.list_value_length(table["chunk_ns"]).fill_null(0).to_numpy(zero_copy_only=False)
    parent = np.repeat(np.arange(n), lengths)
    carrying = tokens > 0
    times, tokens, parent = times[carrying], tokens[carrying], parent[carrying]
    count = np.bincount(parent, minlength=n)
    total = np.bincount(parent, weights=tokens, minlength=n)
    first_at = np.cumsum(count) - count
    has_one, has_two = count >= 1, count >= 2
    first_t, last_t = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    first_n = np.zeros(n)
    first_t[has_one] = times[first_at[has_one]]
    last_t[has_one] = times[first_at[has_one] + count[has_one] - 1]
    first_n[has_one] = tokens[first_at[has_one]]
    origin = "intended_send_ns" if from_intended else "send_ns"
    send = table[origin].to_numpy().astype(np.int64)
    later_tokens = total - first_n
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(has_two, (last_t - first_t) / later_tokens / NS_PER_MS, np.nan)
    end = table["end_ns"].to_numpy().astype(np.int64)
    actual_send = table["send_ns"].to_numpy().astype(np.int64)
    steady = steady_span(actual_send, end, users).mask
    usage = table["usage_output_tokens"].to_numpy(zero_copy_only=False).astype(float)
    return RequestColumns(
        category=table["category"].to_numpy(zero_copy_only=False)[ok],
        output_tokens=np.where(np.isnan(usage), total, usage)[ok],
        ttft_ms=np.where(has_one, (first_t - send) / NS_PER_MS, np.nan)[ok],
        tpot_ms=tpot[ok],
        e2e_ms=((end - send) / NS_PER_MS)[ok],
        later_chunks=np.maximum(count - 1, 0).astype(float)[ok],
        later_tokens=later_tokens[ok],
        failed=n - int(ok.sum()),
        steady=steady[ok],
    )


def _flat(column: pa.ChunkedArray) -> np.ndarray:
    flat = pc.list_flatten(column)
    return np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.int64)


def columns_of(
    records: Sequence[RequestRecord], from_intended: bool = False, users: int | None = None
) -> RequestColumns:
    """The same columns from in-memory records (one cell, e.g. right after it ran)."""
    if not records:
        arrays = {name: np.array([], dtype=float) for name in _ARRAYS}
        return RequestColumns(**{**arrays, "category": np.array([], dtype=object)}, failed=0)
    table = pa.Table.from_pylist([r.to_dict() for r in records])
    return from_table(table.select(RAW_COLUMNS), from_intended, users)


def stalled(times: np.ndarray, parent: np.ndarray, n: int) -> np.ndarray:
    """Per request: did its stream stall (``figures.stall_ms`` > 0)? ``times``/``parent``: the
    token chunks' arrival times and request index, in record order."""
    tight = np.zeros(len(times), dtype=bool)  # chunk i came within the burst gap of chunk i-1
    tight[1:] = (np.diff(times) < figures.BURST_GAP_NS) & (parent[1:] == parent[:-1])
    window = figures.BURST_CHUNKS - 1  # a burst of k chunks is k - 1 tight gaps in a row
    if len(tight) < window:
        return np.zeros(n, dtype=bool)
    runs = np.convolve(tight, np.ones(window, dtype=int), "valid") == window
    return np.bincount(parent[window - 1 :][runs], minlength=n) > 0
