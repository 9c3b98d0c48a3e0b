"""A cell's summary as a human block on the console, like ``vllm bench serve`` prints; the JSON
stays in ``summary.json``. Printed at the end of ``speedbench run`` and of a Locust run."""

from __future__ import annotations

from loadgen.results.schemas import CellSummary, Distribution

WIDTH = 50


def _line(label: str, value: object) -> str:
    return f"{label:<{WIDTH - 12}}{value!s:>12}"


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _distribution(name: str, d: Distribution) -> list[str]:
    return [
        _line(f"Mean {name} (ms):", _number(d.mean)),
        _line(f"Median {name} (ms):", _number(d.p50)),
        _line(f"P90 {name} (ms):", _number(d.p90)),
        _line(f"P99 {name} (ms):", _number(d.p99)),
    ]


def console_block(summary: CellSummary, title: str = "speedbench result") -> str:
    acc = summary.acceptance
    lines = [
        f"{' ' + title + ' ':=^{WIDTH}}",
        _line("Server:", summary.server),
        _line("Bucket / load:", f"{summary.bucket} / {summary.load.label if summary.load else ''}"),
        _line("Successful requests:", summary.requests_ok),
        _line("Failed requests:", summary.requests_failed),
        _line("Duration (s):", _number(summary.duration_s)),
        _line("Output tokens:", summary.output_tokens),
        _line("Output tokens/s:", _number(summary.output_tokens_per_s)),
        f"{' Time to first token ':-^{WIDTH}}",
        *_distribution("TTFT", summary.ttft_ms),
        f"{' Time per output token (per token) ':-^{WIDTH}}",
        *_distribution("TPOT", summary.tpot_ms),
        f"{' Inter-token latency (per token) ':-^{WIDTH}}",
        *_distribution("ITL", summary.itl_ms),
        f"{' Speculative decoding ':-^{WIDTH}}",
        _line("Tokens per chunk (client):", _number(summary.client_tokens_per_chunk)),
        _line("Acceptance length (engine):", _number(acc.acceptance_length)),
        _line("Acceptance rate (engine):", _number(acc.acceptance_rate, 3)),
        f"acceptance source: {acc.source}",
    ]
    if summary.ended:
        lines.append(f"ended: {summary.ended}")
    lines += [f"flag: {flag}" for flag in summary.flags]
    lines.append("=" * WIDTH)
    return "\n".join(lines)
