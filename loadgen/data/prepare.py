"""``speedbench data prepare``: load -> validate -> template + tokenize -> PreparedSet on disk.

Prompts stream to Parquet in row groups of ``batch_rows`` so memory is bounded by a batch (two
while one is encoded and the previous one finished and written, in parallel), and
the whole run is keyed by a hash of its inputs: preparing again with identical inputs reuses the
directory, any change (rows, configs, tokenizer, template, options) rebuilds it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import atomic
from loadgen.data.prepared import MANIFEST_FILE, PROMPTS_FILE, PreparedWriter
from loadgen.data.schema import SpeedBenchRow, bucket_of_config
from loadgen.data.source import RowTally, iter_rows, source_fingerprint
from loadgen.data.tokenize import (
    PromptEncoder,
    TokenizeOptions,
    load_tokenizer,
    tokenizer_fingerprint,
    tokenizer_probe,
)

# Bump when the prepared layout or the tokenizing rules change: old caches then rebuild.
PREPARED_FORMAT = 2
DEFAULT_CONFIG = "throughput_1k"
# A bucket whose median prompt is outside this share of its nominal size is not that bucket
# (nominal sizes are o200k tokens, the prompts' are the target's: they differ, but not by 2x).
BUCKET_SLACK = (0.5, 2.0)


def default_configs(source: str) -> list[str]:
    """No ``--config``: a local file is labelled by its own name (``throughput_2k.jsonl`` ->
    bucket 2k, ``diverse.jsonl`` -> bucket ``diverse``), never given a throughput bucket it
    does not claim; a directory or a hub data set gets SPEED-Bench's ``throughput_1k``."""
    path = Path(source)
    return [path.stem] if path.is_file() else [DEFAULT_CONFIG]


def bucket_warnings(stats: dict[str, dict[str, float]]) -> list[str]:
    """Throughput buckets (``<k>k``) whose prompts are far from their nominal size."""
    warnings = []
    for key, s in stats.items():
        bucket, _, category = key.partition("/")
        size = re.fullmatch(r"(\d+)k", bucket)
        if size is None:
            continue
        nominal = int(size.group(1)) * 1000
        if not BUCKET_SLACK[0] * nominal <= s["median"] <= BUCKET_SLACK[1] * nominal:
            warnings.append(
                f"bucket {bucket!r} ({category}): prompts of {s['min']}-{s['max']} target "
                f"tokens (median {s['median']:g}), far from its nominal {nominal}: if these rows "
                "are not a throughput split, pass --config with their own name (e.g. --config "
                "qualitative) so that they are not labelled a throughput bucket"
            )
    return warnings


@dataclass(frozen=True)
class Prepared:
    manifest: dict[str, Any]
    reused: bool


def prepare_to_disk(
    source: str,
    configs: Sequence[str],
    model: str,
    out_dir: Path,
    revision: str | None = None,
    skip_placeholders: bool = False,
    options: TokenizeOptions | None = None,
    batch_rows: int = 32,
) -> Prepared:
    options = options or TokenizeOptions()
    tokenizer = load_tokenizer(model)
    fingerprint = tokenizer_fingerprint(tokenizer)
    key = cache_key(source, configs, revision, skip_placeholders, options, fingerprint)
    cached = _cached_manifest(out_dir, key)
    if cached is not None:
        return Prepared(cached, reused=True)
    encoder = PromptEncoder(tokenizer, options)
    counts: dict[str, dict[str, int]] = {}
    isl: dict[str, list[int]] = defaultdict(list)
    with PreparedWriter(out_dir) as writer, ThreadPoolExecutor(1) as background:
        # Two stages: this thread encodes batch i + 1 (Rust, GIL released, every core) while
        # the background thread finishes batch i (BOS check, o200k count, Parquet). At most two
        # batches are alive at once, so memory stays bounded.
        pending: Future[None] | None = None

        def finish(rows: list[SpeedBenchRow], ids: list[list[int]], bucket: str) -> None:
            prompts = encoder.finish_rows(rows, ids, bucket)
            writer.add(prompts)
            for p in prompts:
                isl[f"{p.bucket}/{p.category}"].append(p.isl)

        for config in configs:
            tally = RowTally()
            rows = iter_rows(source, config, revision, skip_placeholders, tally)
            bucket = bucket_of_config(config)
            while batch := list(itertools.islice(rows, batch_rows)):
                ids = encoder.encode_ids(batch, bucket)
                if pending is not None:
                    pending.result()  # re-raises a failure of the previous batch
                pending = background.submit(finish, batch, ids, bucket)
            if pending is not None:
                pending.result()
                pending = None
            counts[config] = {"rows": tally.kept, "skipped_placeholder": tally.skipped_placeholder}
    stats = _stats(isl)
    manifest = {
        "source": source,
        "configs": list(configs),
        "revision": revision,
        "counts": counts,
        "tokenizer": fingerprint,
        "tokenizer_probe": tokenizer_probe(tokenizer),  # loadgen.preflight: same tokenizer?
        "template_kwargs": options.template_kwargs,
        "options": options.as_dict(),
        "isl_stats": stats,
        "cache_key": key,
        "warnings": bucket_warnings(stats),
    }
    atomic.write_text(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return Prepared(manifest, reused=False)


def cache_key(
    source: str,
    configs: Sequence[str],
    revision: str | None,
    skip_placeholders: bool,
    options: TokenizeOptions,
    tokenizer: dict[str, str],
) -> str | None:
    """Hash of every input; None (never reuse) when the rows cannot be identified."""
    rows = [source_fingerprint(source, config, revision) for config in configs]
    if any(r is None for r in rows):
        return None
    inputs = {
        "format": PREPARED_FORMAT,
        "rows": rows,
        "configs": list(configs),
        "skip_placeholders": skip_placeholders,
        "options": options.as_dict(),
        "tokenizer": tokenizer,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _cached_manifest(out_dir: Path, key: str | None) -> dict[str, Any] | None:
    manifest_path = out_dir / MANIFEST_FILE
    if key is None or not manifest_path.is_file() or not (out_dir / PROMPTS_FILE).is_file():
        return None
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    return manifest if manifest.get("cache_key") == key else None


def _stats(groups: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    return {
        key: {"count": len(v), "min": min(v), "median": statistics.median(v), "max": max(v)}
        for key, v in sorted(groups.items())
    }


def isl_table(stats: dict[str, dict[str, float]]) -> str:
    """The ISL stats as a fixed-width table (bucket x entropy tier / category)."""
    lines = [f"{'bucket':<12} {'category':<14} {'count':>6} {'min':>7} {'median':>8} {'max':>7}"]
    for key, s in stats.items():
        bucket, _, category = key.partition("/")
        lines.append(
            f"{bucket:<12} {category:<14} {s['count']:>6} {s['min']:>7} "
            f"{s['median']:>8g} {s['max']:>7}"
        )
    return "\n".join(lines)
