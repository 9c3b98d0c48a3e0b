"""What a results directory was measured with: harness and engine versions (the model's hashes
are ``loadgen.modelinfo``, the host's ``loadgen.hostinfo``). Labels only; nothing here is used
to compute a figure."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import requests


def engine_version(url: str) -> Any:
    """The engine's ``/version`` answer (vLLM, SGLang), or why there is none."""
    try:
        response = requests.get(url + "/version", timeout=5)
    except requests.RequestException as exc:
        return {"error": f"{type(exc).__name__}"}
    if response.status_code != 200:
        return {"error": f"HTTP {response.status_code}"}
    try:
        return response.json()
    except ValueError:
        return {"text": response.text[:200]}


def harness_version() -> str | None:
    try:
        return importlib.metadata.version("speedbench")
    except importlib.metadata.PackageNotFoundError:
        return None
