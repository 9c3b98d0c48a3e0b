"""What the metrics code costs the harness (run: ``python -m tests.benchmarks.bench_metrics``).

Prints: parse + window reduction of the recorded vLLM exposition (once per cell and target), one
SGLang poll reduction, and the live exporter's cost per finished request (it runs inside Locust's
event loop, so it must stay far below a request's own time).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loadgen.client.record import RequestRecord
from loadgen.metrics import exporter as live
from loadgen.metrics import sglang, vllm
from loadgen.metrics.adapter import Poll
from loadgen.metrics.window import text_deltas
from tests.metrics.test_adapters import SGLANG, VLLM, scaled

MS = 1_000_000


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


def record(tokens: int, per_chunk: int) -> RequestRecord:
    chunks = [1] + [per_chunk] * ((tokens - 1) // per_chunk)
    times = [50 * MS + i * 20 * MS for i in range(len(chunks))]
    return RequestRecord(
        "r", "q", "1k", "c", 1000, tokens, 0, 0.0, send_ns=0, end_ns=times[-1],
        chunk_ns=times, chunk_tokens=chunks, usage_output_tokens=sum(chunks),
    )  # fmt: skip


def main() -> None:
    after = scaled(VLLM, 3)
    window_us = per_call_us(lambda: vllm.ADAPTER.reduce(
        text_deltas([VLLM], [after], vllm.ADAPTER.counters), ()), 200)  # fmt: skip
    polls = [[Poll(float(i), body) for i, body in enumerate(SGLANG)]]
    deltas = text_deltas([SGLANG[0]], [SGLANG[3]], sglang.ADAPTER.counters)
    sglang_us = per_call_us(lambda: sglang.ADAPTER.reduce(deltas, polls), 200)
    metrics = live.LiveMetrics()
    one = record(256, 2)

    def finish() -> None:
        metrics.request_started()
        metrics.request_finished(one)

    live_us = per_call_us(finish, 2000)
    print(f"vLLM window (parse 2 scrapes of {len(VLLM.splitlines())} lines + reduce): "
          f"{window_us / 1000:.2f} ms")  # fmt: skip
    print(f"SGLang reduction over 4 polls: {sglang_us / 1000:.2f} ms")
    print(f"live exporter per finished request (256 tokens, 2 per chunk): {live_us:.1f} us")


if __name__ == "__main__":
    main()
