"""Whether two sweeps ran the same servers: what ``--against`` checks before it compares them.

A model fitted on one sweep describes the servers that sweep launched, on that machine. Another
sweep's cells match it by server name only, and a name says nothing of the launch behind it:
``vllm-cpu-ngram`` with 5 draft tokens instead of 3, another vLLM release, other weights or
another CPU are another engine, and the model's error on them measures that change, not the
model. So each difference is named (the errors are still printed: carrying a model to a new
release or machine is a fair question, if it is asked knowingly).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loadgen.results.io import read_sweep_manifest

# Per server (the manifest's ``servers`` entry): what decides how its engine steps.
SERVER_FIELDS: dict[str, tuple[str, ...]] = {
    "engine": ("engine",),
    "engine version": ("version", "version"),
    "speculative decoding": ("variant", "speculative"),
    "draft model": ("variant", "draft_model"),
    "engine arguments": ("variant", "args"),
    "environment": ("variant", "env"),
    "engine config": ("variant", "engine_config"),
    "GPUs": ("variant", "gpus"),
}
# Per sweep: the weights served and the machine they ran on.
SWEEP_FIELDS: dict[str, tuple[str, ...]] = {
    "model weights (sha256)": ("model", "model_sha256"),
    "model config (sha256)": ("model", "config_sha256"),
    "CPU": ("host", "cpu"),
    "CPU instruction sets": ("host", "cpu_isa"),
    "cores": ("host", "cores"),
}


def launch_differences(here: Path, there: Path, servers: Iterable[str]) -> list[str]:
    """What differs between the two sweeps' launches of ``servers`` (those both ran) and between
    their models and machines, one sentence each; a sweep without a manifest is said to be so."""
    mine, theirs = read_sweep_manifest(here), read_sweep_manifest(there)
    if mine is None or theirs is None:
        missing = here if mine is None else there
        return [f"{missing} has no sweep manifest: launches, model and machine not compared"]
    out = _differ(SWEEP_FIELDS, mine.model_dump(), theirs.model_dump(), "")
    for server in sorted(set(servers) & set(mine.servers) & set(theirs.servers)):
        out += _differ(SERVER_FIELDS, mine.servers[server], theirs.servers[server], f"{server}: ")
    return out


def _differ(
    fields: dict[str, tuple[str, ...]], a: dict[str, Any], b: dict[str, Any], prefix: str
) -> list[str]:
    out = []
    for label, path in fields.items():
        x, y = _get(a, path), _get(b, path)
        if x != y:
            out.append(f"{prefix}{label} {_show(x)} here, {_show(y)} there")
    return out


def _get(entry: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = entry
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list):
        return "[" + " ".join(map(str, value)) + "]"
    if isinstance(value, str) and len(value) == 64:  # a sha256: its head is enough to tell
        return value[:12]
    return str(value)
