"""A small throughput split in the exact SPEED-Bench row schema, built from real offline text.

The real split (``nvidia/SPEED-Bench``, configs ``throughput_*``) cannot be downloaded here, so the
demo builds look-alike rows: same fields, same buckets (k x 1000 o200k tokens), same three
entropy tiers. Each row consumes fresh paragraphs, so no two prompts share content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

from loadgen.data.corpus import code_paragraphs, prose_paragraphs
from loadgen.data.o200k import bucket_tokens, count_o200k
from loadgen.data.schema import ENTROPY_TIERS, SpeedBenchRow

_INSTRUCTIONS = {
    "low_entropy": "Continue the Python module above with the next function, in the same style.",
    "mixed": "Explain how the code above relates to the reference text, citing both.",
    "high_entropy": "Summarise the reference text above for a new engineer, in your own words.",
}


class _Cursor:
    """Hands out paragraphs without ever repeating one."""

    def __init__(self, paragraphs: Iterator[str]) -> None:
        self._it = paragraphs

    def take(self) -> str:
        try:
            return next(self._it)
        except StopIteration:
            raise RuntimeError(
                "the offline corpus is exhausted: ask for fewer rows or smaller buckets"
            ) from None


def synthetic_throughput_split(
    buckets: Sequence[str], per_tier: int
) -> dict[str, list[SpeedBenchRow]]:
    """``per_tier`` rows per entropy tier per bucket, each close to (not above) the bucket length.

    One pair of cursors serves every bucket, so no paragraph appears in two prompts.
    """
    code, prose = _Cursor(code_paragraphs()), _Cursor(prose_paragraphs())
    split: dict[str, list[SpeedBenchRow]] = {}
    for bucket in buckets:
        split[bucket] = [
            _row(bucket, tier, index, _fill(tier, code, prose, bucket_tokens(bucket)))
            for tier in ENTROPY_TIERS
            for index in range(per_tier)
        ]
    return split


def _fill(tier: str, code: _Cursor, prose: _Cursor, budget: int) -> str:
    instruction = _INSTRUCTIONS[tier]
    budget -= count_o200k(instruction) + 2
    parts: list[str] = []
    used = 0
    turn = 0
    while True:
        source = code if tier == "low_entropy" or (tier == "mixed" and turn % 2 == 0) else prose
        turn += 1
        block = source.take()
        cost = count_o200k(block + "\n\n")
        if used + cost > budget:
            if used > budget * 0.9:
                break
            continue  # too long for what is left: skip it and try the next paragraph
        parts.append(block)
        used += cost
    return "\n\n".join(parts) + "\n\n" + instruction


def _row(bucket: str, tier: str, index: int, text: str) -> SpeedBenchRow:
    digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return SpeedBenchRow(
        question_id=digest,
        category=tier,
        sub_category="python_stdlib" if tier == "low_entropy" else "python_reference",
        turns=[text],
        source="speedbench-offline-corpus",
        src_id=f"throughput_{bucket}/{tier}/{index}",
        difficulty=None,
        multiturn=False,
    )
