"""A REAL Prometheus (Debian package ``prometheus``) for tests: generated config, temp storage,
a free loopback port, 1 s scrape interval. Installed by .ci/setup."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.ports import free_port

SCRAPE_INTERVAL_S = 1


@contextmanager
def running_prometheus(
    targets: Sequence[str], metrics_path: str, workdir: Path, ready_timeout_s: float = 30
) -> Iterator[str]:
    """``targets`` are ``host:port``; yields the server's base URL once it is ready, and fails
    the test, with the log's tail, if it dies or is not ready within ``ready_timeout_s``."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus binary is missing: run .ci/setup (Debian package prometheus)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    quoted = ", ".join(f'"{t}"' for t in targets)
    config.write_text(
        "global:\n"
        f"  scrape_interval: {SCRAPE_INTERVAL_S}s\n"
        f"  scrape_timeout: {SCRAPE_INTERVAL_S}s\n"
        "scrape_configs:\n"
        "  - job_name: engine\n"
        f"    metrics_path: {metrics_path}\n"
        f"    static_configs: [{{targets: [{quoted}]}}]\n"
    )
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, workdir / "prometheus.log", ready_timeout_s)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited ({proc.returncode}) before ready: {_tail(log)}")
        try:
            if requests.get(url + "/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"prometheus not ready at {url}/-/ready after {timeout_s:g} s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] or "(empty log)"
