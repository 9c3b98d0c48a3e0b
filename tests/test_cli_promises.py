"""Promised command-line behaviours, through the real command lines against FAKE servers:
`speedbench run --baseline` pairs two cells in the report; an open-loop run with gamma arrivals
follows its seeded schedule; Locust's `--processes N` splits the prompts and `--seed` fixes each
process's schedule; https metric scrapes are verified (system store or REQUESTS_CA_BUNDLE)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

from loadgen.cell import LOCUSTFILE
from loadgen.client.sink import (
    RECORDS_JSONL,
    RECORDS_PARQUET,
    read_jsonl,
    read_parquet,
    worker_records_path,
)
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.test_cli import speedbench
from tests.test_preflight import write_set
from tests.tls import make_pki

FAST = Behaviour(ttft_s=0.01, step_s=0.005)  # 1 + 3 + 3 tokens at --osl 7
# `speedbench run --rate 20 --arrivals gamma --burstiness 0.5 --seed 7`: the schedule's gaps (ns),
# pinned (a change of generator would silently change every open-loop cell already measured)
GAMMA_SEED7_GAPS_NS = [6870338, 57898771, 19813550, 24055182, 39642263, 9729289, 48300863]


def test_run_baseline_pairs_two_cells_in_the_report(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [5] * 8)
    results = tmp_path / "results"
    common = ["--data", str(data), "--requests", "4", "--warmup", "0", "--osl", "7",
              "--concurrency", "2"]  # fmt: skip
    with FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.005, tokens_per_chunk=1)) as base:
        one = speedbench("run", "--url", base.url, *common, "--server-name", "base",
                         "--out", str(results / "base"))  # fmt: skip
    with FakeStreamingServer(FAST) as sd:
        two = speedbench("run", "--url", sd.url, *common, "--server-name", "sd",
                         "--baseline", "base", "--out", str(results / "sd"))  # fmt: skip
    assert one.returncode == 0 and two.returncode == 0, one.stderr[-2000:] + two.stderr[-2000:]
    run = json.loads((results / "sd" / "manifest.json").read_text())["run"]
    assert (run["server"], run["baseline"]) == ("sd", "base")
    report = speedbench("report", str(results))
    assert report.returncode == 0, report.stderr[-2000:]
    with (results / "speedup.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["baseline"], row["variant"], row["concurrency"]) == ("base", "sd", "2")
    # the FAKE SD server's counters: each of 2 decode steps drafts 3 and accepts 2
    assert float(row["acceptance_length"]) == 3.0
    assert float(row["client_tokens_per_chunk"]) == 3.0
    assert (row["baseline_requests"], row["variant_requests"]) == ("4", "4")


def test_run_with_gamma_arrivals_follows_the_seeded_schedule(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [5] * 8)
    with FakeStreamingServer(FAST) as fake:
        proc = speedbench("run", "--url", fake.url, "--data", str(data), "--requests", "8",
                          "--warmup", "0", "--osl", "7", "--no-metrics", "--rate", "20",
                          "--arrivals", "gamma", "--burstiness", "0.5", "--seed", "7",
                          "--concurrency", "8", "--out", str(tmp_path / "out"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["requests_ok"] == 8
    load = summary["load"]
    assert (load["mode"], load["rate_rps"], load["arrivals"], load["burstiness"]) == (
        "open",
        20.0,
        "gamma",
        0.5,
    )
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["run"]["seed"] == 7
    sends = sorted(r.intended_send_ns for r in read_parquet(tmp_path / "out" / RECORDS_PARQUET))
    assert [b - a for a, b in pairwise(sends)] == GAMMA_SEED7_GAPS_NS


def locust_processes(url: str, data: Path, out: Path, seed: int) -> list[list[int]]:
    """Locust with ``--processes 2`` (open loop, Poisson 40/s): each worker process's gaps."""
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "--processes", "2", "-u", "4", "-r", "4", "-t", "60s", "--host", url, "--data", str(data),
        "--bucket", "1k", "--osl", "7", "--requests", "10", "--warmup", "0", "--out", str(out),
        "--rate", "40", "--arrivals", "poisson", "--seed", str(seed), "--no-metrics",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEEDBENCH_")}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(read_jsonl(out / RECORDS_JSONL)) == 10
    gaps = []
    for i in range(2):
        sends = sorted(r.intended_send_ns for r in read_jsonl(worker_records_path(out, i)))
        gaps.append([b - a for a, b in pairwise(sends)])
    return gaps


def test_locust_processes_split_the_prompts_and_seed_fixes_each_schedule(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [5 + i for i in range(10)])
    with FakeStreamingServer(FAST) as fake:
        first = locust_processes(fake.url, data, tmp_path / "a", seed=3)
        again = locust_processes(fake.url, data, tmp_path / "b", seed=3)
        other = locust_processes(fake.url, data, tmp_path / "c", seed=4)
        lengths = sorted(len(body["prompt"]) for body in fake.counters.requests)
    # every prompt (lengths 5..14) exactly once per run, split over the two processes
    assert lengths == sorted(list(range(5, 15)) * 3)
    assert all(len(g) == 4 for g in first)  # five requests each
    assert first == again and first[0] != first[1]  # same seed, same schedule; processes differ
    assert other != first


def test_https_metric_scrapes_are_verified_against_requests_ca_bundle(tmp_path: Path) -> None:
    """The load trusts --ca-bundle; the engine's /metrics is scraped by `requests` with its own
    trust (the system store, or REQUESTS_CA_BUNDLE): without it the opening scrape is refused
    before any load, naming the failure; with it the counters are read, exactly."""
    pki = make_pki(tmp_path / "pki")
    data = write_set(tmp_path / "d", [5, 6, 7])
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")}  # fmt: skip

    def run(url: str, out: Path, **extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "loadgen.cli", "run", "--url", url, "--data", str(data),
                   "--requests", "3", "--warmup", "0", "--osl", "7", "--concurrency", "1",
                   "--ca-bundle", str(pki.ca_pem), "--out", str(out)]  # fmt: skip
        return subprocess.run(
            command, capture_output=True, text=True, timeout=300, env={**env, **extra}
        )

    with FakeStreamingServer(FAST, tls=pki.server_context()) as fake:
        untrusted = run(fake.url, tmp_path / "a")
        sent_untrusted = len(fake.counters.requests)
        trusted = run(fake.url, tmp_path / "b", REQUESTS_CA_BUNDLE=str(pki.ca_pem))
    assert untrusted.returncode == 2 and sent_untrusted == 0
    assert "cannot scrape engine metrics" in untrusted.stderr
    assert "certificate verify failed" in untrusted.stderr
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    read = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert read["requests_ok"] == 3 and read["server_counters"]["generation_tokens"] == 3 * 7
    assert read["acceptance"]["acceptance_length"] == 3.0 and read["flags"] == []
