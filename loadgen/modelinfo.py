"""A model's identity for provenance: a local model directory is hashed file by file (weights
separately from tokenizer files), so two runs can be proven to share a model; a hub id is
recorded as it is. Labels only; nothing here is used to compute a figure."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

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
