"""``speedbench data diverse``: a SPEED-Bench-style split of the user's own prompts.

SPEED-Bench's qualitative split keeps, per category, the subset of candidates with the lowest
average pairwise cosine similarity of their embeddings. For unit vectors the mean pairwise
similarity of a set is ``(|sum|^2 - n) / (n (n - 1))``, so minimising it means keeping the sum
vector short: a greedy pass adds the candidate least similar to the running sum, then swap
passes replace members while that shortens the sum further. The report puts the achieved mean
next to the mean over random subsets of the same size, which it must beat.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from loadgen import atomic
from loadgen.data.embed import DEFAULT_EMBEDDING, embed_prompts
from loadgen.data.schema import SpeedBenchRow
from loadgen.data.source import load_rows, write_jsonl

Vectors = npt.NDArray[np.float32]
RANDOM_SUBSETS = 20
SWAP_ROUNDS = 3


def mean_pairwise_cosine(vectors: Vectors) -> float:
    """Mean of ``x_i . x_j`` over pairs i < j of unit vectors, in O(n d)."""
    n = len(vectors)
    if n < 2:
        return float("nan")
    total = vectors.sum(axis=0, dtype=np.float64)
    return float((total @ total - n) / (n * (n - 1)))


def select_diverse(vectors: Vectors, n: int) -> list[int]:
    """Indices of ``n`` rows with a low mean pairwise cosine similarity (greedy + swaps)."""
    if n >= len(vectors):
        return list(range(len(vectors)))
    # Start from the row least similar to the rest: the one farthest from the mean direction.
    chosen = [int(np.argmin(vectors @ vectors.mean(axis=0)))]
    total = vectors[chosen[0]].astype(np.float64)
    free = np.ones(len(vectors), dtype=bool)
    free[chosen[0]] = False
    while len(chosen) < n:
        scores = np.where(free, vectors @ total, np.inf)
        best = int(np.argmin(scores))
        chosen.append(best)
        free[best] = False
        total += vectors[best]
    for _ in range(SWAP_ROUNDS):
        if not _swap_pass(vectors, chosen, free, total):
            break
    return sorted(chosen)


def _swap_pass(
    vectors: Vectors, chosen: list[int], free: npt.NDArray[np.bool_], total: Any
) -> bool:
    """Replace each member by the free row that shortens the sum most; True if any changed."""
    changed = False
    for slot, member in enumerate(chosen):
        rest = total - vectors[member]
        scores = np.where(free, vectors @ rest, np.inf)
        best = int(np.argmin(scores))
        if scores[best] < float(vectors[member] @ rest) - 1e-9:
            free[best], free[member] = False, True
            chosen[slot] = best
            total[:] = rest + vectors[best]
            changed = True
    return changed


def random_baseline(vectors: Vectors, n: int, rng: np.random.Generator) -> float:
    """Mean pairwise similarity of random ``n``-subsets, averaged over ``RANDOM_SUBSETS`` draws."""
    draws = [
        mean_pairwise_cosine(vectors[rng.choice(len(vectors), size=n, replace=False)])
        for _ in range(RANDOM_SUBSETS)
    ]
    return float(np.mean(draws))


def categories_of(rows: list[SpeedBenchRow], per_category: int) -> dict[str, list[int]]:
    """Row indices per category; every category must hold at least ``per_category`` rows."""
    by_category: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_category[row.category].append(index)
    short = {c: len(ix) for c, ix in by_category.items() if len(ix) < per_category}
    if short:
        raise ValueError(
            f"--per-category {per_category} is more than these categories hold: {short}; "
            "lower --per-category or add prompts"
        )
    return by_category


def diverse_split(
    rows: list[SpeedBenchRow], vectors: Vectors, per_category: int, seed: int = 0
) -> tuple[list[SpeedBenchRow], dict[str, Any]]:
    """The chosen rows (category order kept) and the per-category figures."""
    by_category = categories_of(rows, per_category)
    rng = np.random.default_rng(seed)
    chosen_rows: list[SpeedBenchRow] = []
    figures: dict[str, Any] = {}
    start = time.perf_counter()
    for category, indices in by_category.items():
        group = vectors[indices]
        picked = select_diverse(group, per_category)
        chosen_rows += [rows[indices[i]] for i in picked]
        figures[category] = {
            "candidates": len(indices),
            "chosen": len(picked),
            "mean_pairwise_cosine": mean_pairwise_cosine(group[picked]),
            "random_mean_pairwise_cosine": random_baseline(group, per_category, rng),
        }
    select_s = time.perf_counter() - start
    report = {
        "per_category": figures,
        "mean_pairwise_cosine": float(
            np.mean([f["mean_pairwise_cosine"] for f in figures.values()])
        ),
        "random_mean_pairwise_cosine": float(
            np.mean([f["random_mean_pairwise_cosine"] for f in figures.values()])
        ),
        "random_subsets": RANDOM_SUBSETS,
        "select_s": select_s,
    }
    return chosen_rows, report


def prompt_text(row: SpeedBenchRow) -> str:
    """What is embedded: every user turn of the row."""
    return "\n\n".join(row.turns)


def run_diverse(
    input_path: Path,
    out_path: Path,
    per_category: int,
    embedder: str,
    seed: int = 0,
    max_seq_length: int | None = None,
    embedding: str = DEFAULT_EMBEDDING,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Load and validate the user's rows, embed, select, write ``out`` and ``out.report.json``.

    ``embedding``, ``max_seq_length`` and ``cache`` as in ``loadgen.data.embed.embed_prompts``."""
    rows = load_rows(str(input_path), input_path.stem).rows
    categories_of(rows, per_category)  # fail before the (slow) embedding
    start = time.perf_counter()
    vectors, used = embed_prompts(
        [prompt_text(r) for r in rows], embedding, embedder, max_seq_length, cache
    )
    embed_s = time.perf_counter() - start
    chosen, report = diverse_split(rows, vectors, per_category, seed)
    report = {"input": str(input_path), "rows": len(rows), **used, "embed_s": embed_s, **report}
    write_jsonl(chosen, out_path)
    atomic.write_text(out_path.with_suffix(".report.json"), json.dumps(report, indent=2) + "\n")
    return report
