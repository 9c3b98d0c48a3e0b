"""Recipe for ``qualitative_fixture.jsonl``: a small stand-in for ``nvidia/SPEED-Bench``'s
``qualitative`` config (same schema, the 11 categories, multi-turn rows), built from real offline
text (Python stdlib sources and the reference manual), never random tokens.

    python datasets/build_qualitative_fixture.py  # rewrites datasets/qualitative_fixture.jsonl
    python datasets/build_qualitative_fixture.py --per-category 8 --out /tmp/qual.jsonl  # larger

The shipped fixture keeps 2 rows per category (tests); measurements that need per-category
intervals build a larger set (40 per category builds; the corpus is large).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
from collections import Counter
from pathlib import Path

from loadgen.data.corpus import code_paragraphs, prose_paragraphs
from loadgen.data.schema import SpeedBenchRow
from loadgen.data.source import write_jsonl

# category -> (first-turn instruction, follow-up turn or None); {text} is a real paragraph.
RECIPES = {
    "coding": ("Explain what this code does, step by step:\n\n{text}", "Now write a unit test."),
    "math": (
        "Count the distinct identifiers in this snippet and show your arithmetic:\n\n{text}",
        None,
    ),
    "humanities": (
        "What design philosophy does this passage reflect?\n\n{text}",
        "Compare it with another language.",
    ),
    "stem": (
        "Describe the algorithmic complexity of the procedure described here:\n\n{text}",
        None,
    ),
    "writing": (
        "Rewrite this passage as a short friendly blog paragraph:\n\n{text}",
        "Make it half as long.",
    ),
    "summarization": ("Summarise in two sentences:\n\n{text}", None),
    "roleplay": (
        "You are a senior Python core developer. A junior asks about this:\n\n{text}",
        "The junior is still confused; try an analogy.",
    ),
    "rag": (
        "Using only the document below, answer: what is the main rule it states?\n\n{text}",
        None,
    ),
    "multilingual": (
        "Translate this passage into French, then German:\n\n{text}",
        "Now into Spanish.",
    ),
    "reasoning": (
        "Which statement here would break first if the rule changed? Reason it out.\n\n{text}",
        None,
    ),
    "qa": ("Based on this text, what happens on error?\n\n{text}", "And what is the default?"),
}
PER_CATEGORY = 2
FIXTURE = "qualitative_fixture.jsonl"


def build(per_category: int = PER_CATEGORY) -> list[SpeedBenchRow]:
    code = (p for p in code_paragraphs() if 200 < len(p) < 1200)
    prose = (p for p in prose_paragraphs() if 200 < len(p) < 1200)
    rows = []
    for category, (first, follow_up) in RECIPES.items():
        source = code if category in ("coding", "math", "stem") else prose
        for index, text in enumerate(itertools.islice(source, per_category)):
            turns = [first.format(text=text)] + ([follow_up] if follow_up else [])
            rows.append(
                SpeedBenchRow(
                    question_id=hashlib.md5(turns[0].encode(), usedforsecurity=False).hexdigest(),
                    category=category,
                    sub_category="python_offline_corpus",
                    turns=turns,
                    source="speedbench-offline-corpus",
                    src_id=f"qualitative/{category}/{index}",
                    difficulty=None,
                    multiturn=len(turns) > 1,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=PER_CATEGORY)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(FIXTURE))
    args = parser.parse_args()
    rows = build(args.per_category)
    counts = Counter(row.category for row in rows)
    short = sorted(c for c in RECIPES if counts[c] < args.per_category)
    if short:
        raise SystemExit(f"the offline corpus ran out for {short}: ask for fewer per category")
    write_jsonl(rows, args.out)


if __name__ == "__main__":
    main()
