"""Benchmark: what cutting prompts to ``max_seq_length`` word pieces costs the diverse selection.

Embeds the same candidates (``bench_diverse``'s, fewer of them) at a reference length and at
shorter ones, selects with each, and scores every selection with the *reference* embeddings, so
the figures say how diverse the chosen prompts really are, not how diverse they look to the
shorter embedding. Prints prompts/s per length. Run under the CPU lock:

    flock /tmp/speedbench-cpu.lock env HF_HUB_OFFLINE=1 \\
        python -m tests.benchmarks.bench_diverse_truncation [--candidates 2200 --per-category 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from loadgen.data.diverse import (
    categories_of,
    mean_pairwise_cosine,
    prompt_text,
    random_baseline,
    select_diverse,
)
from loadgen.data.embed import DEFAULT_EMBEDDER, embed
from tests.benchmarks.bench_diverse import candidates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=2200)
    parser.add_argument("--per-category", type=int, default=40)
    parser.add_argument("--reference", type=int, default=256)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 64, 32])
    args = parser.parse_args()
    rows = candidates(args.candidates)
    texts = [prompt_text(r) for r in rows]
    groups = categories_of(rows, args.per_category)
    vectors = {}
    for length in [args.reference, *args.lengths]:
        start = time.perf_counter()
        vectors[length] = embed(texts, DEFAULT_EMBEDDER, max_seq_length=length)
        wall = time.perf_counter() - start
        print(f"max_seq_length {length:>4}: {len(texts) / wall:6.1f} prompts/s ({wall:.1f} s)")
    ref = vectors[args.reference]
    rng = np.random.default_rng(0)
    random = np.mean([random_baseline(ref[ix], args.per_category, rng) for ix in groups.values()])
    print(f"mean pairwise cosine under the {args.reference}-piece reference embeddings:")
    print(f"  random subsets: {random:.4f}")
    for length in [args.reference, *args.lengths]:
        scores = []
        for ix in groups.values():
            picked = select_diverse(vectors[length][ix], args.per_category)
            scores.append(mean_pairwise_cosine(ref[ix][picked]))
        print(f"  selected with max_seq_length {length:>4}: {np.mean(scores):.4f}")


if __name__ == "__main__":
    main()
