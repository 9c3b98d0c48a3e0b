"""SD variants on one baseline compared category by category.

A system choice can help on average and hurt some domains (SPEED-Bench: a pruned-vocabulary draft
degrades multilingual and RAG). Wherever two or more SD variants share a baseline, bucket and load
point, each category gets, per variant: tokens per step (the client's chunks after the first,
:mod:`loadgen.client.figures`) with a per-request bootstrap interval, AL while drafting (vLLM's
per-request SD metrics where the cells carry them, else n/a) and the tok/s speedup with its
interval (:mod:`loadgen.analysis.speedup`). A variant is *significantly worse* than another in a
category when its 95% interval lies wholly below the other's, for the speedup or for tokens per
step (non-overlapping intervals: a conservative test).
"""

from __future__ import annotations

import itertools
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loadgen.analysis.bootstrap import ALL
from loadgen.analysis.columns import RequestColumns
from loadgen.analysis.groups import CellGroup
from loadgen.analysis.speedup import SpeedupRow
from loadgen.analysis.stats import BOOTSTRAP_RESAMPLES, CONFIDENCE
from loadgen.load.point import LoadPoint

Interval = tuple[float | None, float | None]


@dataclass(frozen=True)
class VariantInCategory:
    bucket: str
    load: LoadPoint
    baseline: str
    variant: str
    category: str
    tokens_per_step: float | None
    tokens_per_step_ci: Interval
    al_while_drafting: float | None
    speedup: float | None
    speedup_ci: Interval


def tokens_per_step_interval(
    cols: RequestColumns, label: str, resamples: int = BOOTSTRAP_RESAMPLES
) -> Interval:
    """Percentile interval of pooled tokens per step over requests resampled with replacement."""
    if len(cols) < 2:
        return None, None
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    picks = rng.integers(0, len(cols), (resamples, len(cols)))
    steps = cols.later_chunks[picks].sum(axis=1)
    ratios = cols.later_tokens[picks].sum(axis=1)[steps > 0] / steps[steps > 0]
    if not len(ratios):
        return None, None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def al_while_drafting(group: CellGroup, category: str) -> float | None:
    """Pooled over the group's cells from their per-category vLLM per-request figures."""
    drafts = accepted = 0.0
    for summary in group.summaries:
        for row in summary.category_acceptance or []:
            server = row.get("server")
            if row.get("category") == category and server and server.get("drafts"):
                drafts += server["drafts"]
                accepted += server.get("accepted_tokens") or 0.0
    return 1.0 + accepted / drafts if drafts else None


def compare_variants(
    rows: Sequence[SpeedupRow], groups: Sequence[CellGroup], resamples: int = BOOTSTRAP_RESAMPLES
) -> list[VariantInCategory]:
    """One entry per category x variant wherever a baseline has two or more SD variants."""
    by_key = {g.key: g for g in groups}
    sets: dict[tuple[str, LoadPoint, str], list[SpeedupRow]] = defaultdict(list)
    for row in rows:
        sets[(row.bucket, row.load, row.baseline)].append(row)
    out = []
    for (bucket, load, baseline), mine in sets.items():
        if len({r.variant for r in mine}) < 2:
            continue
        for row in sorted(mine, key=lambda r: (r.category != ALL, r.category, r.variant)):
            group = by_key[(row.variant, bucket, load)]
            cols = group.columns
            if row.category != ALL:
                cols = cols.select(cols.category == row.category)
            label = f"{row.variant}/{bucket}/{load.label}/{row.category}"
            out.append(
                VariantInCategory(
                    bucket, load, baseline, row.variant, row.category,
                    cols.tokens_per_step(), tokens_per_step_interval(cols, label, resamples),
                    al_while_drafting(group, row.category),
                    row.speedup_output_tps, (row.ci_low, row.ci_high),
                )
            )  # fmt: skip
    return out


def worse_flags(entries: Sequence[VariantInCategory]) -> list[str]:
    """Every category where one variant's interval lies wholly below another's."""
    by_category: dict[tuple[str, str, str, str], list[VariantInCategory]] = defaultdict(list)
    for e in entries:
        by_category[(e.bucket, e.load.label, e.baseline, e.category)].append(e)
    flags = []
    for (bucket, load, _, category), mine in by_category.items():
        for a, b in itertools.permutations(mine, 2):
            for name, x, y in (
                ("tok/s speedup", a.speedup_ci, b.speedup_ci),
                ("tokens per step", a.tokens_per_step_ci, b.tokens_per_step_ci),
            ):
                if x[1] is not None and y[0] is not None and x[1] < y[0]:
                    flags.append(
                        f"{bucket} {load} {category}: {a.variant} is significantly worse than "
                        f"{b.variant} in {name} (95% intervals [{x[0]:.2f}, {x[1]:.2f}] vs "
                        f"[{y[0]:.2f}, {y[1]:.2f}])"
                    )
    return flags
