"""Every shipped server variant parses strictly, and each SD variant is its baseline plus SD."""

import json
from pathlib import Path

import pytest

from loadgen.servers.variant import (
    REPO_SERVERS_DIR,
    ServerVariant,
    VariantError,
    all_variants,
    load_variant,
    parse_variant_file,
)

VARIANTS = all_variants()


def test_the_cpu_quickstart_pair_is_shipped() -> None:
    names = {v.name for v in VARIANTS}
    assert {"vllm-cpu-base", "vllm-cpu-ngram"} <= names


# Fields an SD variant may change relative to its baseline; every other field must be equal.
SD_FIELDS = {
    "name",
    "description",
    "speculative",
    "baseline",
    "draft_model",
    "args",
    "engine_config",
}
SD_CONFIG_KEY = "speculative_config"


def sd_flags(variant: ServerVariant, base: ServerVariant) -> list[str]:
    """The SD arguments: the variant's args are the baseline's, then only `--speculative*` pairs."""
    assert variant.args[: len(base.args)] == base.args, "SD flags go after the baseline's args"
    extra = variant.args[len(base.args) :]
    flags, values = extra[0::2], extra[1::2]
    assert len(flags) == len(values) and all(f.startswith("--speculative") for f in flags), extra
    return extra


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.baseline], ids=lambda v: v.name)
def test_sd_variant_differs_from_its_baseline_only_in_sd(variant: ServerVariant) -> None:
    assert variant.baseline is not None
    base = load_variant(variant.baseline)
    assert base.speculative is None and base.baseline is None and variant.speculative is not None
    assert base.draft_model is None
    same = set(ServerVariant.model_fields) - SD_FIELDS
    assert {f: getattr(variant, f) for f in same} == {f: getattr(base, f) for f in same}
    extra = sd_flags(variant, base)
    config = dict(variant.engine_config or {})
    sd_config = config.pop(SD_CONFIG_KEY, None)
    assert config == (base.engine_config or {}), "engine_config differs beyond speculative_config"
    assert extra or sd_config, "an SD variant must switch SD on through args or engine_config"
    if variant.draft_model:  # the declared draft is the one the engine is told to load
        assert variant.draft_model in " ".join(extra) + json.dumps(sd_config)


def test_every_engine_has_a_baseline_and_an_sd_variant() -> None:
    for engine in ("vllm", "sglang", "trtllm"):
        kinds = {v.speculative is None for v in VARIANTS if v.engine == engine and v.gpus}
        assert kinds == {True, False}, engine


@pytest.mark.parametrize("image", ["vllm/vllm-openai", "vllm/vllm-openai:latest", "x:5000/y"])
def test_images_must_be_pinned(image: str, tmp_path: Path) -> None:
    text = (REPO_SERVERS_DIR / "vllm-base.yaml").read_text()
    text = text.replace("image: vllm/vllm-openai:v0.32.0", f"image: {image}")
    (tmp_path / "vllm-base.yaml").write_text(text)
    with pytest.raises(VariantError, match="pinned"):
        load_variant("vllm-base", tmp_path)


def test_a_draft_model_without_sd_is_refused(tmp_path: Path) -> None:
    text = (REPO_SERVERS_DIR / "vllm-base.yaml").read_text() + "draft_model: x/y\n"
    (tmp_path / "vllm-base.yaml").write_text(text)
    with pytest.raises(VariantError, match="draft_model"):
        load_variant("vllm-base", tmp_path)


def test_unknown_key_is_an_error_that_names_file_and_field(tmp_path: Path) -> None:
    text = (REPO_SERVERS_DIR / "vllm-cpu-base.yaml").read_text() + "gpu_count: 1\n"
    (tmp_path / "vllm-cpu-base.yaml").write_text(text)
    with pytest.raises(VariantError, match="gpu_count"):
        load_variant("vllm-cpu-base", tmp_path)


def test_unknown_variant_lists_the_known_ones() -> None:
    with pytest.raises(VariantError, match="vllm-cpu-base"):
        load_variant("vllm-gpu-turbo")


def test_name_must_match_file(tmp_path: Path) -> None:
    text = (REPO_SERVERS_DIR / "vllm-cpu-base.yaml").read_text()
    (tmp_path / "other.yaml").write_text(text)
    with pytest.raises(VariantError, match="must equal the file name"):
        load_variant("other", tmp_path)


def test_a_variant_file_with_broken_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "vllm-x.yaml"
    path.write_text("name: vllm-x\n\targs: []\n")
    with pytest.raises(VariantError, match=r"vllm-x.yaml: not valid YAML .*fix the syntax"):
        parse_variant_file(path)
