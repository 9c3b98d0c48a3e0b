"""Map independent work over the machine's cores: reading cells and resampling sides.

Worker processes are spawned (not forked: pyarrow's thread pools do not survive a fork); below
``min_items`` items, or on one core, the work runs in this process, where spawning would cost
more than it saves. Results come back in input order, so figures never depend on the split.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

T = TypeVar("T")


def parallel_map(fn: Callable[..., T], *args: Sequence[Any], min_items: int = 16) -> list[T]:
    items = len(args[0]) if args else 0
    cores = os.cpu_count() or 1
    if items < min_items or cores < 2:
        return [fn(*a) for a in zip(*args, strict=True)]
    with ProcessPoolExecutor(cores, mp_context=get_context("spawn")) as pool:
        return list(pool.map(fn, *args, chunksize=max(1, items // (4 * cores))))
