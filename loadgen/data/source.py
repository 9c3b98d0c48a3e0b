"""Where rows come from: the Hugging Face hub (``nvidia/SPEED-Bench``) or local JSONL / Parquet.

Both paths yield validated ``SpeedBenchRow`` objects; placeholder rows are refused or skipped
and counted, as the caller chooses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.atomic import replacing
from loadgen.data.schema import PLACEHOLDER, RowError, SpeedBenchRow, parse_row

HUB_DATASET = "nvidia/SPEED-Bench"


@dataclass
class LoadedRows:
    rows: list[SpeedBenchRow]
    origin: str
    skipped_placeholder: int = 0
    revision: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RowTally:
    """Counts kept while rows stream past (the stream itself holds no rows)."""

    kept: int = 0
    skipped_placeholder: int = 0


def load_rows(
    source: str,
    config: str,
    revision: str | None = None,
    skip_placeholders: bool = False,
) -> LoadedRows:
    """Rows of one config from a local file/directory, or else from the hub id ``source``."""
    tally = RowTally()
    rows = list(iter_rows(source, config, revision, skip_placeholders, tally))
    return LoadedRows(rows, _origin(source, config), tally.skipped_placeholder, revision)


def iter_rows(
    source: str,
    config: str,
    revision: str | None,
    skip_placeholders: bool,
    tally: RowTally,
) -> Iterator[SpeedBenchRow]:
    """Validated rows one at a time, so a 32k config never sits in memory whole."""
    path = Path(source)
    if path.exists():
        files = _local_files(path, config)
        raw: Iterable[tuple[str, dict[str, Any]]] = (
            (str(f), r) for f in files for r in _read_file(f)
        )
    else:
        raw = _hub_rows(source, config, revision)
    seen: dict[str, str] = {}
    for where, record in raw:
        row = parse_row(record, where)
        if row.question_id in seen:
            raise RowError(
                f"{where}: row question_id={row.question_id!r}: field 'question_id' repeats a "
                f"row of {seen[row.question_id]}; every prompt must be unique (prefix caching "
                "would flatter a repeated one). Drop the duplicate."
            )
        seen[row.question_id] = where
        if row.is_placeholder:
            if not skip_placeholders:
                raise RowError(
                    f"{where}: row question_id={row.question_id!r}: field 'turns' holds the "
                    f"placeholder {PLACEHOLDER!r}. Rebuild the full rows with NVIDIA's "
                    "specdec_bench data scripts, or pass --skip-placeholders to drop and count "
                    "them."
                )
            tally.skipped_placeholder += 1
            continue
        tally.kept += 1
        yield row
    if not tally.kept:
        raise RowError(f"{_origin(source, config)}: no usable rows for config {config!r}")


def _origin(source: str, config: str) -> str:
    return source if Path(source).exists() else f"{source}:{config}"


def source_fingerprint(source: str, config: str, revision: str | None) -> dict[str, Any] | None:
    """What identifies the rows of one config, for the prepared-set cache; None when nothing
    does (a hub id without ``--revision`` may change under the same name)."""
    path = Path(source)
    if path.exists():
        return {
            str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in _local_files(path, config)
        }
    if revision is None:
        return None
    return {"hub": source, "config": config, "revision": revision}


def _local_files(path: Path, config: str) -> list[Path]:
    if path.is_file():
        return [path]
    candidates = sorted(
        p for p in path.glob(f"{config}*") if p.suffix in (".jsonl", ".parquet")
    ) or sorted(p for p in (path / config).glob("*") if p.suffix in (".jsonl", ".parquet"))
    if not candidates:
        raise FileNotFoundError(
            f"{path}: no {config}.jsonl / {config}.parquet (or {config}/*.jsonl|parquet) found"
        )
    return candidates


def _read_file(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            batches = pq.ParquetFile(path).iter_batches(batch_size=256)
            for batch in batches:  # one batch at a time: 32k rows are large
                yield from batch.to_pylist()
        except pa.ArrowException as exc:
            raise RowError(f"{path}: not a readable Parquet file ({exc})") from None
        return
    if path.suffix != ".jsonl":
        raise RowError(f"{path}: unsupported file type; use .jsonl or .parquet")
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RowError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise RowError(f"{path}:{number}: a row must be a JSON object")
                yield record


def _hub_rows(
    dataset: str, config: str, revision: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The real hub path; needs network access to the hub (or a warm HF cache)."""
    import datasets

    load = datasets.load_dataset  # type: ignore[attr-defined]
    ds = load(dataset, config, split="test", revision=revision)
    for record in ds:
        yield f"{dataset}:{config}", dict(record)


def write_jsonl(rows: Iterable[SpeedBenchRow], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row.model_dump_json() + "\n")
    return path
