"""Where records go: appended to JSON lines as each request ends (a crash loses nothing already
measured), then collected into ``requests.parquet`` for analysis."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loadgen.atomic import replacing
from loadgen.client.record import RequestRecord

RECORDS_JSONL = "requests.jsonl"
RECORDS_PARQUET = "requests.parquet"
WARMUP_JSONL = "warmup.jsonl"


def worker_records_path(out: Path, index: int) -> Path:
    """A distributed worker's own copy of the records it sent to the master."""
    return out / "workers" / f"worker-{index}.jsonl"


class RecordSink:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        torn = _last_line_is_torn(path)
        self._fh = path.open("a", encoding="utf-8")
        if torn:  # a crash cut the last line: end it, so the next record starts a line of its own
            self._fh.write("\n")

    def write(self, record: RequestRecord) -> None:
        self._fh.write(json.dumps(record.to_dict()) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def _last_line_is_torn(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) != b"\n"


def read_jsonl(path: Path) -> list[RequestRecord]:
    """Records from a sink file; a line cut by a crash is ignored, the rest kept."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(RequestRecord.from_dict(json.loads(line)))
        except json.JSONDecodeError:
            continue
    return records


def write_parquet(records: Iterable[RequestRecord], path: Path) -> Path:
    rows = [r.to_dict() for r in records]
    with replacing(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
    return path


def read_parquet(path: Path) -> list[RequestRecord]:
    return [RequestRecord.from_dict(row) for row in pq.read_table(path).to_pylist()]
