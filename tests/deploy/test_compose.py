"""compose.yaml and docker/: generated from servers/, valid against the Compose Specification, and
field by field the variants (the CPU ones with the very argument list LocalServer runs)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from loadgen.servers.command import ENGINE_CONFIG_PATH, local_entrypoint, server_args
from loadgen.servers.compose import (
    COMPOSE_FILE,
    PROMETHEUS_FILE,
    compose_document,
    container_model,
    load_services,
    prometheus_config,
    render,
)
from loadgen.servers.launcher import LocalServer
from loadgen.servers.variant import ServerVariant, all_variants
from loadgen.swarm.cluster import LoadPlan, master_command, worker_command
from tests.deploy import pinned
from tests.deploy.tools import REPO, compose_schema_check

VARIANTS = all_variants()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())


def test_committed_files_are_the_generated_ones() -> None:
    stale = "stale: run `python -m loadgen.servers.generate`"
    assert COMPOSE_FILE.read_text() == render(compose_document(VARIANTS)), stale
    assert PROMETHEUS_FILE.read_text() == render(prometheus_config(VARIANTS)), stale


def test_compose_file_validates_against_the_compose_specification() -> None:
    proc = compose_schema_check(COMPOSE_FILE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    """Control: an unknown service key fails, so the pass above means something."""
    bad = COMPOSE_FILE.read_text().replace("    profiles:", "    profile:", 1)
    (tmp_path / "compose.yaml").write_text(bad)
    assert compose_schema_check(tmp_path / "compose.yaml").returncode != 0


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_each_variant_is_a_service_of_its_own_profile(variant: ServerVariant) -> None:
    service = COMPOSE["services"][variant.name]
    assert service["profiles"] == [variant.name] and service["image"] == variant.image
    assert service["entrypoint"] == variant.entrypoint
    model = container_model(variant)
    assert service["command"] == server_args(variant, model, "0.0.0.0", variant.port)
    assert service["ports"] == [f"${{SPEEDBENCH_PORT:-{variant.port}}}:{variant.port}"]
    probe = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{variant.port}{variant.health_path}" in probe
    assert service["healthcheck"]["start_period"] == f"{int(variant.startup_timeout_s)}s"
    assert service["labels"]["speedbench.metrics_path"] == variant.metrics_path
    env = service["environment"]
    assert env["HF_TOKEN"] == "${HF_TOKEN:-}"  # from the caller's environment, never a value
    assert {k: env[k] for k in variant.env} == variant.env
    assert "hf-cache:/hf-cache" in service["volumes"] and env["HF_HOME"] == "/hf-cache"
    if variant.gpus:
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device == {"driver": "nvidia", "count": variant.gpus, "capabilities": ["gpu"]}
        assert service["ipc"] == "host"
    else:
        assert "deploy" not in service and service["shm_size"]
        assert service["build"]["target"] == variant.build_target
    if variant.engine_config is not None:
        (config,) = service["configs"]
        assert config["target"] == ENGINE_CONFIG_PATH
        content = COMPOSE["configs"][config["source"]]["content"]
        assert yaml.safe_load(content) == variant.engine_config


@pytest.mark.parametrize("variant", [v for v in VARIANTS if not v.gpus], ids=lambda v: v.name)
def test_cpu_services_run_the_command_line_localserver_runs(
    variant: ServerVariant, tmp_path: Path
) -> None:
    """The same function builds both; they differ only in the listen address."""
    local = LocalServer(variant, "MODEL", tmp_path / "s.log", port=variant.port).command
    entry = local_entrypoint(variant)
    assert local[: len(entry)] == entry and entry[1:] == variant.entrypoint[1:]
    service = COMPOSE["services"][variant.name]
    model = container_model(variant)
    container = [
        a.replace(model, "MODEL").replace("0.0.0.0", "127.0.0.1") for a in service["command"]
    ]
    assert container == local[len(entry) :]


def test_prometheus_scrapes_every_variant_and_the_load() -> None:
    config = yaml.safe_load(PROMETHEUS_FILE.read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    for v in VARIANTS:
        assert jobs[v.name]["metrics_path"] == v.metrics_path
        assert jobs[v.name]["static_configs"][0]["targets"] == [f"{v.name}:{v.port}"]
    assert "loadgen" in jobs
    prometheus = COMPOSE["services"]["prometheus"]
    assert "./docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]


def test_load_is_a_locust_master_and_scalable_workers() -> None:
    services = load_services()
    assert COMPOSE["services"]["loadgen"] == services["loadgen"]
    master, worker = services["loadgen"], services["loadgen-worker"]
    plan = LoadPlan(
        "${SPEEDBENCH_WORKERS:-2}",
        "${SPEEDBENCH_USERS:-4}",
        "${SPEEDBENCH_SPAWN_RATE:-4}",
        "${SPEEDBENCH_RUN_TIME:-60m}",
        "${SPEEDBENCH_HOST:-http://vllm-cpu-ngram:8000}",
        "/results",
    )
    assert master["command"] == master_command(plan)
    assert worker["command"] == worker_command(plan, "loadgen")
    assert "container_name" not in worker  # `--scale loadgen-worker=N` needs unnamed containers
    for service in (master, worker):
        assert service["profiles"] == ["load"] and service["read_only"] is True
        assert service["security_opt"] == ["no-new-privileges:true"]
        assert service["environment"]["SPEEDBENCH_OUT"] == "/results"
        assert service["build"]["target"] == "loadgen"


def test_no_service_is_privileged_and_no_secret_is_written() -> None:
    text = COMPOSE_FILE.read_text()
    assert "privileged" not in text and "cap_add" not in text
    assert not re.search(r"hf_[A-Za-z0-9]{20,}", text)


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    lines = (REPO / "docker" / "Dockerfile").read_text().splitlines()
    (base_arg,) = [line for line in lines if line.startswith("ARG BASE=")]
    assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", base_arg.split("=", 1)[1]), base_arg  # pinned
    froms = [line.split() for line in lines if line.startswith("FROM ")]
    stages = [words[-1] for words in froms]
    assert len(froms) >= 3 and {"loadgen", "vllm-cpu"} <= set(stages)
    assert "ARG ENGINE_BASE=${BASE}" in lines
    for index, words in enumerate(froms):  # every stage starts from a base or an earlier stage
        assert words[1] in ("${BASE}", "${ENGINE_BASE}") or words[1] in stages[:index], words
    users = [line for line in lines if line.startswith("USER ")]
    assert len(users) == 2 and all(u.split()[1] != "0" and u.split()[1] != "root" for u in users)
    assert not [line for line in lines if re.search(r"TOKEN|SECRET|PASSWORD", line.split("#")[0])]


def test_dockerfile_builds_offline_from_a_wheelhouse() -> None:
    """With wheels in docker/wheelhouse pip installs from them alone; the context sends them."""
    text = (REPO / "docker" / "Dockerfile").read_text()
    assert "COPY docker/wheelhouse /wheels" in text
    assert "--no-index --find-links /wheels" in text
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignore and "!docker/wheelhouse" in ignore and "!loadgen" in ignore
    assert (REPO / "docker" / "wheelhouse").is_dir()  # COPY needs it even when empty
    # the load generator's dependencies carry no torch: the embedder is the extra `diverse`
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [
        d for d in project["dependencies"] if d.startswith(("sentence-transformers", "torch"))
    ]
    assert any(
        d.startswith("sentence-transformers") for d in project["optional-dependencies"]["diverse"]
    )


LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize("name", sorted(pinned.ENGINE_COMMANDS))
def test_engine_services_run_the_pinned_command_line(name: str) -> None:
    entrypoint, args = pinned.ENGINE_COMMANDS[name]
    service = COMPOSE["services"][name]
    default = "/models/speedbench-demo" if name.startswith("vllm-cpu") else LLAMA
    model = f"${{SPEEDBENCH_MODEL:-{default}}}"
    assert service["entrypoint"] == entrypoint
    assert service["command"] == pinned.with_model(args, model)


def test_load_services_run_the_pinned_locust_command_lines() -> None:
    workers = "${SPEEDBENCH_WORKERS:-2}"
    assert COMPOSE["services"]["loadgen"]["command"] == pinned.master(
        workers, "${SPEEDBENCH_USERS:-4}", "${SPEEDBENCH_SPAWN_RATE:-4}",
        "${SPEEDBENCH_RUN_TIME:-60m}", "${SPEEDBENCH_HOST:-http://vllm-cpu-ngram:8000}",
    )  # fmt: skip
    assert COMPOSE["services"]["loadgen-worker"]["command"] == pinned.worker("loadgen", workers)
