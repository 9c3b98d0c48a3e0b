"""The Helm chart, rendered by real Helm (helm-python-sdk) for every values file, linted strictly,
validated against the Kubernetes 1.30 schemas, scanned by checkov (with the Dockerfile), and checked
field by field against servers/*.yaml."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from loadgen.servers.command import ENGINE_CONFIG_PATH, server_args
from loadgen.servers.helm_values import MODEL_REF, render
from loadgen.servers.variant import ServerVariant, all_variants
from loadgen.swarm.cluster import METRICS_PORT, LoadPlan, master_command, worker_command
from tests.deploy import pinned
from tests.deploy.tools import (
    CHART,
    REPO,
    VALUES_DIR,
    checkov_scan,
    kubernetes_validate,
    manifests,
    render_chart,
)

VARIANTS = all_variants()


def values_for(variant: ServerVariant, **benchmark: Any) -> dict[str, Any]:
    values = yaml.safe_load((VALUES_DIR / f"{variant.name}.yaml").read_text())
    values["benchmark"].update(benchmark)
    return values


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name}: {len(hits)} found"
    return hits[0]


@pytest.fixture(scope="module")
def rendered_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every values file rendered with the Prometheus Operator monitors on, plus the Dockerfile."""
    out = tmp_path_factory.mktemp("rendered")
    for variant in VARIANTS:
        values = values_for(variant)
        values["monitoring"] = {"serviceMonitor": True, "podMonitor": True}
        (out / f"{variant.name}.yaml").write_text(render_chart(values))
    shutil.copy(REPO / "docker" / "Dockerfile", out / "Dockerfile")
    yield out


