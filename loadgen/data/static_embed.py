"""Static token embeddings distilled from a sentence-transformers model (model2vec's recipe).

A prompt's static embedding is the mean of per-token vectors over its *whole* text: no forward
pass, no truncation, thousands of prompts per second. The token table is distilled once from the
source model, as model2vec does it (Tulkens & van Dongen, 2024): one forward pass per vocabulary
token framed by the model's special tokens, mean-pooled; PCA to ``PCA_DIMS``; each row weighted
by SIF over Zipf ranks. (model2vec's own ``distill`` pins transformers < 5.4, which would
downgrade this environment, so the few lines of the recipe live here.) The table is cached on
disk, keyed by the source model's content hash and the recipe, and written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from loadgen import atomic
from loadgen.modelinfo import model_hashes

# Bump when the recipe below changes: old cached tables are then distilled again.
PCA_DIMS = 256
SIF_COEFFICIENT = 1e-4
RECIPE = {"version": 1, "pooling": "mean", "pca_dims": PCA_DIMS, "sif": SIF_COEFFICIENT}
# Large batches: the per-batch forward is tiny (3 tokens a row); 4096 was 1.5x faster than 512 here.
DISTILL_BATCH = 4096
CACHE_ENV = "SPEEDBENCH_CACHE"

Table = npt.NDArray[np.float32]


@dataclass(frozen=True)
class StaticModel:
    """A distilled token table and where it came from."""

    table: Table
    tokenizer_file: Path
    path: Path
    reused: bool
    distill_s: float

    def describe(self) -> dict[str, Any]:
        return {
            "cache": str(self.path),
            "reused": self.reused,
            "distill_s": self.distill_s,
            "dims": int(self.table.shape[1]),
            "recipe": RECIPE,
        }


def cache_dir() -> Path:
    """``$SPEEDBENCH_CACHE``, else ``$XDG_CACHE_HOME/speedbench``, else ``~/.cache/speedbench``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "speedbench"


def model_dir(model: str) -> Path:
    """The local directory of ``model`` (a path, or a hub id already in the HF cache)."""
    if Path(model).is_dir():
        root = Path(model)
    else:
        from huggingface_hub import snapshot_download

        root = Path(snapshot_download(model))
    if not (root / "tokenizer.json").is_file() or not (root / "config.json").is_file():
        raise ValueError(
            f"static embedding needs a fast tokenizer (tokenizer.json) and config.json in {root}; "
            "use a model that has them, or --embedding transformer"
        )
    return root


def static_key(root: Path) -> str:
    """Hash of the source model's weights, config and tokenizer files, and of the recipe."""
    hashes = model_hashes(str(root))
    hashes.pop("id")
    inputs = {"model": hashes, "recipe": RECIPE}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


def load_static(model: str, cache: Path | None = None) -> StaticModel:
    """The cached table for ``model``, distilled (and cached) first when there is none."""
    root = model_dir(model)
    path = (cache or cache_dir()) / "static-embeddings" / f"{static_key(root)}.npy"
    if path.is_file():
        return StaticModel(np.load(path), root / "tokenizer.json", path, True, 0.0)
    start = time.perf_counter()
    table = distill(root)
    distill_s = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp, tmp.open("wb") as fh:
        np.save(fh, table)
    return StaticModel(table, root / "tokenizer.json", path, False, distill_s)


def distill(root: Path) -> Table:
    """One row per vocabulary id: the model's mean-pooled output for that token alone."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(root)).eval()
    tokenizer = _plain_tokenizer(root / "tokenizer.json")
    before, after = _framing(tokenizer)
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    rows = np.empty((vocab, model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, vocab, DISTILL_BATCH):
            ids = torch.arange(start, min(vocab, start + DISTILL_BATCH))[:, None]
            inputs = torch.cat(
                [
                    torch.tensor(before, dtype=torch.long).expand(len(ids), -1),
                    ids,
                    torch.tensor(after, dtype=torch.long).expand(len(ids), -1),
                ],
                dim=1,
            )
            hidden = model(input_ids=inputs, attention_mask=torch.ones_like(inputs))
            rows[start : start + len(ids)] = hidden.last_hidden_state.float().mean(dim=1).numpy()
    return _pca_sif(rows)


def _plain_tokenizer(path: Path) -> Any:
    """The model's fast tokenizer without the padding and truncation its file may switch on."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _framing(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens the model puts around a text, e.g. ``[CLS]`` and ``[SEP]``."""
    framed = tokenizer.encode("a").ids
    bare = tokenizer.encode("a", add_special_tokens=False).ids
    for where in range(len(framed) - len(bare) + 1):
        if framed[where : where + len(bare)] == bare:
            return framed[:where], framed[where + len(bare) :]
    raise ValueError("the tokenizer's framing of a text does not contain the text's own tokens")


def _pca_sif(rows: Table) -> Table:
    """PCA to ``PCA_DIMS`` components, then SIF weights ``a / (a + p)`` with Zipf ``p`` by id."""
    centred = rows.astype(np.float64) - rows.mean(axis=0)
    _, components = np.linalg.eigh(centred.T @ centred)
    dims = min(PCA_DIMS, rows.shape[1])
    projected = centred @ components[:, ::-1][:, :dims]
    inverse_rank = 1.0 / np.arange(2, len(rows) + 2)
    share = inverse_rank / inverse_rank.sum()
    weights = SIF_COEFFICIENT / (SIF_COEFFICIENT + share)
    table: Table = (projected * weights[:, None]).astype(np.float32)
    return table


def static_embed(texts: Sequence[str], model: StaticModel) -> Table:
    """Unit-length mean of the table rows of each text's tokens (a text without any: zeros)."""
    encodings = _plain_tokenizer(model.tokenizer_file).encode_batch_fast(
        list(texts), add_special_tokens=False
    )
    vectors = np.zeros((len(texts), model.table.shape[1]), dtype=np.float32)
    for row, encoding in zip(vectors, encodings, strict=True):
        if encoding.ids:
            total = model.table[encoding.ids].sum(axis=0, dtype=np.float64)
            row[:] = total / np.linalg.norm(total)
    return vectors
