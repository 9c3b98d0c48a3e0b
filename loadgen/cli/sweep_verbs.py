"""``speedbench demo``, ``sweep``, ``report`` and ``predict``: grids of cells and what is read
from them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from loadgen.cli.cell_verbs import add_access_options
from loadgen.demo_plan import DemoPlan


def _demo(args: argparse.Namespace) -> int:
    from loadgen.demo import run_demo

    plan = DemoPlan(
        buckets=tuple(args.buckets),
        concurrencies=tuple(args.concurrency),
        osl=args.osl,
        requests_per_user=args.requests_per_user,
        min_requests=args.min_requests,
        warmup=args.warmup,
    )
    run_demo(Path(args.out), args.model, plan, port=args.port)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from loadgen.client.access import export_for_children
    from loadgen.report.console import console_table
    from loadgen.sweep.plan import load_plan
    from loadgen.sweep.runner import run_sweep

    plan_path = Path(args.plan)
    export_for_children(args.api_key_file, args.ca_bundle)
    print(console_table(run_sweep(load_plan(plan_path), plan_path.parent, Path(args.out))))
    _say_written(Path(args.out))
    return 0


def _report(args: argparse.Namespace) -> int:
    from loadgen.report.build import build_report
    from loadgen.report.console import console_table

    print(console_table(build_report(Path(args.dir))))
    _say_written(Path(args.dir))
    return 0


def _say_written(results: Path) -> None:
    """The report files the verb (re)wrote, so a user knows where to look."""
    from loadgen.report.build import REPORT_FILES

    for name in REPORT_FILES:
        if (results / name).is_file():
            print(f"wrote {results / name}")


def _predict(args: argparse.Namespace) -> int:
    from loadgen.predict.capacity import Slo
    from loadgen.predict.run import PredictOptions, render, run_predict

    slo = Slo(args.ttft_ms, args.tpot_ms, args.percentile)
    extra = (tuple(args.bucket), tuple(args.concurrency), tuple(args.rate))
    opts = PredictOptions(
        slo, args.target_rps, *extra, args.suggest, args.draws, tuple(args.holdout),
        args.token_budget, args.category, args.osl, Path(args.against) if args.against else None,
    )  # fmt: skip
    print(render(run_predict(Path(args.dir), opts)))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_predict(verbs: Any) -> None:
    pred = verbs.add_parser("predict", help="fit a serving model to DIR's records; predict")
    pred.add_argument("dir")
    pred.add_argument("--ttft-ms", type=float, help="SLO: TTFT percentile limit, ms")
    pred.add_argument("--tpot-ms", type=float, help="SLO: TPOT percentile limit, ms")
    pred.add_argument("--percentile", default="p90", choices=["p50", "p90", "p99"])
    pred.add_argument("--target-rps", type=float, help="requests/s to size replicas for")
    pred.add_argument("--bucket", nargs="*", default=[], help="extra ISL buckets to predict")
    pred.add_argument("--concurrency", nargs="*", type=int, default=[], help="extra loads")
    pred.add_argument("--rate", nargs="*", type=float, default=[], help="extra Poisson rates")
    pred.add_argument("--suggest", type=int, default=0, help="name N cells to measure next")
    pred.add_argument("--draws", type=int, default=10, help="bootstrap refits for intervals")
    pred.add_argument(
        "--holdout",
        nargs="*",
        default=[],
        choices=["cell", "load"],
        help="validate: leave one cell / load out, predict it, print errors",
    )
    pred.add_argument(
        "--against",
        metavar="OTHER_DIR",
        help="validate on another sweep's results: predict its cells as they ran with the "
        "model fitted on DIR, print errors (and, where both measured a cell, re-measuring's)",
    )
    pred.add_argument(
        "--token-budget",
        type=int,
        help="tokens one engine step may process (vLLM --max-num-batched-tokens; its OpenAI "
        "server's default is 2048 on CPU, 2048-16384 on GPUs by memory): longer prompts are "
        "prefilled in chunks over several steps; default: each launched server's own "
        "(--max-num-batched-tokens in its command, else vLLM's CPU default; unknown for GPUs)",
    )
    pred.add_argument(
        "--osl",
        type=_positive_int,
        help="output tokens per request to predict for; default: each server's measured median",
    )
    pred.add_argument(
        "--category",
        help="predict traffic of one measured category only (e.g. coding): SD's tokens per "
        "step as that category's requests drafted; default: each bucket's measured mix",
    )
    pred.set_defaults(func=_predict)


def add_demo_verb(verbs: Any) -> None:
    demo = verbs.add_parser("demo", help="CPU quickstart: vllm-cpu-base vs vllm-cpu-ngram")
    demo.add_argument("--out", default="speedbench-demo", help="results directory")
    demo.add_argument("--model", help="HF id or local path (default: build a tiny local Llama)")
    demo.add_argument("--buckets", nargs="+", default=["1k", "2k"])
    demo.add_argument("--concurrency", nargs="+", type=int, default=[1, 4])
    demo.add_argument("--osl", type=int, default=DemoPlan.osl)
    demo.add_argument("--requests-per-user", type=int, default=DemoPlan.requests_per_user)
    demo.add_argument("--min-requests", type=int, default=DemoPlan.min_requests)
    demo.add_argument(
        "--warmup",
        type=int,
        default=DemoPlan.warmup,
        help="unmeasured warm-up prompts per bucket and server",
    )
    demo.add_argument("--port", type=int, default=8000, help="port for the local servers")
    demo.set_defaults(func=_demo)


def add_grid_verbs(verbs: Any) -> None:
    sweep = verbs.add_parser("sweep", help="a plan's grid of cells, servers one at a time")
    sweep.add_argument("--plan", required=True, help="plan YAML (see docs/plans/)")
    sweep.add_argument("--out", required=True, help="results directory (re-run to resume)")
    add_access_options(sweep)
    sweep.set_defaults(func=_sweep)

    report = verbs.add_parser(
        "report",
        help="(re)build report.html, report.md, speedup.csv, summary.json of a results dir",
    )
    report.add_argument("dir")
    report.set_defaults(func=_report)
    add_predict(verbs)