def test_one_values_file_per_variant_generated_from_servers() -> None:
    assert sorted(p.stem for p in VALUES_DIR.glob("*.yaml")) == sorted(v.name for v in VARIANTS)
    for variant in VARIANTS:
        committed = (VALUES_DIR / f"{variant.name}.yaml").read_text()
        assert committed == render(variant), (
            f"k8s/values/{variant.name}.yaml is stale: run `python -m loadgen.servers.generate`"
        )


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_chart_lints_strictly(variant: ServerVariant) -> None:
    report = helm_python.lint(CHART, values_for(variant), strict=True, kube_version="v1.30.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_rendered_manifests_validate_against_kubernetes(rendered_dir: Path) -> None:
    proc = kubernetes_validate(sorted(rendered_dir.glob("*.yaml")))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "passed for resource deployment/sb-vllm-eagle" in proc.stdout + proc.stderr


def test_the_schema_check_is_strict(tmp_path: Path) -> None:
    """Control: a misspelt field fails, so a pass above means something."""
    bad = render_chart(values_for(VARIANTS[0])).replace("startupProbe:", "startupProbes:", 1)
    (tmp_path / "bad.yaml").write_text(bad)
    assert kubernetes_validate([tmp_path / "bad.yaml"]).returncode != 0


def test_checkov_passes_on_rendered_chart_and_dockerfile(rendered_dir: Path) -> None:
    scan = checkov_scan(rendered_dir, "kubernetes", "dockerfile")
    assert scan["failed"] == []
    assert scan["passed"]["kubernetes"] > 1000 and scan["passed"]["dockerfile"] > 50
    # Only the exceptions justified in the chart's annotations (engine images' root filesystem and
    # HF_TOKEN as env, tag-pinned images) and the Dockerfile's (a base given as a build argument,
    # whose default is pinned by tag: checkov cannot see through the variable).
    assert scan["skipped"] == {"CKV_K8S_22", "CKV_K8S_35", "CKV_K8S_43", "CKV_DOCKER_7"}


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_engine_deployment_is_the_variant(variant: ServerVariant) -> None:
    docs = manifests(render_chart(values_for(variant)))
    deployment = find(docs, "Deployment", f"sb-{variant.name}")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    model = env["SPEEDBENCH_MODEL"]["value"]
    assert model == variant.model and container["image"] == variant.image
    assert container["command"] == variant.entrypoint
    args = [model if a == MODEL_REF else a for a in container["args"]]
    assert args == server_args(variant, variant.model, "0.0.0.0", variant.port)
    gpu = container["resources"]["limits"].get("nvidia.com/gpu", 0)
    assert gpu == container["resources"]["requests"].get("nvidia.com/gpu", 0) == variant.gpus
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == variant.health_path
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == variant.startup_timeout_s
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "hf-token"
    assert "value" not in env["HF_TOKEN"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]["cpu"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["hf-cache"] == "/hf-cache"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["hf-cache"]["persistentVolumeClaim"]["claimName"] == f"sb-{variant.name}-cache"
    service = find(docs, "Service", f"sb-{variant.name}")
    assert service["spec"]["ports"][0]["port"] == variant.port
    if variant.engine_config is None:
        assert "engine-config" not in mounts
    else:
        config = find(docs, "ConfigMap", f"sb-{variant.name}-config")
        key = Path(ENGINE_CONFIG_PATH).name
        assert yaml.safe_load(config["data"][key]) == variant.engine_config
        assert mounts["engine-config"] == str(Path(ENGINE_CONFIG_PATH).parent)


def test_benchmark_is_a_distributed_locust_master_job_and_worker_pods() -> None:
    variant = next(v for v in VARIANTS if v.name == "vllm-eagle")
    values = values_for(variant, workers=5, users=40, spawnRate=10, runTime="15m")
    values["benchmark"]["plan"] = {"bucket": "8k", "osl": 128, "requests": 500}
    docs = manifests(render_chart(values))
    plan = LoadPlan("5", "40", "10", "15m", "http://sb-vllm-eagle:8000", "/results")
    master = find(docs, "Job", "sb-locust-master")["spec"]
    (master_container,) = master["template"]["spec"]["containers"]
    assert master_container["command"] == master_command(plan)
    assert master_container["command"] == pinned.master(
        "5", "40", "10", "15m", "http://sb-vllm-eagle:8000"
    )
    worker_job = find(docs, "Job", "sb-locust-worker")["spec"]
    assert worker_job["parallelism"] == worker_job["completions"] == 5
    (worker_container,) = worker_job["template"]["spec"]["containers"]
    assert worker_container["command"] == worker_command(plan, "sb-locust-master")
    assert worker_container["command"] == pinned.worker("sb-locust-master", "5")
    assert find(docs, "Service", "sb-locust-master")["spec"]["ports"][0]["port"] == 5557
    plan_map = find(docs, "ConfigMap", "sb-plan")["data"]
    assert plan_map["SPEEDBENCH_BUCKET"] == "8k" and plan_map["SPEEDBENCH_OSL"] == "128"
    assert plan_map["SPEEDBENCH_REQUESTS"] == "500"
    for container in (master_container, worker_container):
        assert container["envFrom"] == [{"configMapRef": {"name": "sb-plan"}}]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    results = {m["name"]: m["mountPath"] for m in master_container["volumeMounts"]}["results"]
    out = {e["name"]: e["value"] for e in master_container["env"]}["SPEEDBENCH_OUT"]
    assert results == out == "/results"
    claim = find(docs, "PersistentVolumeClaim", "sb-results")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_network_policies_select_the_pods_they_guard() -> None:
    variant = next(v for v in VARIANTS if v.name == "sglang-eagle")
    docs = manifests(render_chart(values_for(variant)))
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    pods = [
        d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] in ("Job", "Deployment")
    ]
    for labels in pods:
        assert any(
            p["spec"]["podSelector"]["matchLabels"].items() <= labels.items() for p in policies
        ), labels
    engine = find(docs, "NetworkPolicy", "sb-sglang-eagle")["spec"]["ingress"][0]["from"][0]
    assert engine["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "locust-worker"


def test_monitors_scrape_each_engine_on_its_metrics_path() -> None:
    variant = next(v for v in VARIANTS if v.name == "trtllm-eagle")
    values = values_for(variant)
    values["monitoring"] = {"serviceMonitor": True, "podMonitor": True}
    docs = manifests(render_chart(values))
    monitor = find(docs, "ServiceMonitor", "sb-trtllm-eagle")
    assert monitor["spec"]["endpoints"][0]["path"] == variant.metrics_path == "/prometheus/metrics"
    assert find(docs, "PodMonitor", "sb-trtllm-eagle")["spec"]["podMetricsEndpoints"][0][
        "path"
    ] == (variant.metrics_path)
    load = find(docs, "ServiceMonitor", "sb-locust-master")["spec"]["endpoints"][0]["port"]
    master_ports = find(docs, "Service", "sb-locust-master")["spec"]["ports"]
    assert {"name": "metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT} in master_ports
    assert load == "metrics"
    assert not [d for d in manifests(render_chart(values_for(variant))) if "Monitor" in d["kind"]]


def test_a_target_that_is_not_deployed_is_refused_by_name() -> None:
    variant = VARIANTS[0]
    with pytest.raises(helm_python.HelmRenderError, match=r'benchmark\.target "nope" is not one'):
        render_chart(values_for(variant, target="nope"))


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_every_pod_runs_as_non_root_without_privileges(variant: ServerVariant) -> None:
    """Engines and both Locust Jobs: a non-root uid, no escalation, no capabilities."""
    docs = manifests(render_chart(values_for(variant)))
    pods = [d for d in docs if d["kind"] in ("Job", "Deployment", "StatefulSet", "DaemonSet")]
    assert {d["kind"] for d in pods} == {"Job", "Deployment"}
    for doc in pods:
        spec = doc["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        assert spec["securityContext"]["runAsUser"] != 0
        for container in spec["containers"] + spec.get("initContainers", []):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False and not security["privileged"]
            assert security["capabilities"]["drop"] == ["ALL"]
            assert security.get("runAsUser", 1) != 0


@pytest.mark.parametrize("name", sorted(pinned.ENGINE_COMMANDS))
def test_engine_deployments_run_the_pinned_command_line(name: str) -> None:
    variant = next(v for v in VARIANTS if v.name == name)
    docs = manifests(render_chart(values_for(variant)))
    (container,) = find(docs, "Deployment", f"sb-{name}")["spec"]["template"]["spec"]["containers"]
    entrypoint, args = pinned.ENGINE_COMMANDS[name]
    assert container["command"] == entrypoint
    # the model comes from the pod's environment (SPEEDBENCH_MODEL), expanded by Kubernetes
    assert container["args"] == pinned.with_model(args, "$(SPEEDBENCH_MODEL)")
