"""Timing accuracy and throughput of the Locust harness vs `vllm bench serve` and AIPerf.

    flock /tmp/speedbench-cpu.lock python -m tests.benchmarks.bench_timing_accuracy

One FAKE deterministic server (tests/fakes/async_streaming_server.py, own process) with known
truth: TTFT, chunk gap, tokens per chunk. Each tool runs closed loop at rising concurrency (and
open loop at the given rates, and for each chunk gap of ``--step-ms``) against it; the table
prints each tool's TTFT error against the nominal truth (measured - truth, p50/p99) and against
the server's actual TTFT of that request ("vs actual send": the server logs, on CLOCK_MONOTONIC,
the kernel's receive time of each request and the moment each chunk was handed to the kernel, so
its own intake and lateness are taken out and what is left is the tool's error plus loopback),
its reported ITL against the true per-token ITL and against the server's actual one, the chunk
rate, the server's own lateness and CPU, and the tool's CPU cost per 1,000 chunks. For
speedbench, whose records keep every stamp, it also splits the error: each chunk's stamp minus
the server's send of it ("chunk receive delay"), and the server's receipt of the request minus
the harness's clock start ("way in"). The load average before each cell is printed: other jobs
on the machine distort every tool.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from loadgen.data.prepared import PreparedPrompt, PreparedSet
from tests.benchmarks.peers import Load, Timings, run_aiperf, run_speedbench, run_vllm_bench
from tests.ports import free_port

ISL = 32


def server_get(url: str, path: str, reset: bool = False) -> object:
    request = urllib.request.Request(url + path, method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def prepared_set(root: Path, count: int) -> Path:
    def ids(i: int) -> list[int]:  # first token = peers.prompt_key(i): the server logs it
        return [1000 + (i * 7 + j) % 30000 for j in range(ISL)]

    prompts = [PreparedPrompt(f"{i:032d}", "1k", "mixed", None, ISL, ids(i)) for i in range(count)]
    return PreparedSet(prompts, {"fake": True}).write(root / "prepared")


def actual_ttft_ms(log: list[dict[str, object]]) -> dict[str, float]:
    """Server-side TTFT per request key: first chunk handed to the kernel - body arrived."""
    out: dict[str, float] = {}
    for e in log:
        sent = e["sent_ns"]
        if not sent:
            continue
        ttft = (sent[0] - e["arrive_ns"]) / 1e6  # type: ignore[index, operator]
        out[f"p{e['prompt0']}"] = out[f"n{e['number']}"] = ttft
        if e["request_id"]:
            out[f"x{e['request_id']}"] = ttft
    return out


def receive_delay_ms(t: Timings, log: list[dict[str, object]]) -> list[float]:
    """Every chunk's stamp minus the server's send of that chunk (speedbench keeps all stamps):
    the harness's own delay, free of the server's lateness and of the request's way in."""
    sent = {f"p{e['prompt0']}": e["sent_ns"] for e in log}
    return [
        (stamp - server) / 1e6
        for key, stamps in zip(t.keys, t.chunk_ns, strict=False)
        for stamp, server in zip(stamps, sent.get(key, []), strict=False)  # type: ignore[call-overload]
    ]


def way_in_ms(t: Timings, log: list[dict[str, object]]) -> list[float]:
    """The server's read of each request's body minus the harness's clock start: the request's
    way in (the client writing it, the kernel, the server getting to it)."""
    arrived = {f"p{e['prompt0']}": e["arrive_ns"] for e in log}
    return [
        (arrived[key] - send) / 1e6  # type: ignore[operator]
        for key, send in zip(t.keys, t.send_ns, strict=False)
        if key in arrived
    ]


