"""Final files are written whole or not at all: first next to their place, then renamed over it
(``os.replace`` is atomic on POSIX), so a crash or a signal never leaves half a JSON, CSV, Parquet
file or page where a reader (``speedbench report``, a resumed sweep) would take it for whole.

Files appended while a run goes (``requests.jsonl``, ``polls.jsonl``) are not written this way:
their readers skip a torn last line instead (``loadgen.client.sink``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path``, renamed over it if the block ends without an error and
    removed otherwise (the previous ``path``, if any, is then left as it was)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
