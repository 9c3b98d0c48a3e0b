"""Scheduler limits read from what a sweep launched (the manifest's command line, as the sweep
runner writes it from the shipped variants) and the engine registry's declared defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loadgen.engines import ENGINES
from loadgen.predict.limits import ServerLimits, limits_for, read_limits
from loadgen.results.io import write_sweep_manifest
from loadgen.results.schemas import SweepManifest
from loadgen.servers.command import local_entrypoint, server_args
from loadgen.servers.variant import load_variant


def _launched(name: str, *extra: str) -> dict[str, Any]:
    """A manifest entry as ``loadgen.sweep.runner`` records a variant it started."""
    variant = load_variant(name)
    variant = variant.model_copy(update={"args": [*variant.args, *extra]})
    command = [*local_entrypoint(variant), *server_args(variant, "/m", "127.0.0.1", 8000)]
    return {
        "name": name,
        "engine": variant.engine,
        "variant": variant.model_dump(),
        "launch": {"command": command, "env": variant.env},
    }


def _write(tmp_path: Path, servers: dict[str, dict[str, Any]]) -> Path:
    write_sweep_manifest(tmp_path, SweepManifest(plan={}, plan_sha256="0", servers=servers))
    return tmp_path


def test_a_cpu_vllm_variant_takes_the_engines_cpu_defaults(tmp_path: Path) -> None:
    """vllm-cpu-base sets --max-num-seqs 64 and no budget: 2048 tokens (vLLM's CPU default),
    64 sequences (its own flag)."""
    got = read_limits(_write(tmp_path, {"b": _launched("vllm-cpu-base")}))["b"]
    assert (got.token_budget, got.batch_limit) == (2048, 64)
    assert "--max-num-seqs 64" in got.source and "CPU default" in got.source


def test_a_launched_variant_says_whether_it_drafts(tmp_path: Path) -> None:
    """From the variant's ``speculative``: its chunks of several tokens are SD steps only if
    it drafts; a forced budget keeps that, an external endpoint is not known."""
    servers = {n: _launched(n) for n in ("vllm-cpu-base", "vllm-cpu-ngram", "vllm-eagle")}
    servers["ext"] = {"name": "ext", "engine": "vllm", "launch": "external endpoint"}
    results = _write(tmp_path, servers)
    got = {n: lim.drafts for n, lim in read_limits(results).items()}
    assert got == {"vllm-cpu-base": False, "vllm-cpu-ngram": True, "vllm-eagle": True, "ext": None}
    assert read_limits(results, 1024)["vllm-cpu-base"].drafts is False


def test_flags_on_the_command_line_win_and_tensor_parallel_scales_the_default(
    tmp_path: Path,
) -> None:
    servers = {
        "set": _launched("vllm-cpu-ngram", "--max-num-batched-tokens=512"),
        "tp2": _launched("vllm-cpu-base", "--tensor-parallel-size", "2"),
    }
    got = read_limits(_write(tmp_path, servers))
    assert got["set"].token_budget == 512 and got["set"].batch_limit == 64
    assert got["tp2"].token_budget == 2 * ENGINES["vllm"].limits.cpu_token_budget  # type: ignore[operator]


def test_a_gpu_variant_without_the_flag_says_the_budget_is_unknown(tmp_path: Path) -> None:
    """vLLM on a GPU schedules 2048-16384 tokens by device memory: not guessed."""
    got = read_limits(_write(tmp_path, {"g": _launched("vllm-eagle")}))["g"]
    assert got.token_budget is None and "pass --token-budget" in got.source
    sglang = read_limits(_write(tmp_path, {"s": _launched("sglang-eagle")}))["s"]
    assert sglang.token_budget is None and "--chunked-prefill-size not given" in sglang.source


def test_the_flag_overrides_and_external_endpoints_are_unknown(tmp_path: Path) -> None:
    servers = {
        "b": _launched("vllm-cpu-base"),
        "ext": {"name": "ext", "engine": "vllm", "launch": "external endpoint (not started)"},
    }
    results = _write(tmp_path, servers)
    assert read_limits(results)["ext"] == ServerLimits()
    forced = read_limits(results, 1024)
    assert forced["b"].token_budget == forced["ext"].token_budget == 1024
    assert forced["b"].batch_limit == 64  # the budget flag leaves the batch limit alone
    assert limits_for({}, "cells-only", None) == ServerLimits()
    assert limits_for({}, "cells-only", 4096).token_budget == 4096


def test_a_malformed_flag_value_is_refused_by_name(tmp_path: Path) -> None:
    results = _write(tmp_path, {"b": _launched("vllm-cpu-base", "--max-num-batched-tokens", "x")})
    with pytest.raises(ValueError, match=r"--max-num-batched-tokens 'x'.*not a whole number"):
        read_limits(results)
