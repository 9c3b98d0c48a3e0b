"""Final files are replaced whole or not at all, even when the writer fails half-way."""

from pathlib import Path

import pytest

from loadgen import atomic


def test_a_failed_write_leaves_the_previous_file_and_no_temp_file(tmp_path: Path) -> None:
    path = atomic.write_text(tmp_path / "summary.json", '{"old": true}\n')
    with pytest.raises(RuntimeError), atomic.replacing(path) as tmp:
        tmp.write_text('{"new": tr')  # the writer dies in the middle
        raise RuntimeError("killed")
    assert path.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    atomic.write_text(path, '{"new": true}\n')
    assert path.read_text() == '{"new": true}\n'
