"""``speedbench serve VARIANT``: the exact command line and environment a variant's server runs
with -- the one the demo and sweeps launch (``LocalServer``), or for a variant that runs only in a
container, the one compose and Helm give it (``container_env`` and ``server_args``) -- printed,
or with ``--run`` run in the foreground."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loadgen.servers.command import container_env, server_args
from loadgen.servers.launcher import LaunchError, LocalServer
from loadgen.servers.variant import load_variant


@dataclass(frozen=True)
class ServeCommand:
    argv: list[str]
    env: dict[str, str]  # only what the variant sets (the rest is inherited)
    where: str  # "local process" or "container"

    def shell(self) -> str:
        assignments = [f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items())]
        return " ".join([*assignments, *map(shlex.quote, self.argv)])


def serve_command(
    name: str, model: str | None = None, port: int | None = None, extra: Sequence[str] = ()
) -> ServeCommand:
    """``extra``: engine arguments appended to the variant's (e.g. A/A calibration's
    ``--no-enable-prefix-caching``)."""
    variant = load_variant(name)
    chosen = model or variant.model
    try:
        server = LocalServer(variant, chosen, Path(os.devnull), port)
    except LaunchError:
        argv = [*variant.entrypoint, *server_args(variant, chosen, "0.0.0.0", port or variant.port)]
        return ServeCommand([*argv, *extra], container_env(variant), f"container {variant.image}")
    return ServeCommand([*server.command, *extra], server.environment({}), "local process")


def serve(
    name: str, model: str | None, port: int | None, run: bool, extra: Sequence[str] = ()
) -> int:
    command = serve_command(name, model, port, extra)
    print(f"# {name}: {command.where}")
    print(command.shell(), flush=True)
    if not run:
        return 0
    if command.where != "local process":
        raise LaunchError(f"{name} runs in a container: `docker compose up {name}`, or Helm")
    os.execvpe(command.argv[0], command.argv, {**os.environ, **command.env})
