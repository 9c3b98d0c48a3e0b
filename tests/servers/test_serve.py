"""`speedbench serve VARIANT`: the very command and environment the demo and sweeps launch."""

import subprocess
import sys
from pathlib import Path

from loadgen.servers.command import container_env, server_args
from loadgen.servers.launcher import LocalServer
from loadgen.servers.serve import serve_command
from loadgen.servers.variant import load_variant


def test_a_cpu_variant_prints_the_launchers_command_and_preload() -> None:
    variant = load_variant("vllm-cpu-ngram")
    local = LocalServer(variant, "/models/tiny", Path("/dev/null"))
    command = serve_command("vllm-cpu-ngram", "/models/tiny")
    assert command.argv == local.command
    assert command.env == local.environment({})
    assert command.where == "local process"
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "serve", "vllm-cpu-ngram", "--model", "/models/tiny"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert command.shell() in proc.stdout and "--speculative-config" in proc.stdout


def test_a_gpu_variant_prints_the_containers_command() -> None:
    variant = load_variant("vllm-eagle")
    command = serve_command("vllm-eagle")
    args = server_args(variant, variant.model, "0.0.0.0", 8000)
    assert command.argv == [*variant.entrypoint, *args]
    assert command.env == container_env(variant)


def test_engine_arguments_are_appended_to_the_variants() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "serve", "vllm-cpu-base", "--model", "/models/tiny",
         "--port", "8100", "--engine-arg=--no-enable-prefix-caching"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = proc.stdout.splitlines()[1]
    assert line.endswith("--port 8100 --max-model-len 8192 --seed 0 --max-num-seqs 64 "
                         "--no-enable-prefix-caching")  # fmt: skip
    assert serve_command("vllm-cpu-base", "/m", extra=["--x"]).argv[-1] == "--x"
