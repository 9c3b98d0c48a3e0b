"""What a results directory was measured with: harness, engines, model, tokenizer, data, host.

Labels only; nothing here is used to compute a figure. A local model directory is hashed file by
file (weights separately from tokenizer files), so two runs can be proven to share a model.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path
from typing import Any

import requests

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def _sha256(paths: list[Path]) -> str | None:
    if not paths:
        return None
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def model_hashes(model: str) -> dict[str, Any]:
    root = Path(model)
    if not root.is_dir():
        return {
            "id": model,
            "model_sha256": None,
            "tokenizer_sha256": None,
            "note": "not a local directory: identified by its hub id only",
        }
    files = [p for p in root.iterdir() if p.is_file()]
    return {
        "id": model,
        "model_sha256": _sha256([p for p in files if p.suffix in WEIGHT_SUFFIXES]),
        "config_sha256": _sha256([p for p in files if p.name == "config.json"]),
        "tokenizer_sha256": _sha256([p for p in files if p.name in TOKENIZER_FILES]),
    }


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
