"""Loading and validating SPEED-Bench rows from local files in the hub's schema."""

import json
from pathlib import Path

import pytest

from loadgen.data.schema import PLACEHOLDER, RowError
from loadgen.data.source import load_rows


def row(qid: str = "a" * 32, text: str = "hello", **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "question_id": qid,
        "category": "mixed",
        "sub_category": "s",
        "turns": [text],
        "source": "src",
        "src_id": "1",
        "difficulty": None,
        "multiturn": False,
    }
    return {**base, **extra}


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_rows_load_from_a_directory_by_config_name(tmp_path: Path) -> None:
    write(tmp_path / "throughput_1k.jsonl", [row("a" * 32), row("b" * 32)])
    write(tmp_path / "throughput_2k.jsonl", [row("c" * 32)])
    loaded = load_rows(str(tmp_path), "throughput_1k")
    assert [r.question_id for r in loaded.rows] == ["a" * 32, "b" * 32]


def test_parquet_rows_load_too(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([row(), row("d" * 32)]), tmp_path / "throughput_8k.parquet")
    assert len(load_rows(str(tmp_path), "throughput_8k").rows) == 2


def test_bad_row_error_names_file_row_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "throughput_1k.jsonl", [row(), row("e" * 32, turns="not a list")])
    with pytest.raises(RowError) as err:
        load_rows(str(path), "throughput_1k")
    message = str(err.value)
    assert str(path) in message and "e" * 32 in message and "'turns'" in message


def test_unknown_field_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", [row(colour="blue")])
    with pytest.raises(RowError, match="'colour'"):
        load_rows(str(path), "throughput_1k")


def test_placeholder_rows_are_refused_with_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", [row(), row("f" * 32, text=f"intro {PLACEHOLDER}")])
    with pytest.raises(RowError, match="--skip-placeholders"):
        load_rows(str(path), "throughput_1k")


def test_placeholder_rows_are_skipped_and_counted_on_request(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", [row(), row("f" * 32, text=PLACEHOLDER)])
    loaded = load_rows(str(path), "throughput_1k", skip_placeholders=True)
    assert len(loaded.rows) == 1 and loaded.skipped_placeholder == 1


def test_missing_local_config_says_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="throughput_16k"):
        load_rows(str(tmp_path), "throughput_16k")


def test_a_repeated_question_id_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", [row("a" * 32), row("b" * 32), row("a" * 32)])
    with pytest.raises(RowError, match=r"'question_id' repeats"):
        load_rows(str(path), "throughput_1k")


def test_a_json_line_that_is_not_an_object_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(row()) + "\n[1, 2]\n")
    with pytest.raises(RowError, match=r"x.jsonl:2: a row must be a JSON object"):
        load_rows(str(path), "throughput_1k")


def test_a_broken_parquet_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "throughput_1k.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(RowError, match="not a readable Parquet"):
        load_rows(str(path), "throughput_1k")
