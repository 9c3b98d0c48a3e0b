"""A server's cells in one bucket x load point, repeats combined: the unit every comparison uses.

Cells are read from a results directory (``*/summary.json`` + ``manifest.json`` +
``requests.parquet``, validated by :mod:`loadgen.results.io`); only the per-request columns the
statistics need are kept in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadgen.analysis.columns import RequestColumns, read_columns
from loadgen.analysis.parallel import parallel_map
from loadgen.analysis.steady import littles_tps
from loadgen.client.sink import RECORDS_PARQUET
from loadgen.load.point import LoadPoint
from loadgen.results.io import SUMMARY_FILE, cell_dirs, read_cell_manifest, read_cell_summary
from loadgen.results.schemas import CellSummary


@dataclass
class CellGroup:
    server: str
    baseline: str | None
    bucket: str
    load: LoadPoint
    summaries: list[CellSummary]
    columns: RequestColumns  # open loop: TTFT and E2E from the intended send time

    @property
    def key(self) -> tuple[str, str, LoadPoint]:
        return self.server, self.bucket, self.load

    @property
    def concurrency(self) -> int | None:
        return self.load.concurrency

    @property
    def kept_up(self) -> bool:
        """Open loop: every repeat kept to its schedule (closed-loop cells have no schedule)."""
        return all((s.schedule or {}).get("kept_up", True) for s in self.summaries)

    @property
    def send_lag_p99_ms(self) -> float | None:
        """Open loop: the worst repeat's p99 lag behind the schedule."""
        lags = [(s.schedule or {}).get("send_lag_ms", {}).get("p99") for s in self.summaries]
        known = [lag for lag in lags if lag is not None]
        return max(known) if self.load.is_open and known else None

    @property
    def output_tps(self) -> float | None:
        """The headline output tok/s: closed loop, steady state (:mod:`loadgen.analysis.steady`);
        open loop, the delivered (window) tok/s. Repeats pooled."""
        c = self.load.concurrency
        if c is None:
            return self.window_output_tps
        steady = self.columns.steady_mask()
        return littles_tps(self.columns.output_tokens[steady], self.columns.e2e_ms[steady], c)

    @property
    def window_output_tps(self) -> float | None:
        """Labelled estimator: measured tokens over measured windows, repeats pooled."""
        duration = sum(s.duration_s or 0.0 for s in self.summaries)
        return sum(s.output_tokens for s in self.summaries) / duration if duration else None

    @property
    def steady_request_share(self) -> float | None:
        """Share of the requests the steady-state figure keeps."""
        return float(self.columns.steady_mask().mean()) if len(self.columns) else None

    @property
    def acceptance_length(self) -> float | None:
        drafts = [s.acceptance.drafts for s in self.summaries]
        accepted = [s.acceptance.accepted_tokens or 0.0 for s in self.summaries]
        if any(d is None for d in drafts):
            return None
        total = sum(d or 0.0 for d in drafts)
        return 1 + sum(accepted) / total if total else None

    @property
    def target_steps(self) -> float | None:
        """Decode steps over the repeats (engine count or client chunks: ``steps_source``)."""
        steps = [s.acceptance.target_steps for s in self.summaries]
        return None if any(v is None for v in steps) else sum(v or 0.0 for v in steps)

    @property
    def tokens_per_target_step(self) -> float | None:
        """Pooled over repeats, each weighted by its decode steps."""
        steps = self.target_steps
        per_step = [s.acceptance.tokens_per_target_step for s in self.summaries]
        if not steps or any(v is None for v in per_step):
            return None
        weights = [s.acceptance.target_steps or 0.0 for s in self.summaries]
        return sum((v or 0.0) * w for v, w in zip(per_step, weights, strict=True)) / steps

    @property
    def drafted_share(self) -> float | None:
        drafts = [s.acceptance.drafts for s in self.summaries]
        steps = self.target_steps
        if not steps or any(d is None for d in drafts):
            return None
        return sum(d or 0.0 for d in drafts) / steps

    @property
    def per_position(self) -> list[float]:
        """Per-position acceptance rates, averaged over repeats."""
        lists = [s.acceptance.per_position for s in self.summaries]
        lists = [p for p in lists if p]
        if not lists:
            return []
        width = min(len(p) for p in lists)
        return [float(np.mean([p[i] for p in lists])) for i in range(width)]

    @property
    def client_tokens_per_chunk(self) -> float | None:
        return self.columns.tokens_per_step()

    @property
    def flags(self) -> list[str]:
        return [flag for s in self.summaries for flag in s.flags]

    def summary_distribution(self, metric: str, stat: str) -> float | None:
        """A summary figure (e.g. ttft_ms p90) from the pooled requests of all repeats."""
        values = getattr(self.columns, metric)
        values = values[~np.isnan(values)]
        if not len(values):
            return None
        return float(values.mean()) if stat == "mean" else float(np.quantile(values, _Q[stat]))

    def to_dict(self) -> dict[str, Any]:
        """Pooled figures of the group (for the sweep-level ``summary.json``)."""
        figures: dict[str, Any] = {
            "server": self.server,
            "baseline": self.baseline,
            "bucket": self.bucket,
            "concurrency": self.concurrency,
            "load": self.load.to_dict(),
            "kept_up": self.kept_up,
            "send_lag_p99_ms": self.send_lag_p99_ms,
            "repeats": len(self.summaries),
            "requests_ok": len(self.columns),
            "requests_failed": self.columns.failed,
            "output_tokens_per_s": self.output_tps,
            "output_tokens_per_s_estimator": "window" if self.load.is_open else "steady",
            "window_output_tokens_per_s": self.window_output_tps,
            "steady_request_share": self.steady_request_share,
            "acceptance_length": self.acceptance_length,
            "tokens_per_target_step": self.tokens_per_target_step,
            "drafted_share": self.drafted_share,
            "per_position": self.per_position,
            "client_tokens_per_chunk": self.client_tokens_per_chunk,
            "flags": self.flags,
        }
        for metric in ("ttft_ms", "tpot_ms", "e2e_ms"):
            figures[metric] = {s: self.summary_distribution(metric, s) for s in ("mean", *_Q)}
        return figures


_Q = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def load_groups(results_dir: Path) -> list[CellGroup]:
    cells = cell_dirs(results_dir)
    summaries = [read_cell_summary(cell) for cell in cells]
    loads = [s.load_point() for s in summaries]
    columns = parallel_map(
        read_columns,
        [cell / RECORDS_PARQUET for cell in cells],
        [p.is_open for p in loads],
        [p.concurrency for p in loads],
    )
    found: dict[
        tuple[str, str, LoadPoint], tuple[str | None, list[CellSummary], list[RequestColumns]]
    ]
    found = {}
    for cell, summary, load, cols in zip(cells, summaries, loads, columns, strict=True):
        manifest = read_cell_manifest(cell)
        key = (summary.server, summary.bucket, load)
        _, mine, parts = found.setdefault(key, (manifest.baseline, [], []))
        mine.append(summary)
        parts.append(cols)
    if not found:
        raise FileNotFoundError(f"no cells (*/{SUMMARY_FILE}) under {results_dir}")
    groups = [
        CellGroup(server, baseline, bucket, load, mine, RequestColumns.concat(parts))
        for (server, bucket, load), (baseline, mine, parts) in found.items()
    ]
    return sorted(groups, key=group_order)


def group_order(g: CellGroup) -> tuple[float, tuple[int, str, float], str]:
    return bucket_order(g.bucket), g.load.sort_key(), g.server


def bucket_order(bucket: str) -> float:
    return float(bucket[:-1]) if bucket[:-1].isdigit() else float("inf")
