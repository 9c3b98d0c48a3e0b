"""One writer per results directory: ``speedbench run``, ``sweep`` and ``demo`` hold an exclusive
lock on ``<out>/.speedbench.lock`` for the whole run, so a second terminal or a retried CI job
cannot double the load of the same cells.

The lock is the kernel's (``flock``): it is released whenever the holder's process ends, however
it ends (exit, exception, ``kill -9``), so a lock file left by a dead process never blocks a run.
Its content names the holder (pid, host, command) for the refusal message only. Taking the lock
is also the first write into the directory: a directory that cannot be written (read-only file
system, no permission) is refused here, before any load is sent.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".speedbench.lock"
_held: set[Path] = set()  # directories this process holds: the demo's sweep nests in its run


class ResultsBusy(RuntimeError):
    """Another live process holds the results directory."""


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']} ({info['command']})"
    except (ValueError, KeyError, TypeError):
        return "another process (it has not written its name yet)"


@contextmanager
def results_lock(out: Path) -> Iterator[None]:
    """Hold ``out`` (created if missing) for the block; refuse at once if another process does,
    or if ``out`` cannot be written."""
    out = out.resolve()
    if out in _held:
        yield
        return
    path = out / LOCK_FILE
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ValueError(
            f"cannot write results to {out} ({exc.strerror}): give --out a directory on a "
            "writable file system that you may write to"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 4096, 0).decode(errors="replace"))
            raise ResultsBusy(
                f"{out} is in use by {holder}: wait for that run to end, or give another --out"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(sys.argv)[:200],
            "since": time.time(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        _held.add(out)
        try:
            yield
        finally:
            _held.discard(out)
    finally:
        os.close(fd)  # releases the lock
