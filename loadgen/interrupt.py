"""SIGINT and SIGTERM end a run the same way: an ``Interrupted`` exception unwinds the stack, so
every ``with`` / ``except BaseException`` on the way stops what it started (the Locust process, a
local engine, the metrics sampler), and the command line says what is on disk and how to resume.

Without this, SIGTERM would kill the harness on the spot and leave Locust and the engine running.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by the first SIGINT/SIGTERM (a ``KeyboardInterrupt``, so no
    ``except Exception`` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell convention for a process ended by a signal."""
        return 128 + self.signum


def _again(signum: int, frame: FrameType | None) -> None:
    print(
        f"speedbench: {signal.Signals(signum).name} again: already stopping (cleaning up)",
        file=sys.stderr,
        flush=True,
    )


def _first(signum: int, frame: FrameType | None) -> None:
    for sig in SIGNALS:  # a second signal must not cut the clean-up short
        signal.signal(sig, _again)
    raise Interrupted(signum)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block (main thread only), SIGINT/SIGTERM raise ``Interrupted`` once."""
    previous = {sig: signal.signal(sig, _first) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
