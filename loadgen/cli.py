"""``speedbench``: the verbs that wire the rooms together (demo, data, run, sweep, report)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadgen.data.embed import (
    DEFAULT_EMBEDDER,
    DEFAULT_EMBEDDING,
    DEFAULT_MAX_SEQ_LENGTH,
    EMBEDDINGS,
    HYBRID_MAX_SEQ_LENGTH,
)
from loadgen.demo_plan import DemoPlan
from loadgen.runspec.flags import add_run_arguments

if TYPE_CHECKING:
    from loadgen.client.access import ServerAccess


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


def _prepare(args: argparse.Namespace) -> int:
    from loadgen.data.prepare import default_configs, isl_table, prepare_to_disk
    from loadgen.data.tokenize import TokenizeOptions

    kwargs = json.loads(args.chat_template_kwargs) if args.chat_template_kwargs else {}
    options = TokenizeOptions(raw=args.raw, template_kwargs=kwargs, exact_isl=args.exact_isl)
    prepared = prepare_to_disk(
        args.source,
        args.config or default_configs(args.source),
        args.model,
        Path(args.out),
        args.revision,
        args.skip_placeholders,
        options,
    )
    manifest = prepared.manifest
    print(f"{'reused cached' if prepared.reused else 'prepared'} data set in {args.out}")
    print(json.dumps({"counts": manifest["counts"], "revision": manifest["revision"]}))
    print("ISL in target tokens:")
    print(isl_table(manifest["isl_stats"]))
    for warning in manifest.get("warnings", []):
        print(f"speedbench: warning: {warning}", file=sys.stderr)
    return 0


def _diverse(args: argparse.Namespace) -> int:
    from loadgen.data.diverse import run_diverse

    report = run_diverse(
        Path(args.input),
        Path(args.out),
        args.per_category,
        args.embedder,
        args.seed,
        args.max_seq_length,
        args.embedding,
    )
    print(json.dumps(report, indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    from loadgen.cell import run_cell
    from loadgen.preflight import preflight
    from loadgen.results_lock import results_lock
    from loadgen.runspec.flags import spec_from_flags

    spec = spec_from_flags(args, "run")
    access = _access(args, spec.url)
    count = spec.warmup + spec.requests if spec.requests else None
    checked = preflight(
        access, spec.engine, spec.model, spec.data_dir, [spec.bucket], spec.prompt_start, count,
        spec.osl,
    )  # fmt: skip
    print(checked.describe(), flush=True)
    with results_lock(Path(args.out)):
        summary = run_cell(spec, Path(args.out)).model_dump(mode="json")
    print(
        json.dumps(
            {
                k: summary[k]
                for k in (
                    "server",
                    "bucket",
                    "concurrency",
                    "requests_ok",
                    "requests_failed",
                    "output_tokens_per_s",
                    "ttft_ms",
                    "tpot_ms",
                    "acceptance",
                    "category_acceptance",
                    "flags",
                )
            },
            indent=2,
        )
    )
    return _failed_cell_exit(summary, Path(args.out))


def _failed_cell_exit(summary: dict[str, Any], out: Path) -> int:
    """1 when more requests failed than a cell's figures can stand (as Locust's
    ``--exit-code-on-error``), so that a pipeline notices; the cell is on disk either way."""
    from loadgen.analysis.summary import MAX_FAILED_SHARE

    failed, done = summary["requests_failed"], summary["requests_ok"] + summary["requests_failed"]
    if done and failed / done <= MAX_FAILED_SHARE:
        return 0
    print(
        f"speedbench: {failed} of {done} requests failed (above {MAX_FAILED_SHARE:.0%}): the "
        f"cell describes a failing server, not its speed; see errors_by_kind in {out}/summary.json",
        file=sys.stderr,
    )
    return 1


def _access(args: argparse.Namespace, url: str) -> ServerAccess:
    """--api-key-file / --ca-bundle (paths) -> this process and the Locust processes it starts."""
    from loadgen.client.access import ServerAccess, export_for_children

    export_for_children(args.api_key_file, args.ca_bundle)
    return ServerAccess.resolve(url)


class _RefuseKeyValue(argparse.Action):
    """``--api-key VALUE`` is refused without echoing VALUE (shell history, ps, manifests)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object, **__: object) -> None:
        from loadgen.client.access import KEY_VALUE_REFUSED

        parser.error(KEY_VALUE_REFUSED)


def _add_access_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key", action=_RefuseKeyValue, help=argparse.SUPPRESS)
    parser.add_argument(
        "--api-key-file",
        help="file holding the server's API key (or export SPEEDBENCH_API_KEY; never the key "
        "itself on the command line); sent as a Bearer token to the server's origin only",
    )
    parser.add_argument(
        "--ca-bundle",
        help="PEM of the CA that signed an https server's certificate (TLS is always verified)",
    )


