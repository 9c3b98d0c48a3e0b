"""compose.yaml for real (marker ``docker``): a Docker engine runs the CPU variants built offline,
the distributed Locust load against each, Prometheus scraping both, and a sweep whose speedup comes
from the containers.

Order: build (base with debootstrap, wheels on the host, images with ``--no-index``), then per
variant: ``up`` the engine (the demo's tiny model mounted), wait for its healthcheck, run the
``load`` profile (a master and 2 workers), check ``./results``, ``down -v``. Then both engines at
once on their own ports and one cell of each through ``speedbench sweep`` with ``url:`` servers.
Figures (build times, sizes, start-up, cells) are written to ``docker-run.json`` in the tier's
temporary directory and printed.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from loadgen.client.sink import RECORDS_JSONL, read_jsonl
from loadgen.demo import DemoPlan, prepare_demo_data
from loadgen.model_factory import build_tiny_model
from tests.deploy.tools import REPO
from tests.docker import stack

pytestmark = pytest.mark.docker

RESULTS = REPO / "results"  # where compose.yaml mounts the load's /results
USER_ID = 10001  # the images' non-root user
REQUESTS, USERS, WORKERS, OSL, BUCKET = 16, 4, 2, 128, "1k"
SERVED_MODEL = "/models/speedbench-demo"  # where compose mounts the demo's model
FIGURES: dict[str, Any] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("docker-tier")
    yield path
    (path / "docker-run.json").write_text(json.dumps(FIGURES, indent=2))
    print("\ndocker tier figures:", json.dumps(FIGURES, indent=2))


@pytest.fixture(scope="module")
def daemon(work: Path) -> Iterator[None]:
    try:
        with stack.docker_daemon(work / "dockerd.log"):
            stack.compose_available()
            stack.Compose({}).down()  # what an interrupted run left
            yield
    except stack.Unavailable as exc:
        pytest.skip(f"Docker cannot run here: {exc}")


@pytest.fixture(scope="module")
def images(daemon: None, work: Path) -> stack.BuildReport:
    started = time.monotonic()
    report = stack.build_images(work)
    FIGURES["build"] = report.to_dict() | {"total_s": round(time.monotonic() - started, 1)}
    return report


@pytest.fixture(scope="module")
def demo(work: Path) -> dict[str, Path]:
    """The demo's tiny model and prepared prompts (the project's own model factory)."""
    model = build_tiny_model(work / "demo" / "model")
    plan = DemoPlan(buckets=(BUCKET,))
    prepared = prepare_demo_data(work / "demo", str(model), plan, prompts_per_bucket=60)
    for path in [model, *model.rglob("*"), prepared.parent, *prepared.parent.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the containers' user
    return {"model": model, "data": prepared.parent, "prepared": prepared}


@pytest.fixture
def results_dir() -> Iterator[Path]:
    if RESULTS.exists() and any(RESULTS.iterdir()):
        pytest.skip(f"{RESULTS} holds files of yours: move it away to run the docker tier")
    RESULTS.mkdir(exist_ok=True)
    os.chown(RESULTS, USER_ID, USER_ID)  # compose.yaml: ./results must be writable by uid 10001
    yield RESULTS
    shutil.rmtree(RESULTS, ignore_errors=True)


def compose_env(demo: dict[str, Path], **extra: str) -> dict[str, str]:
    return {
        "SPEEDBENCH_DEMO_MODEL": str(demo["model"]),
        "SPEEDBENCH_DATA_DIR": str(demo["data"]),
        "SPEEDBENCH_PROMETHEUS_IMAGE": stack.PROMETHEUS_IMAGE,
        "SPEEDBENCH_WORKERS": str(WORKERS),
        "SPEEDBENCH_USERS": str(USERS),
        "SPEEDBENCH_SPAWN_RATE": str(USERS),
        "SPEEDBENCH_REQUESTS": str(REQUESTS),
        "SPEEDBENCH_OSL": str(OSL),
        "SPEEDBENCH_BUCKET": BUCKET,
        "SPEEDBENCH_RUN_TIME": "15m",
        # the name the engine serves and the load sends (left empty, the load sends model '',
        # which the preflight refuses)
        "SPEEDBENCH_MODEL": SERVED_MODEL,
        **extra,
    }


def counter(text: str, name: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def test_images_build_offline_without_torch_in_the_load_generator(
    images: stack.BuildReport,
) -> None:
    assert set(images.sizes) >= {stack.LOADGEN_IMAGE, stack.ENGINE_IMAGE}
    probe = (
        "import importlib.util as u; "
        "print(u.find_spec('torch') is None, u.find_spec('locust') is not None)"
    )
    no_torch = stack.run(["docker", "run", "--rm", stack.LOADGEN_IMAGE, "python", "-c", probe])
    assert no_torch.stdout.split() == ["True", "True"]
    engine = stack.run([
        "docker", "run", "--rm", "--entrypoint", "python", stack.ENGINE_IMAGE, "-c",
        "import os, vllm, torch; print(vllm.__version__, torch.__version__, os.getuid())",
    ], timeout=300).stdout.split()  # fmt: skip
    assert engine[0] == "0.32.0" and engine[1].endswith("+cpu") and engine[2] == str(USER_ID)


@pytest.mark.parametrize("variant", ["vllm-cpu-ngram", "vllm-cpu-base"])
def test_variant_serves_the_distributed_load(
    variant: str,
    images: stack.BuildReport,
    demo: dict[str, Path],
    results_dir: Path,
    work: Path,
) -> None:
    sd = variant.endswith("ngram")
    engine_port, prom_port = _free_port(), _free_port()
    compose = stack.Compose(compose_env(
        demo, SPEEDBENCH_HOST=f"http://{variant}:8000", SPEEDBENCH_PORT=str(engine_port),
        SPEEDBENCH_PROMETHEUS_PORT=str(prom_port),
    ))  # fmt: skip
    figures: dict[str, Any] = {}
    try:
        started = time.monotonic()
        compose("up", "-d", variant, *(["prometheus"] if sd else []))
        compose.wait_healthy(variant)
        figures["up_to_healthy_s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        compose("up", "-d", "--scale", f"loadgen-worker={WORKERS}", "loadgen", "loadgen-worker")
        master = compose.container("loadgen")
        code = stack.wait_exit(master, 900)
        figures["load_s"] = round(time.monotonic() - started, 1)
        log = stack.run(["docker", "logs", master], check=False)
        assert code == 0, log.stdout[-4000:] + log.stderr[-4000:]
        assert len(compose("ps", "-aq", "loadgen-worker").split()) == WORKERS
        if sd:
            figures["prometheus"] = _check_prometheus(prom_port, variant)
        _check_results(results_dir, sd, figures)
    finally:
        compose.down()
        shutil.copytree(results_dir, work / "load" / variant, dirs_exist_ok=True)
        FIGURES[f"compose_{variant}"] = figures
    project = f"label=com.docker.compose.project={stack.PROJECT}"
    volumes = stack.run(["docker", "volume", "ls", "-q", "--filter", project]).stdout
    assert not volumes.strip(), volumes  # down -v removed the project's volumes


def _check_results(results: Path, sd: bool, figures: dict[str, Any]) -> None:
    records = read_jsonl(results / RECORDS_JSONL)
    ids = [r.question_id for r in records]
    assert len(records) == REQUESTS and len(set(ids)) == REQUESTS, ids  # every request once
    assert all(r.ok for r in records), [r.error for r in records if not r.ok]
    assert all(r.usage_output_tokens == OSL for r in records)
    summary = json.loads((results / "summary.json").read_text())
    assert summary["requests_ok"] == REQUESTS and summary["requests_failed"] == 0
    before = (results / "metrics_before.txt").read_text()
    after = (results / "metrics_after.txt").read_text()
    drafts = counter(after, "vllm:spec_decode_num_drafts_total") - counter(
        before, "vllm:spec_decode_num_drafts_total"
    )
    accepted = counter(after, "vllm:spec_decode_num_accepted_tokens_total") - counter(
        before, "vllm:spec_decode_num_accepted_tokens_total"
    )
    acceptance = summary["acceptance"]
    assert acceptance["source"] != "not scraped"  # the master read the engine
    if sd:
        assert drafts > 0
        assert acceptance["drafts"] == drafts and acceptance["accepted_tokens"] == accepted
        assert math.isclose(acceptance["acceptance_length"], 1 + accepted / drafts, rel_tol=1e-9)
    else:
        assert drafts == 0 and acceptance["acceptance_length"] is None
    for path in [results, *results.rglob("*")]:
        if path != results:
            assert path.stat().st_uid == USER_ID, f"{path} owned by uid {path.stat().st_uid}"
    figures |= {
        "output_tokens_per_s": summary["output_tokens_per_s"],
        "ttft_ms_p50": summary["ttft_ms"]["p50"],
        "tpot_ms_p50": summary["tpot_ms"]["p50"],
        "acceptance_length": acceptance["acceptance_length"],
    }


def _check_prometheus(port: int, engine_job: str) -> dict[str, Any]:
    """Prometheus (Debian's binary in a local image) scraped the engine and the load's exporter."""

    def query(expr: str) -> list[dict[str, Any]]:
        reply = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expr},
                             timeout=10).json()  # fmt: skip
        assert reply["status"] == "success", reply
        return list(reply["data"]["result"])

    def seen(expr: str) -> bool:
        result = query(expr)
        return bool(result) and float(result[0]["value"][1]) > 0

    checks = {  # the engine's SD counters after the load, and the exporter's series
        "engine up": f'max_over_time(up{{job="{engine_job}"}}[30m])',
        "loadgen up": 'max_over_time(up{job="loadgen"}[30m])',
        "engine drafts": (
            f'max_over_time(vllm:spec_decode_num_drafts_total{{job="{engine_job}"}}[30m])'
        ),
        "loadgen series": 'count({job="loadgen"})',
    }
    deadline = time.monotonic() + 90  # scrapes every 5 s; the last one may still be due
    while missing := [name for name, expr in checks.items() if not seen(expr)]:
        assert time.monotonic() < deadline, f"Prometheus never saw: {missing}"
        time.sleep(5)
    locust = query(checks["loadgen series"])
    return {"engine_up": True, "loadgen_up": True, "loadgen_series": locust[0]["value"][1]}


def test_a_sweep_against_the_containers(
    images: stack.BuildReport, demo: dict[str, Path], work: Path
) -> None:
    """Both engines up on their own ports; one cell each; the speedup comes from containers."""
    ports = {"vllm-cpu-base": _free_port(), "vllm-cpu-ngram": _free_port()}
    composes = {
        v: stack.Compose(compose_env(demo, SPEEDBENCH_PORT=str(p))) for v, p in ports.items()
    }
    plan = {
        "name": "containers",
        "model": str(demo["model"]),
        "served_model_name": SERVED_MODEL,
        "data": str(demo["prepared"]),
        "servers": [
            {
                "url": f"http://127.0.0.1:{ports['vllm-cpu-base']}",
                "name": "vllm-cpu-base",
                "engine": "vllm",
            },
            {
                "url": f"http://127.0.0.1:{ports['vllm-cpu-ngram']}",
                "name": "vllm-cpu-ngram",
                "engine": "vllm",
                "baseline": "vllm-cpu-base",
                "speculative": "ngram",
            },
        ],
        "buckets": [BUCKET],
        "concurrencies": [USERS],
        "osl": OSL,
        "requests": REQUESTS,
        "warmup": 2,
    }
    plan_file = work / "sweep-plan.yaml"
    plan_file.write_text(yaml.safe_dump(plan, sort_keys=False))
    out = work / "sweep"
    figures: dict[str, Any] = {}
    try:
        for variant, compose in composes.items():
            started = time.monotonic()
            compose("up", "-d", variant)
            compose.wait_healthy(variant)
            figures[f"{variant}_up_to_healthy_s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        # this checkout's package (an installed `speedbench` script may point at another)
        sweep = [sys.executable, "-m", "loadgen.cli", "sweep", "--plan", str(plan_file)]
        stack.run([*sweep, "--out", str(out)],
                  timeout=1500)  # fmt: skip
        figures["sweep_s"] = round(time.monotonic() - started, 1)
    finally:
        composes["vllm-cpu-base"].down()
    with (out / "speedup.csv").open() as f:
        rows = list(csv.DictReader(f))
    (row,) = [r for r in rows if r["variant"] == "vllm-cpu-ngram"]
    assert row["baseline"] == "vllm-cpu-base" and row["concurrency"] == str(USERS)
    assert float(row["speedup_output_tps"]) > 0 and float(row["acceptance_length"]) > 1
    manifests = [json.loads(p.read_text()) for p in out.rglob("manifest.json")]
    urls = {m["run"]["url"] for m in manifests if "run" in m}
    assert urls == {f"http://127.0.0.1:{p}" for p in ports.values()}, urls
    assert (out / "report.md").is_file()
    figures["speedup"] = {k: row[k] for k in ("speedup_output_tps", "ci_low", "ci_high",
                                               "acceptance_length")}  # fmt: skip
    FIGURES["sweep"] = figures
