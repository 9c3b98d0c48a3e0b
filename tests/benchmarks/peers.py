"""Run each load generator once against the FAKE server and return per-request timings (ms).

Every runner returns ``Timings``: TTFT per request, the ITL figure the tool reports per token (or
per chunk, for tools that only know chunks), chunk gaps, and the CPU seconds the tool's processes
used. Peers run as subprocesses exactly as their users would run them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadgen.cell import LOCUSTFILE
from loadgen.client.sink import RECORDS_JSONL, read_jsonl

AIPERF = Path(os.environ.get("AIPERF_VENV", "/tmp/aiperf-venv")) / "bin" / "aiperf"
VLLM_BENCH = (
    "import sys; from vllm.benchmarks.serve import FlexibleArgumentParser, add_cli_args, main;"
    "p = FlexibleArgumentParser(); add_cli_args(p); main(p.parse_args(sys.argv[1:]))"
)


@dataclass
class Timings:
    tool: str
    ttft_ms: list[float] = field(default_factory=list)
    itl_ms: list[float] = field(default_factory=list)  # as the tool reports it
    chunks: int = 0  # from the server's own count
    wall_s: float = 0.0
    cpu_s: float = 0.0
    failed: int = 0
    note: str = ""


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(
    command: list[str], timeout_s: float
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    cpu0, t0 = children_cpu_s(), time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    return proc, time.perf_counter() - t0, children_cpu_s() - cpu0


def run_speedbench(
    url: str, data: Path, out: Path, concurrency: int, requests: int, osl: int, processes: int = 1
) -> Timings:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "-u", str(concurrency), "-r", str(concurrency), "-t", "600s", "--host", url,
        "--data", str(data), "--bucket", "1k", "--osl", str(osl), "--requests", str(requests),
        "--out", str(out), "--exit-code-on-error", "0",
    ]  # fmt: skip
    if processes > 1:
        command += ["--processes", str(processes)]
    proc, wall, cpu = timed_run(command, 900)
    records = read_jsonl(out / RECORDS_JSONL) if (out / RECORDS_JSONL).exists() else []
    t = Timings("speedbench", wall_s=wall, cpu_s=cpu)
    for r in records:
        if not r.ok or r.ttft_ms is None:
            t.failed += 1
            continue
        t.ttft_ms.append(r.ttft_ms)
        t.itl_ms += r.itl_ms
    t.failed += requests - len(records)
    if proc.returncode:
        t.note = proc.stderr[-300:]
    return t


def run_vllm_bench(
    url: str, tokenizer: Path, out: Path, concurrency: int, requests: int, osl: int, isl: int
) -> Timings:
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-c", VLLM_BENCH, "--backend", "openai", "--base-url", url,
        "--endpoint", "/v1/completions", "--model", "fake", "--tokenizer", str(tokenizer),
        "--dataset-name", "random", "--random-input-len", str(isl), "--random-output-len",
        str(osl), "--ignore-eos", "--num-prompts", str(requests), "--max-concurrency",
        str(concurrency), "--request-rate", "inf", "--num-warmups", "0", "--save-result",
        "--save-detailed", "--result-dir", str(out), "--result-filename", "result.json",
        "--disable-tqdm",
    ]  # fmt: skip
    proc, wall, cpu = timed_run(command, 900)
    t = Timings("vllm bench serve", wall_s=wall, cpu_s=cpu)
    result = out / "result.json"
    if not result.exists():
        t.note = (proc.stdout + proc.stderr)[-400:]
        t.failed = requests
        return t
    data = json.loads(result.read_text())
    for ttft, itls, err in zip(data["ttfts"], data["itls"], data["errors"], strict=True):
        if err:
            t.failed += 1
            continue
        t.ttft_ms.append(ttft * 1000)
        t.itl_ms += [x * 1000 for x in itls]  # per chunk: vLLM's ITL is a chunk gap
    return t


def run_aiperf(
    url: str, tokenizer: Path, out: Path, concurrency: int, requests: int, osl: int, isl: int
) -> Timings:
    command = [
        str(AIPERF), "profile", "--model", "fake", "--url", url, "--endpoint-type",
        "completions", "--streaming", "--tokenizer", str(tokenizer),
        "--synthetic-input-tokens-mean", str(isl), "--synthetic-input-tokens-stddev", "0",
        "--output-tokens-mean", str(osl), "--output-tokens-stddev", "0",
        "--extra-inputs", "ignore_eos:true", "--use-server-token-count",
        "--concurrency", str(concurrency), "--request-count", str(requests),
        "--artifact-dir", str(out), "--ui-type", "none",
    ]  # fmt: skip
    proc, wall, cpu = timed_run(command, 900)
    t = Timings("aiperf", wall_s=wall, cpu_s=cpu)
    exports = sorted(out.rglob("profile_export.jsonl"))
    if not exports:
        t.note = (proc.stdout + proc.stderr)[-400:]
        t.failed = requests
        return t
    for line in exports[-1].read_text().splitlines():
        row = json.loads(line)
        metrics = row.get("metrics") or {}
        if row.get("error") or "time_to_first_token" not in metrics:
            t.failed += 1
            continue
        t.ttft_ms.append(_ms(metrics["time_to_first_token"]))
        if "inter_token_latency" in metrics:
            t.itl_ms.append(_ms(metrics["inter_token_latency"]))  # per request, per token
    return t


def _value(metric: dict[str, object]) -> float:
    return float(metric["value"])  # type: ignore[arg-type]


def _ms(metric: dict[str, object]) -> float:
    scale = {"ms": 1.0, "ns": 1e-6, "us": 1e-3, "s": 1000.0}[str(metric.get("unit", "ms"))]
    return _value(metric) * scale
