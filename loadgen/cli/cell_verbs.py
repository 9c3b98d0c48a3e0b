"""``speedbench run`` (one cell against a running server) and ``speedbench serve`` (a variant's
exact launch command), with the API-key and TLS options they share with ``sweep``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadgen.runspec.flags import add_run_arguments

if TYPE_CHECKING:
    from loadgen.client.access import ServerAccess
    from loadgen.results.schemas import CellSummary


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
    from loadgen.analysis.console import console_block

    out = Path(args.out)
    with results_lock(out):
        summary = run_cell(spec, out)
    print(console_block(summary))  # the JSON is in summary.json
    print(f"wrote {out / 'summary.json'}, {out / 'requests.parquet'}, {out / 'manifest.json'}")
    return _failed_cell_exit(summary, out)


def _failed_cell_exit(summary: CellSummary, out: Path) -> int:
    """1 when more requests failed than a cell's figures can stand (as Locust's
    ``--exit-code-on-error``), so that a pipeline notices; the cell is on disk either way."""
    from loadgen.analysis.summary import MAX_FAILED_SHARE

    failed, done = summary.requests_failed, summary.requests_ok + summary.requests_failed
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


def add_access_options(parser: argparse.ArgumentParser) -> None:
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


def _serve(args: argparse.Namespace) -> int:
    from loadgen.servers.serve import serve

    return serve(args.variant, args.model, args.port, args.run, args.engine_arg)


def add_cell_verbs(verbs: Any) -> None:
    run = verbs.add_parser("run", help="one cell against a running server")
    add_run_arguments(run.add_argument, "run")
    run.add_argument("--out", required=True, help="the cell's results directory")
    add_access_options(run)
    run.set_defaults(func=_run)

    srv = verbs.add_parser(
        "serve", help="print (or --run) the exact command and environment of a server variant"
    )
    srv.add_argument("variant", help="a servers/<variant>.yaml name, e.g. vllm-cpu-ngram")
    srv.add_argument("--model", help="HF id or path (default: the variant's model)")
    srv.add_argument("--port", type=int, help="listen port (default: the variant's)")
    srv.add_argument("--run", action="store_true", help="run it in the foreground")
    srv.add_argument(
        "--engine-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more engine argument, appended to the variant's; repeat for more; a value "
        "starting with '-' goes after '=', e.g. --engine-arg=--no-enable-prefix-caching (A/A)",
    )
    srv.set_defaults(func=_serve)
