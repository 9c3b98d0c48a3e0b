"""``speedbench data prepare``: load -> validate -> template + tokenize -> PreparedSet on disk."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.data.schema import bucket_of_config
from loadgen.data.source import load_rows
from loadgen.data.tokenize import load_tokenizer, tokenize_rows, tokenizer_fingerprint


def prepare_dataset(
    source: str,
    configs: Sequence[str],
    model: str,
    out_dir: Path,
    revision: str | None = None,
    skip_placeholders: bool = False,
    template_kwargs: dict[str, Any] | None = None,
) -> PreparedSet:
    tokenizer = load_tokenizer(model)
    prompts: list[PreparedPrompt] = []
    counts: dict[str, dict[str, int]] = {}
    for config in configs:
        loaded = load_rows(source, config, revision, skip_placeholders)
        bucket = bucket_of_config(config)
        prompts += tokenize_rows(loaded.rows, tokenizer, bucket, template_kwargs)
        counts[config] = {
            "rows": len(loaded.rows),
            "skipped_placeholder": loaded.skipped_placeholder,
        }
    manifest = {
        "source": source,
        "configs": list(configs),
        "revision": revision,
        "counts": counts,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "template_kwargs": template_kwargs or {},
        "isl_stats": isl_stats(prompts),
    }
    prepared = PreparedSet(prompts, manifest)
    prepared.write(out_dir)
    return prepared


def isl_stats(prompts: Sequence[PreparedPrompt]) -> dict[str, dict[str, float]]:
    """Per ``bucket/category``: count and min / median / max ISL in target tokens."""
    groups: dict[str, list[int]] = defaultdict(list)
    for p in prompts:
        groups[f"{p.bucket}/{p.category}"].append(p.isl)
    return {
        key: {"count": len(v), "min": min(v), "median": statistics.median(v), "max": max(v)}
        for key, v in sorted(groups.items())
    }