def _sweep(args: argparse.Namespace) -> int:
    from loadgen.client.access import export_for_children
    from loadgen.report.tables import console_table
    from loadgen.sweep.plan import load_plan
    from loadgen.sweep.runner import run_sweep

    plan_path = Path(args.plan)
    export_for_children(args.api_key_file, args.ca_bundle)
    print(console_table(run_sweep(load_plan(plan_path), plan_path.parent, Path(args.out))))
    return 0


def _report(args: argparse.Namespace) -> int:
    from loadgen.report.build import build_report
    from loadgen.report.tables import console_table

    print(console_table(build_report(Path(args.dir))))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from loadgen.predict.capacity import Slo
    from loadgen.predict.run import PredictOptions, render, run_predict

    slo = Slo(args.ttft_ms, args.tpot_ms, args.percentile)
    extra = (tuple(args.bucket), tuple(args.concurrency), tuple(args.rate))
    opts = PredictOptions(
        slo, args.target_rps, *extra, args.suggest, args.draws, tuple(args.holdout)
    )
    print(render(run_predict(Path(args.dir), opts)))
    return 0


def _add_predict(verbs: Any) -> None:
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
    pred.set_defaults(func=_predict)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="speedbench", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

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

    data = verbs.add_parser("data", help="data sets").add_subparsers(
        dest="data_verb", required=True
    )
    prep = data.add_parser("prepare", help="load, validate, template and tokenize")
    prep.add_argument("--source", default="nvidia/SPEED-Bench", help="hub id, or local file/dir")
    prep.add_argument(
        "--config",
        nargs="+",
        help="split(s), e.g. throughput_2k or qualitative (default: a local file's own name, "
        "else throughput_1k)",
    )
    prep.add_argument("--revision", help="hub revision to pin")
    prep.add_argument("--model", required=True, help="target model (its tokenizer + template)")
    prep.add_argument("--out", required=True, help="prepared data set directory")
    prep.add_argument(
        "--skip-placeholders",
        action="store_true",
        help="drop and count licence placeholder rows instead of failing",
    )
    prep.add_argument("--chat-template-kwargs", help="JSON, e.g. '{\"enable_thinking\": false}'")
    prep.add_argument(
        "--raw", action="store_true", help="raw completion mode: no chat template, BOS + text"
    )
    prep.add_argument(
        "--exact-isl",
        action="store_true",
        help="pad/truncate the user text so every prompt is exactly the bucket length in target "
        "tokens (template framing kept whole)",
    )
    prep.set_defaults(func=_prepare)

    div = data.add_parser("diverse", help="SPEED-Bench-style diverse split of your own prompts")
    div.add_argument("--input", required=True, help="JSONL/Parquet rows (SPEED-Bench schema)")
    div.add_argument("--out", required=True, help="output JSONL of the chosen rows")
    div.add_argument("--per-category", type=int, required=True, help="rows to keep per category")
    div.add_argument(
        "--embedder",
        default=DEFAULT_EMBEDDER,
        help="sentence-transformers model id or local path",
    )
    div.add_argument("--seed", type=int, default=0, help="seed of the random-subset comparison")
    div.add_argument(
        "--embedding",
        choices=EMBEDDINGS,
        default=DEFAULT_EMBEDDING,
        help="hybrid (default): static token vectors over the whole prompt joined with the "
        "transformer over its first --max-seq-length pieces; static: token vectors only "
        "(fastest; distilled from --embedder once, cached in ~/.cache/speedbench); transformer: "
        "the model alone (slowest, best). docs/BENCHMARKS.md 'Issue 3' compares them",
    )
    div.add_argument(
        "--max-seq-length",
        type=int,
        help="word pieces the transformer reads per prompt (longer prompts are cut; cost grows "
        f"with it): default {HYBRID_MAX_SEQ_LENGTH} for hybrid, {DEFAULT_MAX_SEQ_LENGTH} for "
        "transformer; not for static",
    )
    div.set_defaults(func=_diverse)

    run = verbs.add_parser("run", help="one cell against a running server")
    add_run_arguments(run.add_argument, "run")
    run.add_argument("--out", required=True, help="the cell's results directory")
    _add_access_options(run)
    run.set_defaults(func=_run)

    sweep = verbs.add_parser("sweep", help="a plan's grid of cells, servers one at a time")
    sweep.add_argument("--plan", required=True, help="plan YAML (see docs/plans/)")
    sweep.add_argument("--out", required=True, help="results directory (re-run to resume)")
    _add_access_options(sweep)
    sweep.set_defaults(func=_sweep)

    report = verbs.add_parser(
        "report",
        help="(re)build report.html, report.md, speedup.csv, summary.json of a results dir",
    )
    report.add_argument("dir")
    report.set_defaults(func=_report)
    _add_predict(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    from loadgen.interrupt import Interrupted, signals_interrupt

    args = build_parser().parse_args(argv)
    try:
        with signals_interrupt():
            return int(args.func(args))
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"speedbench: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(
            f"speedbench: stopped by {exc}. Finished cells are on disk, each with its summary.json;"
            " the interrupted cell has none. Re-run the same command to resume: finished cells "
            "are skipped, the interrupted one is redone.",
            file=sys.stderr,
        )
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
