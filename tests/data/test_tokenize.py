"""Templating and tokenizing outside the engine, with the demo model's real tokenizer."""

from pathlib import Path

import pytest

from loadgen.data.prepare import prepare_to_disk
from loadgen.data.prepared import PreparedSet
from loadgen.data.source import write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from loadgen.data.tokenize import TemplateError, encode_prompt, load_tokenizer, render


def test_bos_appears_exactly_once_at_the_start(tiny_model: Path) -> None:
    tok = load_tokenizer(str(tiny_model))
    ids = encode_prompt(tok, render(tok, ["hello"], None), "q")
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1


def test_double_bos_is_refused(tiny_model: Path) -> None:
    tok = load_tokenizer(str(tiny_model))
    text = tok.bos_token + render(tok, ["hello"], None)
    with pytest.raises(TemplateError, match="appears 2 time"):
        encode_prompt(tok, text, "q")


def test_prepared_set_round_trips_with_isl_stats(tiny_model: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_jsonl(synthetic_throughput_split(["1k"], 2)["1k"], raw / "throughput_1k.jsonl")
    prepare_to_disk(str(raw), ["throughput_1k"], str(tiny_model), tmp_path / "prep")
    again = PreparedSet.read(tmp_path / "prep")
    assert len(again.prompts) == 6 and all(p.isl > 0 for p in again.prompts)
    stats = again.manifest["isl_stats"]["1k/mixed"]
    assert stats["count"] == 2 and stats["min"] <= stats["median"] <= stats["max"]
    assert again.manifest["tokenizer"]["chat_template_sha256"]
