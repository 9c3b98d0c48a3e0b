"""Generate ``k8s/values/<variant>.yaml`` for the Helm chart from ``servers/*.yaml``.

Each file declares one engine (a map entry, so several ``-f`` files add up) and makes it the
benchmark's target. The engine's arguments are ``server_args`` with the model as
``$(SPEEDBENCH_MODEL)`` (Kubernetes expands it from the container's environment), so overriding
``engines.<variant>.model`` changes the model without touching the arguments. Run
``python -m loadgen.servers.generate``; a test fails while the committed files differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from loadgen.servers.command import (
    ENGINE_CONFIG_PATH,
    container_env,
    escape_dollar,
    server_args,
)
from loadgen.servers.variant import REPO_SERVERS_DIR, ServerVariant, all_variants

VALUES_DIR = REPO_SERVERS_DIR.parent / "k8s" / "values"
MODEL_REF = "$(SPEEDBENCH_MODEL)"
HEADER = (
    "# Generated from servers/{name}.yaml by `python -m loadgen.servers.generate`; do not edit\n"
    "# helm install NAME k8s/speedbench -f k8s/values/{name}.yaml\n"
)


def engine_values(variant: ServerVariant) -> dict[str, Any]:
    args = server_args(variant, MODEL_REF, "0.0.0.0", variant.port)
    return {
        "engine": variant.engine,
        "description": variant.description,
        "image": variant.image,
        "model": variant.model,
        "draftModel": variant.draft_model,
        "command": list(variant.entrypoint),
        "args": [a if a == MODEL_REF else escape_dollar(a) for a in args],
        "env": container_env(variant),
        "port": variant.port,
        "healthPath": variant.health_path,
        "metricsPath": variant.metrics_path,
        "gpus": variant.gpus,
        "startupTimeoutSeconds": int(variant.startup_timeout_s),
        "engineConfigPath": ENGINE_CONFIG_PATH,
        "engineConfig": variant.engine_config,
    }


def values_document(variant: ServerVariant) -> dict[str, Any]:
    return {
        "engines": {variant.name: engine_values(variant)},
        "benchmark": {"target": variant.name},
    }


def render(variant: ServerVariant) -> str:
    body = yaml.safe_dump(values_document(variant), sort_keys=False, width=100)
    return HEADER.format(name=variant.name) + body


def write_all(directory: Path = REPO_SERVERS_DIR, out: Path = VALUES_DIR) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for variant in all_variants(directory):
        path = out / f"{variant.name}.yaml"
        path.write_text(render(variant))
        paths.append(path)
    return paths
