"""FAKE ENGINE with a known step-time law, run step by step: cells of synthetic records.

Not measurements. An independent, step-driven implementation (not loadgen/predict/simulate.py):
each step costs ``(a + b*batch + c*context/1000 + p*prefill/1000 + q*attention/1e6) *
lognormal(0, noise)`` ms (attention: each prefilled token times the prompt tokens it attends),
every running request streams one chunk per step (SD: 1 + accepted drafts, geometric acceptance
capped at k), new requests wait ``o`` ms then join at a step boundary up to ``batch_limit``, and
their prefill lengthens that step; with a ``budget`` (tokens per step, decode tokens first) a
prompt is prefilled in chunks over several steps, first come first served, as vLLM's chunked
prefill. Closed loop (users) or open loop (arrivals), like the harness. A ``Stalls`` reader
holds some requests' chunks and hands them over in one burst, merged, as a client that reads late
behind a server that coalesces what it could not send.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loadgen.analysis.summary import summarize_cell
from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_PARQUET, write_parquet
from loadgen.load.arrivals import arrival_offsets_ns
from loadgen.load.point import LoadPoint
from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.vllm import REQUEST_LATENCY
from loadgen.results.io import write_cell_manifest, write_cell_summary
from loadgen.results.schemas import CellManifest, LoadBlock
from loadgen.runspec import RunSpec

MS = 1_000_000


@dataclass(frozen=True)
class Law:
    name: str
    baseline: str | None = None
    a: float = 6.0  # ms per step
    b: float = 0.5  # ms per sequence
    c: float = 0.4  # ms per 1000 context tokens
    p: float = 30.0  # ms per 1000 prompt tokens prefilled
    q: float = 0.0  # ms per 1000 prompt tokens prefilled x 1000 prompt tokens each attends
    o: float = 3.0  # ms per request outside steps
    k: int = 0  # draft tokens
    accept: float = 0.7
    noise: float = 0.08  # lognormal sigma of each step's duration
    batch_limit: int = 1 << 30
    budget: int | None = None  # tokens per step (prefill chunks + decode); None: whole prompts
    # (category, acceptance) in turn per request: domains that draft better or worse
    categories: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Stalls:
    """A late reader: ``share`` of the requests stall once, at a random chunk, for ``hold_ms``;
    the chunks held come 1 us apart, every ``merge`` of them coalesced into one."""

    share: float = 0.3
    hold_ms: float = 300.0
    merge: int = 2

    def apply(self, recs: list[RequestRecord], rng: np.random.Generator) -> None:
        for rec in recs:
            if len(rec.chunk_ns) < 3 or rng.random() >= self.share:
                continue
            start = int(rng.integers(1, len(rec.chunk_ns) - 1))
            until = rec.chunk_ns[start] + int(self.hold_ms * MS)
            held = start + int(np.searchsorted(rec.chunk_ns[start:], until, "right"))
            tokens = rec.chunk_tokens[start:held]
            merged = [sum(tokens[i : i + self.merge]) for i in range(0, len(tokens), self.merge)]
            release = max(until, rec.chunk_ns[held - 1])
            rec.chunk_ns[start:held] = [release + 1000 * j for j in range(len(merged))]
            rec.chunk_tokens[start:held] = merged
            rec.end_ns = max(rec.end_ns, rec.chunk_ns[-1] + 100_000)


@dataclass(frozen=True)
class FakeCell:
    """One cell of a law; open loop sends on ``schedule_seed``'s arrivals (default: ``seed``'s)."""

    law: Law
    bucket: str
    load: LoadPoint
    requests: int
    osl: int
    seed: int
    schedule_seed: int | None = None
    stalls: Stalls | None = None
    # engine scrapes around the cell (vLLM's request-latency histogram) after this many earlier
    # requests; None: no scrapes (as a cell measured through PromQL or with --no-metrics)
    scraped_after: int | None = None

    def records(self, prefills: list[tuple[float, int]] | None = None) -> list[RequestRecord]:
        """``prefills``, if given, gets each step's end (ms) and prompt tokens prefilled in it."""
        recs = _run(self.law, self.bucket, self.load, self.requests, self.osl, self.seed,
                    self.seed if self.schedule_seed is None else self.schedule_seed,
                    prefills)  # fmt: skip
        if self.stalls is not None:
            self.stalls.apply(recs, np.random.default_rng(self.seed + 10_000))
        return recs

    def write(self, out: Path) -> Path:
        """The cell's records, manifest and summary under ``out``, as a sweep writes them."""
        law, bucket, load = self.law, self.bucket, self.load
        cell = out / "cells" / law.name / bucket / load.slug / "r0"
        cell.mkdir(parents=True, exist_ok=True)
        records = self.records()
        write_parquet(records, cell / RECORDS_PARQUET)
        run = RunSpec(
            url="http://fake", server=law.name, baseline=law.baseline, data_dir=cell,
            bucket=bucket, requests=self.requests, osl=self.osl,
            concurrency=load.concurrency or self.requests, rate=load.rate,
            arrivals=load.arrivals, burstiness=load.burstiness, warmup=0,
        )  # fmt: skip
        write_cell_manifest(cell, CellManifest(run=run, locust_command=[], started_wall=0.0))
        summary = summarize_cell(
            law.name, bucket, load.concurrency, records, Acceptance(source="FAKE"), None
        )
        summary.load = LoadBlock.model_validate(load.to_dict())
        write_cell_summary(cell, summary)
        if self.scraped_after is not None:
            self.write_scrapes(cell, records, self.scraped_after)
        return cell

    def write_scrapes(self, cell: Path, records: list[RequestRecord], before: int) -> None:
        """The engine's own latency per request: from its arrival (send + o) to its last step,
        which the client reads 0.1 ms later, so client E2E - engine latency = o + 0.1 ms."""
        inside_ms = sum((r.end_ns - r.send_ns) / MS - self.law.o - 0.1 for r in records)
        done = before + len(records)
        for stage, count, total in (
            ("before", before, 0.5 * before),
            ("after", done, 0.5 * before + inside_ms / 1000),
        ):
            (cell / f"metrics_{stage}.txt").write_text(latency_exposition(count, total))


