"""What bounds one engine step for each server of a results dir: token budget, batch limit, and
whether it drafts at all (speculative decoding in its launch).

Read from what speedbench launched (the sweep manifest's launch command), else the engine's fixed
default for a CPU variant (``loadgen.engines.SchedulerLimits``); ``--token-budget`` overrides every
server's budget. A server speedbench did not launch (``url:``) or a GPU variant without the flag
has an unknown budget: the simulation then prefills a whole prompt in one step, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.engines import ENGINES, Engine
from loadgen.results.io import read_sweep_manifest


@dataclass(frozen=True)
class ServerLimits:
    token_budget: int | None = None  # tokens one step may process (prefill chunks + decode)
    batch_limit: int | None = None  # sequences one step may hold
    source: str = "unknown (not launched by speedbench; pass --token-budget)"
    # launched with speculative decoding? False: one token per sequence per step, whatever the
    # client saw (a chunk of 2 tokens is two steps' outputs merged on the way); None: not known
    drafts: bool | None = None


UNKNOWN = ServerLimits()


def read_limits(results: Path, token_budget: int | None = None) -> dict[str, ServerLimits]:
    """Per server of the sweep manifest in ``results`` (none there: an empty map)."""
    manifest = read_sweep_manifest(results)
    found = {
        name: _launched_limits(entry)
        for name, entry in (manifest.servers.items() if manifest else ())
    }
    if token_budget is None:
        return found
    return {
        name: ServerLimits(
            token_budget, lim.batch_limit, f"--token-budget; {lim.source}", lim.drafts
        )
        for name, lim in found.items()
    }


def limits_for(
    limits: dict[str, ServerLimits], server: str, token_budget: int | None
) -> ServerLimits:
    """A server's limits; one absent from the manifest takes ``--token-budget`` alone."""
    if server in limits:
        return limits[server]
    if token_budget is not None:
        return ServerLimits(token_budget, None, "--token-budget")
    return UNKNOWN


def _launched_limits(entry: dict[str, Any]) -> ServerLimits:
    engine = ENGINES.get(str(entry.get("engine")))
    launch = entry.get("launch")  # a dict when launched; a sentence for an external endpoint
    variant = entry.get("variant") or {}
    if engine is None or not isinstance(launch, dict) or not launch.get("command"):
        return UNKNOWN
    args: Sequence[str] = launch["command"]
    flags = engine.limits
    budget = _flag_int(args, flags.token_budget_flag)
    batch = _flag_int(args, flags.batch_limit_flag)
    pairs = ((flags.token_budget_flag, budget), (flags.batch_limit_flag, batch))
    said = [f"{flag} {value}" for flag, value in pairs if value is not None]
    source = f"launch command ({', '.join(said)})" if said else "launch command"
    if int(variant.get("gpus") or 0) == 0 and flags.cpu_token_budget is not None:
        ranks = _ranks(args)
        if budget is None:
            budget = flags.cpu_token_budget * ranks
            source += f"; token budget: {engine.name}'s CPU default ({flags.source})"
        if batch is None and flags.cpu_batch_limit is not None:
            batch = flags.cpu_batch_limit * ranks
    elif budget is None:
        source += f"; token budget unknown ({_gpu_default(engine)}): pass --token-budget"
    drafts = bool(variant["speculative"]) if "speculative" in variant else None
    return ServerLimits(budget, batch, source, drafts)


def _gpu_default(engine: Engine) -> str:
    flag = engine.limits.token_budget_flag
    return f"{engine.name}'s default depends on the GPU; {flag} not given"


def _ranks(args: Sequence[str]) -> int:
    tp = _flag_int(args, "--tensor-parallel-size") or 1
    pp = _flag_int(args, "--pipeline-parallel-size") or 1
    return tp * pp


def _flag_int(args: Sequence[str], flag: str) -> int | None:
    """``flag N`` or ``flag=N`` in a command line (the last one wins, as argparse does)."""
    value = None
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    try:
        return None if value is None else int(value)
    except ValueError:
        raise ValueError(f"{flag} {value!r} in the launch command is not a whole number") from None