def actual_itl_ms(log: list[dict[str, object]], tokens_per_chunk: int) -> float:
    """The server's own per-token ITL over the cell: every stream's first-to-last chunk send
    over the tokens after the first (the schedule stretched by the server's lateness)."""
    spans = [e["sent_ns"] for e in log if len(e["sent_ns"]) > 1]  # type: ignore[arg-type]
    total_ns = sum(s[-1] - s[0] for s in spans)  # type: ignore[index]
    tokens = sum((len(s) - 1) * tokens_per_chunk for s in spans)  # type: ignore[arg-type]
    return total_ns / tokens / 1e6 if tokens else float("nan")


def pct(values: list[float] | np.ndarray, q: float) -> str:
    return f"{np.percentile(values, q):.2f}" if len(values) else "n/a"


def row(
    t: Timings,
    args: argparse.Namespace,
    step_ms: float,
    open_loop: bool,
    srv: dict[str, float],
    log: list[dict[str, object]],
    server_cpu_s: float,
    load_avg: float,
) -> str:
    if not t.ttft_ms:
        return f"| {t.tool} | failed: {t.note.strip()[-120:]!r} |"
    truth_itl = step_ms / args.tokens_per_chunk
    err = np.asarray(t.ttft_ms) - args.ttft_ms
    actual = actual_ttft_ms(log)
    vs_actual = [m - actual[k] for m, k in zip(t.ttft_ms, t.keys, strict=True) if k in actual]
    itl = float(np.mean(t.itl_ms)) if t.itl_ms else float("nan")
    itl_err = (itl - truth_itl) / truth_itl * 100
    server_itl = actual_itl_ms(log, args.tokens_per_chunk)
    itl_err_actual = (itl - server_itl) / server_itl * 100
    kind = "chunk" if abs(itl - step_ms) < abs(itl - truth_itl) else "token"
    busy = max(srv["busy_s"], 1e-9)
    lag = f"{np.percentile(t.lag_ms, 99):.1f}" if t.lag_ms and open_loop else "-"
    recv = receive_delay_ms(t, log)
    way_in = way_in_ms(t, log)
    return (
        f"| {t.tool} | {pct(err, 50)} | {pct(err, 99)} | {pct(vs_actual, 50)} "
        f"| {pct(vs_actual, 99)} | {itl:.3f} ({kind}) | {itl_err:+.1f}% | {itl_err_actual:+.2f}% "
        f"| {srv['chunks'] / busy:.0f} | {srv['lateness_p99_ms']:.2f} "
        f"| {server_cpu_s / busy * 100:.0f}% | {t.cpu_s / max(1, srv['chunks']) * 1e6:.0f} "
        f"| {pct(recv, 50)} / {pct(recv, 99)} | {pct(way_in, 50)} / {pct(way_in, 99)} "
        f"| {lag} | {t.failed} | {load_avg:.2f} |"
    )


HEADER = (
    "| tool | TTFT err p50 ms | TTFT err p99 ms | vs actual send p50 ms | vs actual send p99 ms "
    "| reported ITL ms | ITL err vs per-token | ITL err vs server's actual | chunks/s "
    "| server late p99 ms | server CPU "
    "| tool CPU ms / 1k chunks | chunk receive delay p50 / p99 ms | way in p50 / p99 ms "
    "| send lag p99 ms | failed | load avg before |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def quiet_load(max_load: float, max_wait_s: float) -> float:
    """Wait (up to ``max_wait_s``) for the 1-minute load average to drop below ``max_load``:
    other jobs on the machine distort every tool. Returns the load average it went on at."""
    deadline = time.monotonic() + max_wait_s
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def run_tool(tool: str, url: str, data: Path, out: Path, load: Load, args: argparse.Namespace) -> Timings:  # fmt: skip  # noqa: E501
    if tool.startswith("speedbench"):
        transport = tool.partition(":")[2] or "requests"
        return run_speedbench(url, data, out, load, args.processes, transport)
    if tool == "vllm":
        return run_vllm_bench(url, args.tokenizer, out, load, ISL)
    return run_aiperf(url, args.tokenizer, out, load, ISL)


def start_server(port: int, args: argparse.Namespace, step_ms: float) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "tests.fakes.async_streaming_server", "--port", str(port),
        "--ttft-ms", str(args.ttft_ms), "--step-ms", str(step_ms),
        "--tokens-per-chunk", str(args.tokens_per_chunk),
    ]  # fmt: skip
    if args.server_cpu is not None:
        command = ["taskset", "-c", args.server_cpu, *command]
    server = subprocess.Popen(command)
    time.sleep(1.5)
    return server


