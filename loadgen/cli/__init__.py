"""``speedbench``: the verbs that wire the rooms together (demo, data, run, serve, sweep, report,
predict).

Each group of verbs lives in its own module (data_verbs, cell_verbs, sweep_verbs); the parser is
assembled here."""

from __future__ import annotations

import argparse
import sys

from loadgen.cli.cell_verbs import add_cell_verbs
from loadgen.cli.data_verbs import add_data_verbs
from loadgen.cli.sweep_verbs import add_demo_verb, add_grid_verbs


def build_parser() -> argparse.ArgumentParser:
    summary = (__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="speedbench", description=summary)
    verbs = parser.add_subparsers(dest="verb", required=True)
    add_demo_verb(verbs)
    add_data_verbs(verbs)
    add_cell_verbs(verbs)  # run, serve
    add_grid_verbs(verbs)  # sweep, report, predict
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
