"""Generate the root ``compose.yaml`` (and Prometheus' scrape config) from ``servers/*.yaml``.

One service per variant, each in its own profile, so ``docker compose up vllm-eagle`` starts that
variant alone; plus ``prometheus`` and the distributed Locust load (``loadgen`` master and
``loadgen-worker``, scaled with ``--scale``). Run ``python -m loadgen.servers.generate`` after
changing a variant; a test fails while the committed files differ from what this writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from loadgen.runspec import RunSpec
from loadgen.runspec.flags import deploy_fields, env_name, flag_of
from loadgen.servers.command import (
    ENGINE_CONFIG_PATH,
    container_env,
    escape_dollar,
    server_args,
)
from loadgen.servers.variant import REPO_SERVERS_DIR, ServerVariant, all_variants
from loadgen.swarm.cluster import METRICS_PORT, LoadPlan, master_command, worker_command

REPO_ROOT = REPO_SERVERS_DIR.parent
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
PROMETHEUS_FILE = REPO_ROOT / "docker" / "prometheus.yml"
HEADER = "# Generated from servers/*.yaml by `python -m loadgen.servers.generate`: do not edit.\n"

HF_CACHE = "/hf-cache"
# CPU variants name the demo's locally built model; compose mounts the demo's output there.
DEMO_MODEL = "speedbench-demo"
DEMO_MODEL_DIR = "/models/speedbench-demo"
# No registry: SPEEDBENCH_PROMETHEUS_IMAGE names a local build (docker/prometheus/Dockerfile).
PROMETHEUS_IMAGE = "${SPEEDBENCH_PROMETHEUS_IMAGE:-prom/prometheus:v2.55.1}"
LOADGEN_IMAGE = "speedbench/loadgen:0.1.0"
LOCUST_MASTER_PORT = 5557


def container_model(variant: ServerVariant) -> str:
    default = DEMO_MODEL_DIR if variant.model == DEMO_MODEL else variant.model
    return "${SPEEDBENCH_MODEL:-" + default + "}"


def _healthcheck(variant: ServerVariant) -> dict[str, Any]:
    url = f"http://127.0.0.1:{variant.port}{variant.health_path}"
    probe = f"import urllib.request; urllib.request.urlopen('{url}', timeout=5)"
    return {
        "test": ["CMD", "python3", "-c", probe],
        "interval": "15s",
        "timeout": "10s",
        "retries": 3,
        "start_period": f"{int(variant.startup_timeout_s)}s",
    }


def engine_service(variant: ServerVariant) -> dict[str, Any]:
    args = server_args(variant, "MODEL", "0.0.0.0", variant.port)
    command = [container_model(variant) if a == "MODEL" else escape_dollar(a) for a in args]
    env = {"HF_TOKEN": "${HF_TOKEN:-}", "HF_HOME": HF_CACHE, **container_env(variant)}
    volumes = [f"hf-cache:{HF_CACHE}"]
    service: dict[str, Any] = {"image": variant.image}
    if variant.build_target:
        service["build"] = {"context": ".", "dockerfile": "docker/Dockerfile"}
        service["build"]["target"] = variant.build_target
    if variant.model == DEMO_MODEL:
        volumes.append(f"${{SPEEDBENCH_DEMO_MODEL:-./speedbench-demo/model}}:{DEMO_MODEL_DIR}:ro")
    service |= {
        "profiles": [variant.name],
        "entrypoint": list(variant.entrypoint),
        "command": command,
        "ports": [f"${{SPEEDBENCH_PORT:-{variant.port}}}:{variant.port}"],
        "environment": env,
        "volumes": volumes,
        "healthcheck": _healthcheck(variant),
        "labels": {
            "speedbench.variant": variant.name,
            "speedbench.engine": variant.engine,
            "speedbench.metrics_path": variant.metrics_path,
        },
    }
    if variant.engine_config is not None:
        service["configs"] = [
            {"source": f"{variant.name}-engine-config", "target": ENGINE_CONFIG_PATH}
        ]
    if variant.gpus:
        device = {"driver": "nvidia", "count": variant.gpus, "capabilities": ["gpu"]}
        service["ipc"] = "host"
        service["ulimits"] = {"memlock": -1, "stack": 67108864}
        service["deploy"] = {"resources": {"reservations": {"devices": [device]}}}
    else:
        service["shm_size"] = "2gb"
    return service


# A deployment reads the data its volume mounts; no model name unless told.
DEPLOY_DEFAULTS = {"data_dir": "/data/prepared", "model": ""}


def _load_env() -> dict[str, str]:
    """The run settings a deployment sets (``loadgen.runspec.deploy_fields``) reach Locust as
    SPEEDBENCH_* variables, each overridable from the shell, defaults from the run spec."""
    env = {}
    for name in deploy_fields():
        default = DEPLOY_DEFAULTS.get(name, RunSpec.model_fields[name].default)
        variable = env_name(flag_of(name))
        env[variable] = "${" + variable + ":-" + str(default) + "}"
    return {**env, "SPEEDBENCH_OUT": "/results"}


def load_services() -> dict[str, Any]:
    plan = LoadPlan(
        workers="${SPEEDBENCH_WORKERS:-2}",
        users="${SPEEDBENCH_USERS:-4}",
        spawn_rate="${SPEEDBENCH_SPAWN_RATE:-4}",
        run_time="${SPEEDBENCH_RUN_TIME:-60m}",
        host="${SPEEDBENCH_HOST:-http://vllm-cpu-ngram:8000}",
        results="/results",
    )
    common: dict[str, Any] = {
        "image": LOADGEN_IMAGE,
        "build": {"context": ".", "dockerfile": "docker/Dockerfile", "target": "loadgen"},
        "profiles": ["load"],
        "environment": _load_env(),
        "volumes": ["${SPEEDBENCH_DATA_DIR:-./data}:/data:ro", "./results:/results"],
        "read_only": True,
        "tmpfs": ["/tmp"],
        "security_opt": ["no-new-privileges:true"],
    }
    master = common | {
        "command": master_command(plan),
        "expose": [str(LOCUST_MASTER_PORT), str(METRICS_PORT)],
    }
    worker = common | {"command": worker_command(plan, "loadgen"), "depends_on": ["loadgen"]}
    return {"loadgen": master, "loadgen-worker": worker}


def compose_document(variants: list[ServerVariant]) -> dict[str, Any]:
    services = {v.name: engine_service(v) for v in variants}
    services["prometheus"] = {
        "image": PROMETHEUS_IMAGE,
        "volumes": ["./docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro"],
        "ports": ["${SPEEDBENCH_PROMETHEUS_PORT:-9090}:9090"],
        "read_only": True,
        "security_opt": ["no-new-privileges:true"],
        "healthcheck": {
            "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/ready"],
            "interval": "15s",
            "timeout": "5s",
            "retries": 3,
        },
    }
    services |= load_services()
    document: dict[str, Any] = {"name": "speedbench", "services": services}
    configs = {
        f"{v.name}-engine-config": {"content": yaml.safe_dump(v.engine_config, sort_keys=False)}
        for v in variants
        if v.engine_config is not None
    }
    if configs:
        document["configs"] = configs
    document["volumes"] = {"hf-cache": {}}
    return document


def prometheus_config(variants: list[ServerVariant]) -> dict[str, Any]:
    """One scrape job per variant (only the running one answers) and one for the load."""
    jobs: list[dict[str, Any]] = [
        {
            "job_name": v.name,
            "metrics_path": v.metrics_path,
            "static_configs": [{"targets": [f"{v.name}:{v.port}"], "labels": {"engine": v.engine}}],
        }
        for v in variants
    ]
    jobs.append(
        {"job_name": "loadgen", "static_configs": [{"targets": [f"loadgen:{METRICS_PORT}"]}]}
    )
    return {"global": {"scrape_interval": "5s"}, "scrape_configs": jobs}


def render(document: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(document, sort_keys=False, width=100)


def write_all(directory: Path = REPO_SERVERS_DIR) -> list[Path]:
    variants = all_variants(directory)
    COMPOSE_FILE.write_text(render(compose_document(variants)))
    PROMETHEUS_FILE.parent.mkdir(parents=True, exist_ok=True)
    PROMETHEUS_FILE.write_text(render(prometheus_config(variants)))
    return [COMPOSE_FILE, PROMETHEUS_FILE]
