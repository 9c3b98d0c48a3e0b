"""Secrets out of launch commands, environments and variant dumps; counts and paths kept."""

from __future__ import annotations

import json
from pathlib import Path

from loadgen.redact import REDACTED, is_secret_name, redact, redact_args
from loadgen.servers.launcher import LocalServer
from loadgen.servers.variant import load_variant

SECRET = "sk-live-abcdef0123456789"


def test_secret_names_are_words_not_substrings() -> None:
    for name in ("--api-key", "HF_TOKEN", "VLLM_API_KEY", "client_secret", "--hf-token", "apikey"):
        assert is_secret_name(name), name
    for name in ("--tokenizer", "num_speculative_tokens", "--max-num-batched-tokens", "--port",
                 "--ssl-keyfile", "--speculative-config", "max_model_len"):  # fmt: skip
        assert not is_secret_name(name), name


def test_command_lines_keep_everything_but_the_secret_values() -> None:
    args = ["--model", "m", "--api-key", SECRET, "--hf-token=hf_abc",
            "--return-tokens-as-token-ids", "--port", "8000",
            "--max-num-batched-tokens", "2048"]  # fmt: skip
    assert redact_args(args) == [
        "--model", "m", "--api-key", REDACTED, f"--hf-token={REDACTED}",
        "--return-tokens-as-token-ids", "--port", "8000", "--max-num-batched-tokens", "2048",
    ]  # fmt: skip


def test_a_launch_record_of_a_keyed_variant_holds_no_secret(tmp_path: Path) -> None:
    """What the sweep and demo manifests record: the real command line LocalServer would run."""
    base = load_variant("vllm-cpu-ngram")
    variant = base.model_copy(
        update={
            "args": [*base.args, "--api-key", SECRET],
            "env": {**base.env, "HF_TOKEN": "hf_secret", "VLLM_API_KEY": SECRET},
        }
    )
    command = LocalServer(variant, "model-dir", tmp_path / "log").command
    assert SECRET in command
    launch = redact({"command": command, "env": variant.env, "variant": variant.model_dump()})
    text = json.dumps(launch)
    assert SECRET not in text and "hf_secret" not in text
    assert launch["env"]["HF_TOKEN"] == REDACTED
    assert "--speculative-config" in launch["command"]  # the rest of the command is intact
    assert launch["variant"]["speculative"] == base.speculative