def latency_exposition(count: int, seconds: float) -> str:
    """vLLM's request-latency histogram as it exposes it (count and sum; buckets left out)."""
    labels = '{engine="0",model_name="fake"}'
    return (
        f"# TYPE {REQUEST_LATENCY} histogram\n"
        f"{REQUEST_LATENCY}_count{labels} {float(count)}\n"
        f"{REQUEST_LATENCY}_sum{labels} {seconds!r}\n"
    )


def _run(
    law: Law,
    bucket: str,
    load: LoadPoint,
    requests: int,
    osl: int,
    seed: int,
    schedule: int,
    prefills: list[tuple[float, int]] | None = None,
) -> list[RequestRecord]:
    rng = np.random.default_rng(seed)
    prompt = int(bucket.rstrip("k")) * 1000
    prompts = rng.integers(int(prompt * 0.9), int(prompt * 1.1), requests)
    if load.is_open:
        sends = (
            np.asarray(
                arrival_offsets_ns(
                    load.arrivals,
                    load.rate or 1,
                    requests,
                    seed=schedule,
                ),
                float,
            )
            / MS
        )
    else:
        sends = np.full(requests, np.inf)
        sends[: load.concurrency] = 0.0
    issued = min(load.concurrency or requests, requests)
    kinds = law.categories or (("mixed", law.accept),)
    recs = [
        RequestRecord(
            f"{law.name}-{i}", f"{i:032x}", bucket, kinds[i % len(kinds)][0], int(p), osl, 0, 0.0
        )
        for i, p in enumerate(prompts)
    ]
    running: dict[int, int] = {}  # id -> tokens so far
    waiting: dict[int, int] = {}  # id -> prompt tokens still to prefill (admission order)
    clock, nxt = 0.0, 0
    while nxt < requests or running or waiting:
        while (
            nxt < requests
            and len(running) + len(waiting) < law.batch_limit
            and sends[nxt] + law.o <= clock
        ):
            waiting[nxt] = int(prompts[nxt])
            nxt += 1
        if not running and not waiting:
            clock = sends[nxt] + law.o
            continue
        room = (law.budget or 1 << 62) - len(running) * (law.k + 1)
        chunks: dict[int, int] = {}
        for i, todo in waiting.items():
            if room <= 0:
                break
            chunks[i] = min(todo, room)
            room -= chunks[i]
        ctx = sum(int(prompts[i]) + t for i, t in running.items()) + sum(
            int(prompts[i]) - waiting[i] + take for i, take in chunks.items()
        )
        batch = len(running) + len(chunks)
        # a chunk's token attends to the prompt before the chunk and to the chunk up to itself
        attention = sum(
            take * (int(prompts[i]) - waiting[i] + take / 2) for i, take in chunks.items()
        )
        clock += (
            law.a + law.b * batch + law.c * ctx / 1000 + law.p * sum(chunks.values()) / 1000
            + law.q * attention / 1e6
        ) * rng.lognormal(0, law.noise)  # fmt: skip
        if prefills is not None:
            prefills.append((clock, sum(chunks.values())))
        for i in list(running):
            accept = kinds[i % len(kinds)][1]
            made = 1 + min(int(rng.geometric(1 - accept)) - 1, law.k) if law.k else 1
            made = min(made, osl - running[i])
            running[i] += made
            _chunk(recs[i], clock, made, rng)
            if running[i] >= osl:
                del running[i]
                recs[i].end_ns = int((clock + 0.1) * MS)
                if not load.is_open and issued < requests:
                    sends[issued] = clock + 0.1
                    issued += 1
        for i, take in chunks.items():
            waiting[i] -= take
            if waiting[i] == 0:
                del waiting[i]
                recs[i].send_ns = recs[i].intended_send_ns = int(sends[i] * MS)
                _chunk(recs[i], clock, 1, rng)
                running[i] = 1
    for r, s in zip(recs, sends, strict=True):
        r.send_ns = r.intended_send_ns = int(s * MS)
        r.usage_prompt_tokens, r.usage_output_tokens = r.prompt_len, osl
    return recs


def _chunk(rec: RequestRecord, clock: float, tokens: int, rng: np.random.Generator) -> None:
    rec.chunk_ns.append(int((clock + rng.uniform(0, 0.05)) * MS))
    rec.chunk_tokens.append(tokens)


def write_sweep(
    out: Path,
    laws: list[Law],
    buckets: list[str],
    loads: list[LoadPoint],
    requests: int = 200,
    osl: int = 64,
    first_seed: int = 1,
    scraped_after: int | None = None,
) -> Path:
    """Every law x bucket x load cell; cell k = 0, 1, ... (in that order) runs on seed
    first_seed + k, its open-loop arrivals on seed 1 + k: another ``first_seed`` measures the
    same grid again (a repeat: the same schedules, the engine's own randomness redrawn);
    ``scraped_after``: each cell with the engine's latency scrapes (``FakeCell``)."""
    k = 0
    for law in laws:
        for bucket in buckets:
            for load in loads:
                n = max(requests, 4 * (load.concurrency or 0))
                FakeCell(
                    law, bucket, load, n, osl, first_seed + k, 1 + k, None, scraped_after
                ).write(out)
                k += 1
    return out
