"""Run each load generator once against the FAKE server and return per-request timings (ms).

Every runner returns ``Timings``: TTFT per request, the ITL figure the tool reports per token (or
per chunk, for tools that only know chunks), chunk gaps, and the CPU seconds the tool's processes
used, plus for each TTFT the key of that request in the FAKE server's log (``keys``) so the
benchmark can compare it with the server's actual send. Peers run as subprocesses exactly as
their users would run them. ``Load``: closed loop at a concurrency, or open loop (Poisson) at a
rate when ``rate`` is set.
"""

from __future__ import annotations

import json
import os
import re
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


@dataclass(frozen=True)
class Load:
    concurrency: int  # closed loop: users; open loop: cap on requests in flight (speedbench)
    requests: int
    osl: int
    rate: float | None = None  # open loop, requests/s, Poisson arrivals


def prompt_key(index: int) -> str:
    """The server-log key of prepared prompt ``index`` (its first token; see bench's ids)."""
    return f"p{1000 + (index * 7) % 30000}"


@dataclass
class Timings:
    tool: str
    ttft_ms: list[float] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # server-log key per TTFT
    itl_ms: list[float] = field(default_factory=list)  # as the tool reports it
    chunks: int = 0  # from the server's own count
    wall_s: float = 0.0
    cpu_s: float = 0.0
    failed: int = 0
    note: str = ""
    lag_ms: list[float] = field(default_factory=list)  # open loop: actual - intended send
    chunk_ns: list[list[int]] = field(default_factory=list)  # speedbench: stamps per TTFT
    send_ns: list[int] = field(default_factory=list)  # speedbench: the request's clock start


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
    url: str, data: Path, out: Path, load: Load, processes: int = 1, transport: str = "requests"
) -> Timings:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "-u", str(load.concurrency), "-r", str(load.concurrency), "-t", "600s", "--host", url,
        "--data", str(data), "--bucket", "1k", "--osl", str(load.osl), "--requests",
        str(load.requests), "--out", str(out), "--exit-code-on-error", "0",
        "--transport", transport, "--warmup", "0",
    ]  # fmt: skip
    if load.rate is not None:
        command += ["--rate", str(load.rate), "--arrivals", "poisson"]
    if processes > 1:
        command += ["--processes", str(processes)]
    proc, wall, cpu = timed_run(command, 900)
    records = read_jsonl(out / RECORDS_JSONL) if (out / RECORDS_JSONL).exists() else []
    name = f"speedbench ({transport})"
    t = Timings(name, wall_s=wall, cpu_s=cpu)
    for r in records:
        if not r.ok or r.ttft_ms is None:
            t.failed += 1
            continue
        t.ttft_ms.append(r.ttft_ms)
        t.keys.append(prompt_key(int(r.question_id)))
        t.itl_ms += r.itl_ms
        t.lag_ms.append((r.send_ns - r.intended_send_ns) / 1e6)
        t.chunk_ns.append(r.chunk_ns)
        t.send_ns.append(r.send_ns)
    t.failed += load.requests - len(records)
    if proc.returncode:
        t.note = proc.stderr[-300:]
    return t


def run_vllm_bench(url: str, tokenizer: Path, out: Path, load: Load, isl: int) -> Timings:
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-c", VLLM_BENCH, "--backend", "openai", "--base-url", url,
        "--endpoint", "/v1/completions", "--model", "fake", "--tokenizer", str(tokenizer),
        "--dataset-name", "random", "--random-input-len", str(isl), "--random-output-len",
        str(load.osl), "--ignore-eos", "--num-prompts", str(load.requests),
        "--num-warmups", "0", "--save-result", "--save-detailed", "--result-dir", str(out),
        "--result-filename", "result.json", "--disable-tqdm",
    ]  # fmt: skip
    if load.rate is None:
        command += ["--max-concurrency", str(load.concurrency), "--request-rate", "inf"]
    else:
        command += ["--request-rate", str(load.rate)]
    proc, wall, cpu = timed_run(command, 900)
    t = Timings("vllm bench serve", wall_s=wall, cpu_s=cpu)
    result = out / "result.json"
    if not result.exists():
        t.note = (proc.stdout + proc.stderr)[-400:]
        t.failed = load.requests
        return t
    data = json.loads(result.read_text())
    rows = zip(data["ttfts"], data["itls"], data["errors"], data["generated_texts"], strict=True)
    for ttft, itls, err, text in rows:
        if err:
            t.failed += 1
            continue
        t.ttft_ms.append(ttft * 1000)
        number = re.match(r"r(\d+)", text)  # the FAKE server tags its first chunk
        t.keys.append(f"n{number.group(1)}" if number else "")
        t.itl_ms += [x * 1000 for x in itls]  # per chunk: vLLM's ITL is a chunk gap
    return t


def run_aiperf(url: str, tokenizer: Path, out: Path, load: Load, isl: int) -> Timings:
    command = [
        str(AIPERF), "profile", "--model", "fake", "--url", url, "--endpoint-type",
        "completions", "--streaming", "--tokenizer", str(tokenizer),
        "--synthetic-input-tokens-mean", str(isl), "--synthetic-input-tokens-stddev", "0",
        "--output-tokens-mean", str(load.osl), "--output-tokens-stddev", "0",
        "--extra-inputs", "ignore_eos:true", "--use-server-token-count",
        "--request-count", str(load.requests), "--artifact-dir", str(out), "--ui-type", "none",
    ]  # fmt: skip
    if load.rate is None:
        command += ["--concurrency", str(load.concurrency)]
    else:
        command += ["--request-rate", str(load.rate), "--arrival-pattern", "poisson"]
    proc, wall, cpu = timed_run(command, 900)
    t = Timings("aiperf", wall_s=wall, cpu_s=cpu)
    exports = sorted(out.rglob("profile_export.jsonl"))
    if not exports:
        t.note = (proc.stdout + proc.stderr)[-400:]
        t.failed = load.requests
        return t
    for line in exports[-1].read_text().splitlines():
        row = json.loads(line)
        metrics = row.get("metrics") or {}
        if row.get("error") or "time_to_first_token" not in metrics:
            t.failed += 1
            continue
        t.ttft_ms.append(_ms(metrics["time_to_first_token"]))
        t.keys.append("x" + str((row.get("metadata") or {}).get("x_request_id", "")))
        if "inter_token_latency" in metrics:
            t.itl_ms.append(_ms(metrics["inter_token_latency"]))  # per request, per token
    return t


def _value(metric: dict[str, object]) -> float:
    return float(metric["value"])  # type: ignore[arg-type]


def _ms(metric: dict[str, object]) -> float:
    scale = {"ms": 1.0, "ns": 1e-6, "us": 1e-3, "s": 1000.0}[str(metric.get("unit", "ms"))]
    return _value(metric) * scale
