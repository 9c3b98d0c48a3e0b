"""Benchmark: how much of the full-length diverse selection each cheaper embedding keeps.

Embeds the same candidates (``bench_diverse``'s, fewer of them) with the transformer at a
reference length and with each configuration (``EMBEDDING[:MAX_SEQ_LENGTH]``: the transformer
cut to fewer word pieces, static token vectors, or the hybrid of both), selects with each, and
scores every selection with the *reference* embeddings, so the figures say how diverse the chosen
prompts really are, not how diverse they look to the cheaper embedding. Prints prompts/s per
configuration (static tables are distilled once into a temporary cache first; that time is
printed apart) and the share of the reference selection's gain over random subsets kept. Run
under the CPU lock:

    flock /tmp/speedbench-cpu.lock env HF_HUB_OFFLINE=1 \\
        python -m tests.benchmarks.bench_diverse_truncation [--candidates 1100 --per-category 20] \\
        [--configs transformer:128 transformer:32 hybrid:24 hybrid:16 static]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from loadgen.data.diverse import (
    categories_of,
    mean_pairwise_cosine,
    prompt_text,
    random_baseline,
    select_diverse,
)
from loadgen.data.embed import DEFAULT_EMBEDDER, embed_prompts, resolve_embedder
from loadgen.data.static_embed import load_static
from tests.benchmarks.bench_diverse import candidates

CONFIGS = ["transformer:128", "transformer:32", "hybrid:24", "hybrid:16", "static"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=1100)
    parser.add_argument("--per-category", type=int, default=20)
    parser.add_argument("--reference", type=int, default=256)
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    args = parser.parse_args()
    rows = candidates(args.candidates)
    texts = [prompt_text(r) for r in rows]
    groups = categories_of(rows, args.per_category)
    reference = f"transformer:{args.reference}"
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        load_static(resolve_embedder(DEFAULT_EMBEDDER), Path(cache))
        print(f"distilling the static table (once): {time.perf_counter() - start:.1f} s")
        vectors = {}
        for config in [reference, *args.configs]:
            embedding, _, length = config.partition(":")
            start = time.perf_counter()
            vectors[config], _ = embed_prompts(
                texts, embedding, DEFAULT_EMBEDDER, int(length) if length else None, Path(cache)
            )
            wall = time.perf_counter() - start
            print(f"{config:>16}: {len(texts) / wall:7.1f} prompts/s ({wall:.1f} s)", flush=True)
    ref = vectors[reference]
    rng = np.random.default_rng(0)
    random = np.mean([random_baseline(ref[ix], args.per_category, rng) for ix in groups.values()])
    print(f"mean pairwise cosine under the {args.reference}-piece reference embeddings:")
    print(f"  random subsets: {random:.4f}")
    best = None
    for config, found in vectors.items():
        scores = []
        for ix in groups.values():
            picked = select_diverse(found[ix], args.per_category)
            scores.append(mean_pairwise_cosine(ref[ix][picked]))
        score = float(np.mean(scores))
        best = score if best is None else best
        share = (random - score) / (random - best)
        print(f"  selected with {config:>16}: {score:.4f}  ({share:.0%} of the reference's gain)")


if __name__ == "__main__":
    main()
