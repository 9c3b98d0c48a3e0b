"""Records on disk after a crash: a torn last JSON line is skipped when read, and repaired before
the next append so the record after it is not glued to it."""

from pathlib import Path

import pyarrow.parquet as pq

from loadgen.client.record import RequestRecord
from loadgen.client.sink import RecordSink, read_jsonl, read_parquet, write_parquet


def record(i: int) -> RequestRecord:
    return RequestRecord(f"r{i}", f"{i:032d}", "1k", "mixed", 10, 4, 0, 0.0, chunk_ns=[1, 2],
                         chunk_tokens=[1, 3])  # fmt: skip


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_a_new_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "requests.jsonl"
    sink = RecordSink(path)
    sink.write(record(0))
    sink.write(record(1))
    sink.close()
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 25])  # killed in the middle of writing record 1
    assert [r.request_id for r in read_jsonl(path)] == ["r0"]

    again = RecordSink(path)  # a resumed writer (worker copy, warm-up file) appends
    again.write(record(2))
    again.close()
    assert [r.request_id for r in read_jsonl(path)] == ["r0", "r2"]
    assert read_jsonl(path)[1] == record(2)


def test_parquet_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "requests.parquet"
    write_parquet([record(0), record(1)], path)
    assert [p.name for p in tmp_path.iterdir()] == ["requests.parquet"]  # no temp file left
    assert pq.read_table(path).num_rows == 2 and read_parquet(path)[1] == record(1)
