"""``speedbench data prepare`` and ``speedbench data diverse``: data sets on disk."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from loadgen.data.embed import (
    DEFAULT_EMBEDDER,
    DEFAULT_EMBEDDING,
    DEFAULT_MAX_SEQ_LENGTH,
    EMBEDDINGS,
    HYBRID_MAX_SEQ_LENGTH,
)


def _prepare(args: argparse.Namespace) -> int:
    from loadgen.data.prepare import default_configs, isl_table, prepare_to_disk
    from loadgen.data.tokenize import TokenizeOptions

    kwargs = json.loads(args.chat_template_kwargs) if args.chat_template_kwargs else {}
    options = TokenizeOptions(raw=args.raw, template_kwargs=kwargs, exact_isl=args.exact_isl)
    prepared = prepare_to_disk(
        args.source,
        args.config or default_configs(args.source),
        args.model,
        Path(args.out),
        args.revision,
        args.skip_placeholders,
        options,
    )
    manifest = prepared.manifest
    print(f"{'reused cached' if prepared.reused else 'prepared'} data set in {args.out}")
    print(json.dumps({"counts": manifest["counts"], "revision": manifest["revision"]}))
    print("ISL in target tokens:")
    print(isl_table(manifest["isl_stats"]))
    for warning in manifest.get("warnings", []):
        print(f"speedbench: warning: {warning}", file=sys.stderr)
    return 0


def _diverse(args: argparse.Namespace) -> int:
    from loadgen.data.diverse import run_diverse

    report = run_diverse(
        Path(args.input),
        Path(args.out),
        args.per_category,
        args.embedder,
        args.seed,
        args.max_seq_length,
        args.embedding,
    )
    print(json.dumps(report, indent=2))
    return 0


def add_data_verbs(verbs: Any) -> None:
    data = verbs.add_parser("data", help="data sets").add_subparsers(
        dest="data_verb", required=True
    )
    prep = data.add_parser("prepare", help="load, validate, template and tokenize")
    prep.add_argument("--source", default="nvidia/SPEED-Bench", help="hub id, or local file/dir")
    prep.add_argument(
        "--config",
        nargs="+",
        help="split(s), e.g. throughput_2k or qualitative (default: a local file's own name, "
        "else throughput_1k)",
    )
    prep.add_argument("--revision", help="hub revision to pin")
    prep.add_argument("--model", required=True, help="target model (its tokenizer + template)")
    prep.add_argument("--out", required=True, help="prepared data set directory")
    prep.add_argument(
        "--skip-placeholders",
        action="store_true",
        help="drop and count licence placeholder rows instead of failing",
    )
    prep.add_argument("--chat-template-kwargs", help="JSON, e.g. '{\"enable_thinking\": false}'")
    prep.add_argument(
        "--raw", action="store_true", help="raw completion mode: no chat template, BOS + text"
    )
    prep.add_argument(
        "--exact-isl",
        action="store_true",
        help="pad/truncate the user text so every prompt is exactly the bucket length in target "
        "tokens (template framing kept whole)",
    )
    prep.set_defaults(func=_prepare)

    div = data.add_parser("diverse", help="SPEED-Bench-style diverse split of your own prompts")
    div.add_argument("--input", required=True, help="JSONL/Parquet rows (SPEED-Bench schema)")
    div.add_argument("--out", required=True, help="output JSONL of the chosen rows")
    div.add_argument("--per-category", type=int, required=True, help="rows to keep per category")
    div.add_argument(
        "--embedder",
        default=DEFAULT_EMBEDDER,
        help="sentence-transformers model id or local path",
    )
    div.add_argument("--seed", type=int, default=0, help="seed of the random-subset comparison")
    div.add_argument(
        "--embedding",
        choices=EMBEDDINGS,
        default=DEFAULT_EMBEDDING,
        help="hybrid (default): static token vectors over the whole prompt joined with the "
        "transformer over its first --max-seq-length pieces; static: token vectors only "
        "(fastest; distilled from --embedder once, cached in ~/.cache/speedbench); transformer: "
        "the model alone (slowest, best). docs/BENCHMARKS.md 'Issue 3' compares them",
    )
    div.add_argument(
        "--max-seq-length",
        type=int,
        help="word pieces the transformer reads per prompt (longer prompts are cut; cost grows "
        f"with it): default {HYBRID_MAX_SEQ_LENGTH} for hybrid, {DEFAULT_MAX_SEQ_LENGTH} for "
        "transformer; not for static",
    )
    div.set_defaults(func=_diverse)