def loads(args: argparse.Namespace) -> list[tuple[str, Load]]:
    out = []
    for c in args.concurrency:
        n = max(args.min_requests, c * args.requests_per_user)
        out.append((f"closed loop, concurrency {c}, {n} requests", Load(c, n, args.osl)))
    for rate in args.rates:
        n = max(args.min_requests, int(rate * args.open_seconds))
        label = f"open loop (Poisson), {rate:g} requests/s, {n} requests"
        out.append((label, Load(args.open_cap, n, args.osl, rate)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 16, 64, 256])
    parser.add_argument("--rates", type=float, nargs="*", default=[], help="open-loop req/s")
    parser.add_argument("--open-seconds", type=float, default=4.0, help="open loop: requests = rate x this")  # fmt: skip  # noqa: E501
    parser.add_argument("--open-cap", type=int, default=512, help="speedbench -u in open loop")
    parser.add_argument(
        "--tools", nargs="+", default=["speedbench", "speedbench:fast", "vllm", "aiperf"],
        help="speedbench[:TRANSPORT], vllm, aiperf",
    )  # fmt: skip
    parser.add_argument("--osl", type=int, default=64)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--step-ms", type=float, nargs="+", default=[20.0], help="chunk gaps: a sweep")  # fmt: skip  # noqa: E501
    parser.add_argument("--tokens-per-chunk", type=int, default=3)
    parser.add_argument("--requests-per-user", type=int, default=1)
    parser.add_argument("--min-requests", type=int, default=16)
    parser.add_argument("--processes", type=int, default=1, help="Locust worker processes")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait for a quieter machine")  # fmt: skip  # noqa: E501
    parser.add_argument("--max-wait", type=float, default=60.0, help="seconds to wait for it")
    parser.add_argument("--server-cpu", help="pin the FAKE server to these CPUs (taskset -c)")
    parser.add_argument("--tokenizer", type=Path, default=Path("/tmp/bench-tiny-model"))
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cells = loads(args)
        data = prepared_set(root, max(load.requests for _, load in cells) * args.processes)
        for step_ms in args.step_ms:
            print(
                f"## truth: TTFT {args.ttft_ms} ms, chunk gap {step_ms} ms, "
                f"{args.tokens_per_chunk} tokens/chunk -> per-token ITL "
                f"{step_ms / args.tokens_per_chunk:.3f} ms; osl {args.osl}, isl {ISL}\n"
            )
            server = start_server(port, args, step_ms)
            try:
                for label, load in cells:
                    print(f"#### {label}\n\n{HEADER}")
                    for i, tool in enumerate(args.tools):  # a tool may be listed twice: repeats
                        server_get(url, "/stats", reset=True)
                        cpu0 = float(server_get(url, "/stats")["cpu_s"])  # type: ignore[index]
                        load_avg = quiet_load(args.max_load, args.max_wait)
                        out = root / f"{i}-{tool}-{step_ms}-{load.concurrency}-{load.rate}"
                        t = run_tool(tool, url, data, out, load, args)
                        srv = server_get(url, "/stats")
                        log = server_get(url, "/log")
                        assert isinstance(srv, dict) and isinstance(log, list)
                        cpu = float(srv["cpu_s"]) - cpu0
                        open_loop = load.rate is not None
                        print(row(t, args, step_ms, open_loop, srv, log, cpu, load_avg), flush=True)
                    print()
            finally:
                server.terminate()
                server.wait(timeout=10)


if __name__ == "__main__":
    main()
