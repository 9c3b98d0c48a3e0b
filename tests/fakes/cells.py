"""FAKE RESULTS for report tests and the report benchmark: cell directories with synthetic records.

Not measurements. Each cell looks exactly like one ``run_cell`` writes (``manifest.json``,
``requests.parquet`` in the RequestRecord schema, ``summary.json`` from ``summarize_cell``), with
closed-loop users (or, with ``rate``, Poisson arrivals on an open-loop schedule), a TTFT, and
chunks whose sizes follow a draft/accept process: SD servers stream several tokens per chunk but
take longer per step, and the step time grows with concurrency (open loop: with the requests a
rate keeps in flight), so SD wins at low load and loses at high load, as on real engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from loadgen.analysis.schedule import schedule_report
from loadgen.analysis.summary import summarize_cell
from loadgen.client.sink import RECORDS_PARQUET, read_parquet
from loadgen.load.arrivals import arrival_offsets_ns
from loadgen.load.point import LoadPoint
from loadgen.metrics.acceptance import Acceptance
from loadgen.results.io import write_cell_manifest, write_cell_summary, write_sweep_manifest
from loadgen.results.schemas import CellManifest, LoadBlock, SweepManifest
from loadgen.runspec import RunSpec

MS = 1_000_000
TIERS = ("low_entropy", "mixed", "high_entropy")
TIER_ACCEPT = {"low_entropy": 0.8, "mixed": 0.55, "high_entropy": 0.3}


@dataclass(frozen=True)
class FakeServer:
    name: str
    baseline: str | None = None
    engine: str = "vllm"
    speculative: str | None = None
    draft_tokens: int = 0  # k
    step_ms: float = 20.0
    step_growth: float = 0.08  # per extra concurrent user
    sd_overhead: float = 0.25  # extra step time per draft token, relative, grows with load
    accept: dict[str, float] | None = None  # per-tier acceptance (default TIER_ACCEPT)


def write_cell(
    cell_dir: Path,
    server: FakeServer,
    bucket: str,
    concurrency: int,
    requests: int,
    osl: int = 64,
    seed: int = 0,
    summarize: bool = True,
    rate: float | None = None,
) -> None:
    rng = np.random.default_rng(seed)
    n, k = requests, server.draft_tokens
    if rate is not None:  # Little's law: a rate keeps about rate x E2E requests in flight
        concurrency = max(1, round(rate * server.step_ms * osl / 1000))
    tiers = np.array([TIERS[i % len(TIERS)] for i in range(n)], dtype=object)
    by_tier = server.accept or TIER_ACCEPT
    accept = np.array([by_tier[t] for t in tiers]) if k else np.zeros(n)
    # Chunk sizes: 1 + accepted drafts (geometric acceptance, capped at k); first chunk is 1 token.
    sizes = 1 + np.minimum(rng.geometric(1 - np.minimum(accept, 0.99)[:, None], (n, osl)) - 1, k)
    sizes[:, 0] = 1
    ends = np.cumsum(sizes, axis=1)
    counts = np.argmax(ends >= osl, axis=1) + 1
    sizes[np.arange(n), counts - 1] -= ends[np.arange(n), counts - 1] - osl
    step = server.step_ms * (1 + server.step_growth * (concurrency - 1))
    step *= 1 + server.sd_overhead * k * (1 + 0.1 * concurrency) / 3
    gaps = step * rng.lognormal(0, 0.15, (n, osl)) * MS
    ttft = (60 + 8 * concurrency + int(bucket.rstrip("k") or 1) * 20) * rng.lognormal(0, 0.2, n)
    gaps[:, 0] = ttft * MS
    offsets_in_req = np.cumsum(gaps, axis=1).astype(np.int64)
    mask = np.arange(osl)[None, :] < counts[:, None]
    e2e = offsets_in_req[np.arange(n), counts - 1] + 2 * MS
    send = np.zeros(n, dtype=np.int64)
    if rate is not None:
        send[:] = arrival_offsets_ns("poisson", rate, n, seed=seed)
    else:
        for user in range(concurrency):
            mine = np.arange(user, n, concurrency)
            send[mine] = np.concatenate([[user * MS], user * MS + np.cumsum(e2e[mine])[:-1]])
    chunk_ns = (offsets_in_req + send[:, None])[mask]
    chunk_tokens = sizes[mask]
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    table = pa.table(
        {
            "request_id": [f"{server.name}-{bucket}-{concurrency}-{i}" for i in range(n)],
            "question_id": [f"{i:032x}" for i in range(n)],
            "bucket": [bucket] * n,
            "category": tiers.tolist(),
            "prompt_len": np.full(n, int(bucket.rstrip("k") or 1) * 1000),
            "max_tokens": np.full(n, osl),
            "intended_send_ns": send,
            "wall_start": np.zeros(n),
            "send_ns": send,
            "headers_ns": send + MS,
            "end_ns": send + e2e,
            "chunk_ns": pa.ListArray.from_arrays(offsets, pa.array(chunk_ns)),
            "chunk_tokens": pa.ListArray.from_arrays(offsets, pa.array(chunk_tokens)),
            "token_count_source": ["usage"] * n,
            "usage_prompt_tokens": np.full(n, int(bucket.rstrip("k") or 1) * 1000),
            "usage_output_tokens": np.full(n, osl),
            "finish_reason": ["length"] * n,
            "http_status": np.full(n, 200),
            "error_kind": pa.nulls(n, pa.string()),
            "error": pa.nulls(n, pa.string()),
        }
    )
    cell_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, cell_dir / RECORDS_PARQUET)
    run = RunSpec(
        url="http://fake", server=server.name, baseline=server.baseline, bucket=bucket,
        data_dir=cell_dir, requests=n, concurrency=concurrency, rate=rate, warmup=0,
    )  # fmt: skip
    write_cell_manifest(cell_dir, CellManifest(run=run, locust_command=[], started_wall=0.0))
    if not summarize:
        return
    drafts = float((counts - 1).sum()) if k else None
    accepted = float((chunk_tokens - 1).sum()) if k else None
    acceptance = Acceptance(
        source="FAKE",
        drafts=drafts,
        draft_tokens=None if drafts is None else drafts * k,
        accepted_tokens=accepted,
        per_position=[float(np.mean(accept) ** (i + 1)) for i in range(k)],
    )
    records = read_parquet(cell_dir / RECORDS_PARQUET)
    load = LoadPoint.closed(concurrency) if rate is None else LoadPoint.open(rate)
    summary = summarize_cell(server.name, bucket, load.concurrency, records, acceptance, None)
    summary.load = LoadBlock.model_validate(load.to_dict())
    summary.schedule = schedule_report(records, closed=rate is None)
    write_cell_summary(cell_dir, summary)


def write_results(
    out: Path,
    servers: list[FakeServer],
    buckets: list[str],
    concurrencies: list[int],
    requests: int,
    repeats: int = 1,
    osl: int = 64,
    slos: dict[str, float | str] | None = None,
    rates: tuple[float, ...] = (),
) -> Path:
    """A sweep-shaped results directory of fake cells, plus its top-level manifest (cells that
    already have a summary are kept, so a large directory can be generated in several goes)."""
    seed = 0
    for server in servers:
        for repeat in range(repeats):
            for bucket in buckets:
                loads = [LoadPoint.closed(c) for c in concurrencies]
                for load in loads + [LoadPoint.open(r) for r in rates]:
                    seed += 1
                    cell = out / "cells" / server.name / bucket / load.slug / f"r{repeat}"
                    if not (cell / "summary.json").is_file():
                        conc = load.concurrency or 1
                        write_cell(cell, server, bucket, conc, requests, osl, seed, rate=load.rate)
    manifest = SweepManifest(
        plan={"name": "FAKE results for tests", "slos": slos or {}},
        plan_sha256="FAKE",
        servers={
            s.name: {"engine": s.engine, "speculative": s.speculative, "baseline": s.baseline}
            for s in servers
        },
    )
    write_sweep_manifest(out, manifest)
    return out
