"""``speedbench data prepare`` end to end on local files, with the demo model's real tokenizer:
cache reuse and invalidation, raw mode, --exact-isl, multi-turn rows, the printed ISL table."""

import json
import shutil
from pathlib import Path

import pytest

from loadgen.cli import main
from loadgen.data.prepare import cache_key, prepare_to_disk
from loadgen.data.prepared import PreparedSet
from loadgen.data.source import RowTally, iter_rows, write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from loadgen.data.tokenize import PromptEncoder, TokenizeOptions, load_tokenizer
from loadgen.model_factory import CHAT_TEMPLATE

FIXTURE = Path(__file__).parents[2] / "datasets" / "qualitative_fixture.jsonl"


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("raw")
    write_jsonl(synthetic_throughput_split(["1k"], 2)["1k"], base / "throughput_1k.jsonl")
    return base


def test_identical_inputs_reuse_the_cache_and_any_change_rebuilds(
    raw: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "prep"
    first = prepare_to_disk(str(raw), ["throughput_1k"], str(tiny_model), out)
    again = prepare_to_disk(str(raw), ["throughput_1k"], str(tiny_model), out)
    assert not first.reused and again.reused and again.manifest == first.manifest
    raw_mode = prepare_to_disk(
        str(raw), ["throughput_1k"], str(tiny_model), out, options=TokenizeOptions(raw=True)
    )
    assert not raw_mode.reused and raw_mode.manifest["cache_key"] != first.manifest["cache_key"]
    edited = tmp_path / "edited"
    rows = (raw / "throughput_1k.jsonl").read_text().splitlines()
    row = json.loads(rows[0])
    row["turns"] = [row["turns"][0] + " Thanks."]
    write_jsonl_lines(edited / "throughput_1k.jsonl", [json.dumps(row), *rows[1:]])
    changed = prepare_to_disk(str(edited), ["throughput_1k"], str(tiny_model), out)
    assert not changed.reused


def write_jsonl_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_manifest_records_what_the_issue_asks(raw: Path, tiny_model: Path, tmp_path: Path) -> None:
    m = prepare_to_disk(str(raw), ["throughput_1k"], str(tiny_model), tmp_path, "abc123").manifest
    assert m["source"] == str(raw) and m["configs"] == ["throughput_1k"]
    assert m["revision"] == "abc123"
    assert m["counts"] == {"throughput_1k": {"rows": 6, "skipped_placeholder": 0}}
    assert set(m["tokenizer"]) == {"name", "vocab_sha256", "chat_template_sha256"}
    assert set(m["isl_stats"]) == {"1k/high_entropy", "1k/low_entropy", "1k/mixed"}


def test_raw_mode_is_bos_then_the_text_without_template(
    raw: Path, tiny_model: Path, tmp_path: Path
) -> None:
    tok = load_tokenizer(str(tiny_model))
    opts = TokenizeOptions(raw=True)
    prepare_to_disk(str(raw), ["throughput_1k"], str(tiny_model), tmp_path, options=opts)
    prompt = PreparedSet.read(tmp_path).prompts[0]
    assert prompt.prompt_token_ids[0] == tok.bos_token_id
    assert tok.decode(prompt.prompt_token_ids[1:]) == prompt.turns[0]


@pytest.mark.parametrize("raw_mode", [False, True])
def test_exact_isl_is_exactly_the_bucket_length_with_the_framing_intact(
    raw: Path, tiny_model: Path, tmp_path: Path, raw_mode: bool
) -> None:
    tok = load_tokenizer(str(tiny_model))
    opts = TokenizeOptions(raw=raw_mode, exact_isl=True)
    m = prepare_to_disk(str(raw), ["throughput_1k"], str(tiny_model), tmp_path, options=opts)
    prefix, suffix = PromptEncoder(tok, opts).framing()
    assert all(s["min"] == s["max"] == 1000 for s in m.manifest["isl_stats"].values())
    for p in PreparedSet.read(tmp_path).prompts:
        ids = p.prompt_token_ids
        assert len(ids) == 1000 and ids.count(tok.bos_token_id) == 1
        assert ids[: len(prefix)] == prefix and ids[len(ids) - len(suffix) :] == suffix


def test_exact_isl_pads_short_rows_with_other_real_text(tiny_model: Path, tmp_path: Path) -> None:
    """A row well under its bucket is padded, after its own text, with manual prose."""
    tok = load_tokenizer(str(tiny_model))
    line = json.loads(FIXTURE.read_text().splitlines()[0])
    line["category"] = "mixed"
    write_jsonl_lines(tmp_path / "throughput_2k.jsonl", [json.dumps(line)])
    opts = TokenizeOptions(exact_isl=True)
    prepare_to_disk(str(tmp_path), ["throughput_2k"], str(tiny_model), tmp_path / "p", options=opts)
    (prompt,) = PreparedSet.read(tmp_path / "p").prompts
    text = tok.decode(prompt.prompt_token_ids)
    assert len(prompt.prompt_token_ids) == 2000
    assert text.index(line["turns"][0][:40]) < len(text) // 4
    assert text.count(line["turns"][0][:40]) == 1  # padding never repeats the prompt


def test_exact_isl_needs_a_sized_bucket(tiny_model: Path, tmp_path: Path) -> None:
    opts = TokenizeOptions(exact_isl=True)
    with pytest.raises(ValueError, match="needs a throughput bucket"):
        prepare_to_disk(str(FIXTURE), ["qualitative"], str(tiny_model), tmp_path, options=opts)


def test_multi_turn_rows_keep_every_turn(tiny_model: Path, tmp_path: Path) -> None:
    prepare_to_disk(str(FIXTURE), ["qualitative"], str(tiny_model), tmp_path)
    prompts = PreparedSet.read(tmp_path).bucket("qualitative")
    source = [json.loads(x) for x in FIXTURE.read_text().splitlines()]
    assert {p.question_id: p.turns for p in prompts} == {
        r["question_id"]: r["turns"] for r in source
    }
    assert len({p.category for p in prompts}) == 11
    assert any(len(p.turns) == 2 for p in prompts)


def test_cli_prints_the_isl_table_and_reports_cache_reuse(
    raw: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "prepare", "--source", str(raw), "--model", str(tiny_model)]
    args += ["--out", str(tmp_path), "--config", "throughput_1k"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("prepared data set")
    table = [line.split() for line in out.splitlines() if line.startswith("1k ")]
    assert sorted(r[1] for r in table) == ["high_entropy", "low_entropy", "mixed"]
    assert all(int(r[2]) == 2 and int(r[3]) <= float(r[4]) <= int(r[5]) for r in table)
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("reused cached data set")


def test_a_hub_source_without_revision_is_never_reused() -> None:
    """The hub may change under the same name: only a pinned --revision identifies the rows."""
    tok = {"name": "t", "vocab_sha256": "v", "chat_template_sha256": "c"}
    opts = TokenizeOptions()
    assert cache_key("nvidia/SPEED-Bench", ["qualitative"], None, False, opts, tok) is None
    pinned = cache_key("nvidia/SPEED-Bench", ["qualitative"], "abc", False, opts, tok)
    other = cache_key("nvidia/SPEED-Bench", ["qualitative"], "def", False, opts, tok)
    assert pinned and other and pinned != other


def test_batches_finished_in_the_background_match_one_pass_in_order(
    raw: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """Encoding and finishing overlap across batches; the result is the same, row for row."""
    prepare_to_disk(str(raw), ["throughput_1k"], str(tiny_model), tmp_path / "a", batch_rows=2)
    staged = PreparedSet.read(tmp_path / "a").prompts
    rows = list(iter_rows(str(raw), "throughput_1k", None, False, RowTally()))
    assert len(rows) == 6  # three batches
    encoder = PromptEncoder(load_tokenizer(str(tiny_model)), TokenizeOptions())
    assert staged == encoder.encode_rows(rows, "1k")


def test_a_failure_in_a_later_batch_leaves_no_prepared_set(
    raw: Path, tiny_model: Path, tmp_path: Path
) -> None:
    lines = (raw / "throughput_1k.jsonl").read_text().splitlines()
    bad = json.loads(lines[-1])
    bad["turns"] = ["<|begin_of_text|>" + bad["turns"][0]]  # BOS twice once templated
    write_jsonl_lines(tmp_path / "raw" / "throughput_1k.jsonl", [*lines[:-1], json.dumps(bad)])
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="appears 2 time"):
        prepare_to_disk(
            str(tmp_path / "raw"), ["throughput_1k"], str(tiny_model), out, batch_rows=2
        )
    assert not (out / "prompts.parquet").exists()


NOTE_TEMPLATE = CHAT_TEMPLATE.replace(
    "{{ bos_token }}", "{{ bos_token }}{% if note is defined %}NOTE:{{ note }}|{% endif %}", 1
)


def test_cli_flags_reach_the_prepared_prompts(
    raw: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--chat-template-kwargs, --revision and --exact-isl through the command line: the demo
    model's template, given one variable, renders it; the revision is recorded and printed."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    tok = load_tokenizer(str(model))
    tok.chat_template = NOTE_TEMPLATE
    tok.save_pretrained(model)
    args = ["data", "prepare", "--source", str(raw), "--model", str(model), "--out"]
    args += [str(tmp_path / "kw"), "--config", "throughput_1k", "--revision", "rev-123"]
    args += ["--chat-template-kwargs", '{"note": "pinned"}', "--exact-isl"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert '"revision": "rev-123"' in out
    table = [line.split() for line in out.splitlines() if line.startswith("1k ")]
    assert len(table) == 3 and all(r[2:] == ["2", "1000", "1000", "1000"] for r in table)
    prepared = PreparedSet.read(tmp_path / "kw")
    assert prepared.manifest["revision"] == "rev-123"
    assert prepared.manifest["template_kwargs"] == {"note": "pinned"}
    for p in prepared.prompts:
        ids = p.prompt_token_ids
        assert len(ids) == 1000 and ids.count(tok.bos_token_id) == 1
        assert tok.decode(ids[1:]).startswith("NOTE:pinned|<|start_header_id|>user")
    # without the variable the same template renders no note
    plain = ["data", "prepare", "--source", str(raw), "--model", str(model), "--out"]
    assert main([*plain, str(tmp_path / "plain"), "--config", "throughput_1k"]) == 0
    assert all("NOTE:" not in tok.decode(p.prompt_token_ids)
               for p in PreparedSet.read(tmp_path / "plain").prompts)  # fmt: skip


def test_cli_raw_flag_sends_bos_then_the_text(
    raw: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tok = load_tokenizer(str(tiny_model))
    args = ["data", "prepare", "--source", str(raw), "--model", str(tiny_model), "--out"]
    assert main([*args, str(tmp_path), "--config", "throughput_1k", "--raw"]) == 0
    assert capsys.readouterr().out.startswith("prepared data set")
    prepared = PreparedSet.read(tmp_path)
    assert prepared.manifest["options"]["raw"] is True
    for p in prepared.prompts:
        assert p.prompt_token_ids[0] == tok.bos_token_id
        assert tok.decode(p.prompt_token_ids[1:]) == p.turns[0]  # no template around it


def test_a_split_that_is_not_a_throughput_split_is_labelled_by_its_name(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 17 item 14: the output of `speedbench data diverse` (short prompts) prepared without
    --config is bucket `diverse`, not `1k`; forced into `throughput_1k` it is warned about."""
    diverse = tmp_path / "diverse.jsonl"
    diverse.write_text(FIXTURE.read_text())
    base = ["data", "prepare", "--source", str(diverse), "--model", str(tiny_model)]
    assert main([*base, "--out", str(tmp_path / "own")]) == 0
    assert {p.bucket for p in PreparedSet.read(tmp_path / "own").prompts} == {"diverse"}
    assert "warning" not in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "forced"), "--config", "throughput_1k"]) == 0
    err = capsys.readouterr().err
    assert "speedbench: warning: bucket '1k' (" in err and "far from its nominal 1000" in err
    assert "pass --config with their own name" in err
