"""Every shipped server variant parses strictly, and each SD variant is its baseline plus SD."""

from pathlib import Path

import pytest

from loadgen.servers.variant import REPO_SERVERS_DIR, VariantError, all_variants, load_variant

VARIANTS = all_variants()


def test_the_cpu_quickstart_pair_is_shipped() -> None:
    names = {v.name for v in VARIANTS}
    assert {"vllm-cpu-base", "vllm-cpu-ngram"} <= names


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.baseline], ids=lambda v: v.name)
def test_sd_variant_differs_from_its_baseline_only_in_sd(variant) -> None:  # type: ignore[no-untyped-def]
    base = load_variant(variant.baseline)
    assert base.speculative is None and variant.speculative is not None
    assert base.engine == variant.engine and base.model == variant.model
    assert base.env == variant.env and base.preload_libs == variant.preload_libs
    extra = [a for a in variant.args if a not in base.args]
    assert len(extra) == 2 and extra[0] == "--speculative-config"
    assert [a for a in variant.args if a not in extra] == base.args


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
