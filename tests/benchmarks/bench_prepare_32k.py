"""Benchmark: pre-tokenize a data set the size of ``throughput_32k`` (1,536 rows x ~32k o200k
tokens, about 49M tokens) with the tiny demo model's tokenizer, end to end through
``prepare_to_disk`` (load + validate + template + encode + o200k count + Parquet). Prints tokens/s,
wall time and peak RSS. Target: <= 60 s with bounded memory. Run under the CPU lock:

    flock /tmp/speedbench-cpu.lock python -m tests.benchmarks.bench_prepare_32k [--rows 1536]

Rows are windows into the offline corpus (stdlib code for low entropy, the reference manual for
high, alternating for mixed), each starting at a different offset; the corpus is only ~0.6M
tokens, so text recurs across rows here -- fine for a throughput figure, not for measuring SD.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from loadgen.data.corpus import code_paragraphs, prose_paragraphs
from loadgen.data.o200k import count_o200k
from loadgen.data.prepare import isl_table, prepare_to_disk
from loadgen.data.schema import ENTROPY_TIERS
from loadgen.model_factory import build_tiny_model

TARGET_O200K = 32_000


def corpus(tier: str) -> str:
    code, prose = list(code_paragraphs()), list(prose_paragraphs())
    if tier == "low_entropy":
        return "\n\n".join(code)
    if tier == "high_entropy":
        return "\n\n".join(prose)
    return "\n\n".join(c + "\n\n" + p for c, p in zip(code, prose, strict=False))


def write_rows(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for t, tier in enumerate(ENTROPY_TIERS):
            text = corpus(tier)
            chars = int(TARGET_O200K * len(text[:400_000]) / count_o200k(text[:400_000]) * 0.97)
            doubled = text + "\n\n" + text
            for i in range(rows // len(ENTROPY_TIERS)):
                start = (i * 7919 * 13) % len(text)
                body = doubled[start : start + chars] + f"\n\nSummarise the above. ({tier} {i})"
                row = {
                    "question_id": hashlib.md5(
                        f"{t}/{i}".encode(), usedforsecurity=False
                    ).hexdigest(),
                    "category": tier,
                    "sub_category": "bench",
                    "turns": [body],
                    "source": "speedbench-offline-corpus",
                    "src_id": f"{tier}/{i}",
                    "difficulty": None,
                    "multiturn": False,
                }
                fh.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1536)
    parser.add_argument("--batch-rows", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        model = build_tiny_model(base / "model")
        raw = base / "raw"
        raw.mkdir()
        write_rows(raw / "throughput_32k.jsonl", args.rows)
        size_mb = (raw / "throughput_32k.jsonl").stat().st_size / 1e6
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start, cpu_start = time.perf_counter(), time.process_time()
        prepared = prepare_to_disk(
            str(raw), ["throughput_32k"], str(model), base / "out", batch_rows=args.batch_rows
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stats = prepared.manifest["isl_stats"]
        meta = pq.ParquetFile(base / "out" / "prompts.parquet").metadata
        tokens = sum(
            pq.read_table(base / "out" / "prompts.parquet", columns=["prompt_token_ids"])
            .column(0)
            .combine_chunks()
            .value_lengths()
            .to_pylist()
        )
        print(
            f"rows: {args.rows}  input JSONL: {size_mb:.0f} MB  row groups: {meta.num_row_groups}"
        )
        print(f"target tokens: {tokens:,}  wall: {wall:.1f} s  tokens/s: {tokens / wall:,.0f}")
        print(f"CPU time (all threads): {cpu:.1f} s  = {cpu / wall:.2f} cores busy on average")
        print(f"peak RSS: {rss:.0f} MiB (before prepare: {rss_before:.0f} MiB)")
        print(isl_table(stats))


if __name__ == "__main__":
    main()
