"""Timing accuracy and throughput of the Locust harness vs `vllm bench serve` and AIPerf.

    flock /tmp/speedbench-cpu.lock python -m tests.benchmarks.bench_timing_accuracy

One FAKE deterministic server (tests/fakes/async_streaming_server.py, own process) with known
truth: TTFT, chunk gap, tokens per chunk. Each tool runs closed loop at rising concurrency against
it; the table prints each tool's TTFT error (measured - truth, p50/p99), its reported ITL against
the true per-token ITL, the chunk rate the server delivered, the server's own lateness (truth is
only truth while that stays small) and the tool's CPU cost per 1,000 chunks.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from loadgen.data.prepared import PreparedPrompt, PreparedSet
from tests.benchmarks.peers import Timings, run_aiperf, run_speedbench, run_vllm_bench

ISL = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_stats(url: str, reset: bool = False) -> dict[str, float]:
    request = urllib.request.Request(url + "/stats", method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def prepared_set(root: Path, count: int) -> Path:
    def ids(i: int) -> list[int]:
        return [1000 + (i * 7 + j) % 30000 for j in range(ISL)]

    prompts = [PreparedPrompt(f"{i:032d}", "1k", "mixed", None, ISL, ids(i)) for i in range(count)]
    return PreparedSet(prompts, {"fake": True}).write(root / "prepared")


def row(
    t: Timings, truth_ttft: float, truth_itl: float, truth_gap: float, srv: dict[str, float]
) -> str:
    if not t.ttft_ms:
        return f"| {t.tool} | failed: {t.note.strip()[-120:]!r} |"
    err = np.asarray(t.ttft_ms) - truth_ttft
    itl = float(np.mean(t.itl_ms)) if t.itl_ms else float("nan")
    kind = "chunk" if abs(itl - truth_gap) < abs(itl - truth_itl) else "token"
    cpu_ms_per_k = t.cpu_s / max(1, srv["chunks"]) * 1e6
    rate = srv["chunks"] / max(srv["busy_s"], 1e-9)
    return (
        f"| {t.tool} | {np.percentile(err, 50):.2f} | {np.percentile(err, 99):.2f} "
        f"| {itl:.3f} ({kind}) | {(itl - truth_itl) / truth_itl * 100:+.1f}% "
        f"| {rate:.0f} | {srv['lateness_p99_ms']:.2f} | {cpu_ms_per_k:.0f} "
        f"| {t.failed} |"
    )


HEADER = (
    "| tool | TTFT err p50 ms | TTFT err p99 ms | reported ITL ms | ITL err vs per-token "
    "| chunks/s | server late p99 ms | CPU ms / 1k chunks | failed |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64, 256, 512])
    parser.add_argument("--tools", nargs="+", default=["speedbench", "vllm", "aiperf"])
    parser.add_argument("--osl", type=int, default=64)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--step-ms", type=float, default=20.0)
    parser.add_argument("--tokens-per-chunk", type=int, default=3)
    parser.add_argument("--requests-per-user", type=int, default=2)
    parser.add_argument("--min-requests", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1, help="Locust worker processes")
    parser.add_argument("--tokenizer", type=Path, default=Path("/tmp/bench-tiny-model"))
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.async_streaming_server", "--port", str(port),
         "--ttft-ms", str(args.ttft_ms), "--step-ms", str(args.step_ms),
         "--tokens-per-chunk", str(args.tokens_per_chunk)],
    )  # fmt: skip
    truth_itl = args.step_ms / args.tokens_per_chunk
    print(
        f"truth: TTFT {args.ttft_ms} ms, chunk gap {args.step_ms} ms, {args.tokens_per_chunk} "
        f"tokens/chunk -> per-token ITL {truth_itl:.3f} ms; osl {args.osl}, isl {ISL}\n"
    )
    try:
        time.sleep(1.5)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            biggest = max(args.concurrency) * args.requests_per_user + args.min_requests
            data = prepared_set(root, biggest * max(1, args.processes))
            for c in args.concurrency:
                n = max(args.min_requests, c * args.requests_per_user)
                print(f"### concurrency {c}, {n} requests\n\n{HEADER}")
                for tool in args.tools:
                    server_stats(url, reset=True)
                    out = root / f"{tool}-c{c}"
                    if tool == "speedbench":
                        t = run_speedbench(url, data, out, c, n, args.osl, args.processes)
                    elif tool == "vllm":
                        t = run_vllm_bench(url, args.tokenizer, out, c, n, args.osl, ISL)
                    else:
                        t = run_aiperf(url, args.tokenizer, out, c, n, args.osl, ISL)
                    srv = server_stats(url)
                    print(row(t, args.ttft_ms, truth_itl, args.step_ms, srv), flush=True)
                print()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
