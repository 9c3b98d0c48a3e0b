"""The `docker` tier's machinery: a Docker daemon (started here when none runs), the offline image
builds (wheelhouse and base cached per machine, keyed by what they are made from), and Compose v2
driving the project's own compose.yaml.

Nothing here fetches from an image registry: the base is made with debootstrap from Debian's
packages and imported, the wheels are made on the host with pip, and the builds install from them
with ``--no-index``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.deploy.tools import REPO

BASE_IMAGE = "speedbench-base:bookworm"
ENGINE_BASE_IMAGE = "speedbench-base-engine:bookworm"
LOADGEN_IMAGE = "speedbench/loadgen:0.1.0"
ENGINE_IMAGE = "speedbench/vllm-cpu:0.1.0"
PROMETHEUS_IMAGE = "speedbench/prometheus:local"
PROJECT = "speedbench-test"
WHEELHOUSE = REPO / "docker" / "wheelhouse"
# What the cached wheelhouse and bases are made from: any change makes new ones.
WHEELHOUSE_INPUTS = ("pyproject.toml", "docker/Dockerfile", "docker/wheelhouse.sh")
BASE_INPUTS = ("docker/Dockerfile", "docker/base.sh")
CACHE_ROOT = Path(
    os.environ.get("SPEEDBENCH_DOCKER_CACHE", Path.home() / ".cache/speedbench-docker")
)


class Unavailable(Exception):
    """Docker cannot run here; the message says what failed."""


def run(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 1200,
    check: bool = True,
    cwd: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip
    if check and proc.returncode != 0:
        output = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}\n{output}")
    return proc


def daemon_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return run(["docker", "info"], timeout=30, check=False).returncode == 0


@contextmanager
def docker_daemon(log: Path) -> Iterator[None]:
    """The running daemon, or one started here (and stopped at the end) when none answers."""
    if shutil.which("docker") is None:
        raise Unavailable("no docker client on PATH (bash .ci/setup installs docker.io)")
    if daemon_answers():
        yield
        return
    if shutil.which("dockerd") is None:
        raise Unavailable("no dockerd on PATH (bash .ci/setup installs docker.io)")
    with log.open("w") as out:
        proc = subprocess.Popen(["dockerd"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not daemon_answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise Unavailable(f"dockerd did not come up: {log.read_text()[-2000:]}")
            time.sleep(1)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def compose_available() -> None:
    proc = run(["docker", "compose", "version"], timeout=30, check=False)
    if proc.returncode != 0:
        raise Unavailable(
            "Compose v2 missing (`docker compose version` failed; .ci/setup installs it): "
            + proc.stderr.strip()[-500:]
        )


def cache_key(inputs: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for name in inputs:
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class BuildReport:
    """What the builds took (seconds) and the images' sizes (bytes), for the README's figures."""

    cache_dir: str
    seconds: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    cached: dict[str, bool] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"cache_dir": self.cache_dir, "seconds": self.seconds, "sizes": self.sizes,
                "cached": self.cached}  # fmt: skip


def _timed(report: BuildReport, name: str, args: Sequence[str], **kwargs: Any) -> None:
    started = time.monotonic()
    run(args, **kwargs)
    report.seconds[name] = round(time.monotonic() - started, 1)


def image_id(image: str) -> str:
    proc = run(["docker", "image", "inspect", "-f", "{{.Id}}", image], check=False)
    return proc.stdout.strip()


def image_size(image: str) -> int:
    return int(run(["docker", "image", "inspect", "-f", "{{.Size}}", image]).stdout.strip())


def build_images(work: Path) -> BuildReport:
    """Bases (debootstrap, cached tarballs), wheelhouse (cached), then the three images, offline."""
    started = time.time()
    wheels = CACHE_ROOT / f"wheelhouse-{cache_key(WHEELHOUSE_INPUTS)}"
    bases = CACHE_ROOT / f"base-{cache_key(BASE_INPUTS)}"
    bases.mkdir(parents=True, exist_ok=True)
    report = BuildReport(str(CACHE_ROOT))
    report.cached["wheelhouse"] = (wheels / "complete").is_file()
    if not report.cached["wheelhouse"]:
        shutil.rmtree(wheels, ignore_errors=True)
        _timed(report, "wheelhouse", ["bash", "docker/wheelhouse.sh", str(wheels)])
        (wheels / "complete").write_text("")
    for name, image, flags in (
        ("base", BASE_IMAGE, []),
        ("engine_base", ENGINE_BASE_IMAGE, ["--engine"]),
    ):
        tar, imported = bases / f"{name}-rootfs.tar", bases / f"{name}.image-id"
        report.cached[name] = tar.is_file()
        # an image imported again gets a new id, which would void Docker's layer cache
        if tar.is_file() and imported.is_file() and imported.read_text() == image_id(image):
            continue
        _timed(report, name, ["bash", "docker/base.sh", *flags, image, str(tar)])
        imported.write_text(image_id(image))
    # the build context takes the wheels from docker/wheelhouse (hard links: no copy)
    for old in WHEELHOUSE.glob("*.whl"):
        old.unlink()
    for wheel in wheels.glob("*.whl"):
        try:
            os.link(wheel, WHEELHOUSE / wheel.name)
        except OSError:  # another file system
            shutil.copy(wheel, WHEELHOUSE / wheel.name)
    try:
        env = {"DOCKER_BUILDKIT": "0"}  # the daemon's own builder: no buildx plugin needed
        bases_args = [
            "--build-arg",
            f"BASE={BASE_IMAGE}",
            "--build-arg",
            f"ENGINE_BASE={ENGINE_BASE_IMAGE}",
        ]
        for target, image in (("loadgen", LOADGEN_IMAGE), ("vllm-cpu", ENGINE_IMAGE)):
            _timed(report, target, [
                "docker", "build", "-q", "-f", "docker/Dockerfile", *bases_args,
                "--target", target, "-t", image, ".",
            ], env=env, timeout=3000)  # fmt: skip
    finally:
        for wheel in WHEELHOUSE.glob("*.whl"):
            wheel.unlink()
    context = work / "prometheus-context"
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "docker" / "prometheus" / "Dockerfile", context / "Dockerfile")
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise Unavailable("no prometheus binary on PATH (.ci/setup installs Debian's)")
    shutil.copy(prometheus, context / "prometheus")
    _timed(report, "prometheus", [
        "docker", "build", "-q", "--build-arg", f"BASE={BASE_IMAGE}", "-t", PROMETHEUS_IMAGE,
        str(context),
    ], env={"DOCKER_BUILDKIT": "0"})  # fmt: skip
    for image in (BASE_IMAGE, ENGINE_BASE_IMAGE, LOADGEN_IMAGE, ENGINE_IMAGE, PROMETHEUS_IMAGE):
        report.sizes[image] = image_size(image)
    prune_older_builds(started)
    return report


def prune_older_builds(started: float) -> None:
    """Untagged images left by earlier builds (replaced images, their build stages: ~5 GB a
    rebuild of the engine) are removed; this build's stages stay, the next build's cache."""
    run(["docker", "image", "prune", "-f", "--filter", f"until={int(started)}"], timeout=600)


@dataclass
class Compose:
    """``docker compose`` on the repository's compose.yaml, as its own project."""

    env: dict[str, str]
    profiles: tuple[str, ...] = ("vllm-cpu-base", "vllm-cpu-ngram", "load")

    def __call__(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        command = ["docker", "compose", "-p", PROJECT, "-f", str(REPO / "compose.yaml")]
        for profile in self.profiles:
            command += ["--profile", profile]
        return run([*command, *args], env=self.env, timeout=timeout, check=check).stdout

    def container(self, service: str) -> str:
        ids = self("ps", "-aq", service).split()
        if not ids:
            raise RuntimeError(f"no container for {service}")
        return ids[0]

    def wait_healthy(self, service: str, timeout_s: float = 900) -> float:
        """Seconds from now until the service's healthcheck passes."""
        started = time.monotonic()
        cid = self.container(service)
        while True:
            state = json.loads(run(["docker", "inspect", "-f", "{{json .State}}", cid]).stdout)
            if state.get("Health", {}).get("Status") == "healthy":
                return time.monotonic() - started
            if state["Status"] in ("exited", "dead") or time.monotonic() - started > timeout_s:
                logs = run(["docker", "logs", "--tail", "60", cid], check=False)
                raise RuntimeError(
                    f"{service} not healthy ({state['Status']}): {logs.stdout}{logs.stderr}"
                )
            time.sleep(2)

    def down(self) -> None:
        self("down", "-v", "--remove-orphans", "--timeout", "20", check=False)
        left = run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"]
        ).stdout.split()
        if left:
            run(["docker", "rm", "-f", "-v", *left], check=False)


def wait_exit(cid: str, timeout_s: float) -> int:
    proc = run(["docker", "wait", cid], timeout=timeout_s)
    return int(proc.stdout.strip())
