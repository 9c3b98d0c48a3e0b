"""The prepared data set: token-id prompts on disk, readable without ``transformers``.

The Locust process reads this (pyarrow only), so the load generator never loads a tokenizer and
every engine receives byte-identical token ids.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loadgen import atomic

PROMPTS_FILE = "prompts.parquet"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class PreparedPrompt:
    question_id: str
    bucket: str
    category: str
    sub_category: str | None
    isl_o200k: int
    prompt_token_ids: list[int]
    # Every user turn of the row: multi-turn (qualitative) rows are replayed turn by turn; the
    # token ids above are the first turn's prompt.
    turns: list[str] = field(default_factory=list)

    @property
    def isl(self) -> int:
        """Input length in the target model's tokens (what the engine really processes)."""
        return len(self.prompt_token_ids)


@dataclass
class PreparedSet:
    prompts: list[PreparedPrompt]
    manifest: dict[str, Any]

    def bucket(self, bucket: str) -> list[PreparedPrompt]:
        """The bucket's prompts, categories interleaved round-robin.

        Hub files list rows grouped by category; runs take consecutive slices (warm-up, then one
        slice per cell), so without interleaving one cell would get only low-entropy prompts and
        the next only high-entropy ones, confounding concurrency with entropy.
        """
        chosen = [p for p in self.prompts if p.bucket == bucket]
        if not chosen:
            have = sorted({p.bucket for p in self.prompts})
            raise ValueError(f"no prompts for bucket {bucket!r} in this data set (it has {have})")
        by_category: dict[str, list[PreparedPrompt]] = {}
        for p in chosen:
            by_category.setdefault(p.category, []).append(p)
        columns = list(by_category.values())
        return [col[i] for i in range(max(map(len, columns))) for col in columns if i < len(col)]

    def write(self, directory: Path) -> Path:
        with PreparedWriter(directory) as writer:
            writer.add(self.prompts)
        atomic.write_text(directory / MANIFEST_FILE, json.dumps(self.manifest, indent=2) + "\n")
        return directory

    @classmethod
    def read(cls, directory: Path) -> PreparedSet:
        table_path = directory / PROMPTS_FILE
        if not table_path.is_file():
            raise FileNotFoundError(
                f"{directory} is not a prepared data set (no {PROMPTS_FILE}): "
                "create one with `speedbench data prepare`"
            )
        try:
            rows = pq.read_table(table_path).to_pylist()
            manifest = json.loads((directory / MANIFEST_FILE).read_text())
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ValueError(
                f"{directory} is not a readable prepared data set ({type(exc).__name__}: "
                f"{str(exc)[:200]}): re-create it with `speedbench data prepare`"
            ) from None
        # Sets prepared before multi-turn support have no ``turns`` column: the default applies.
        return cls([PreparedPrompt(**row) for row in rows], manifest)


SCHEMA = pa.schema(
    [
        ("question_id", pa.string()),
        ("bucket", pa.string()),
        ("category", pa.string()),
        ("sub_category", pa.string()),
        ("isl_o200k", pa.int32()),
        ("prompt_token_ids", pa.list_(pa.int32())),
        ("turns", pa.list_(pa.string())),
    ]
)


class PreparedWriter:
    """Appends prompts to ``prompts.parquet`` one row group per batch, so memory stays bounded
    by the batch, not the data set (``throughput_32k`` holds about 49M tokens)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / PROMPTS_FILE
        self._writer = pq.ParquetWriter(self.path, SCHEMA)

    def add(self, prompts: Sequence[PreparedPrompt]) -> None:
        if not prompts:
            return
        columns = {
            "question_id": [p.question_id for p in prompts],
            "bucket": [p.bucket for p in prompts],
            "category": [p.category for p in prompts],
            "sub_category": [p.sub_category for p in prompts],
            "isl_o200k": [p.isl_o200k for p in prompts],
            "prompt_token_ids": [p.prompt_token_ids for p in prompts],
            "turns": [p.turns for p in prompts],
        }
        self._writer.write_table(pa.table(columns, schema=SCHEMA))

    def __enter__(self) -> PreparedWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._writer.close()
        if kind is not None:
            self.path.unlink(missing_ok=True)  # never leave half a data set that looks whole
