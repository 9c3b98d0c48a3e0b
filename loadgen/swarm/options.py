"""The speedbench options of the Locust file, on Locust's own parser (so ``locust --help`` lists
them), each also read from ``SPEEDBENCH_<OPTION>`` (e.g. ``SPEEDBENCH_RATE=2``): the Helm chart
and compose files set these names. The run settings are derived from the run spec
(``loadgen.runspec``); the options below them belong to the Locust process, not to the run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from loadgen.runspec import RunSpec
from loadgen.runspec.flags import add_run_arguments as add_spec_arguments
from loadgen.runspec.flags import env_name, given, read_spec, validated

SURFACE = "locust"
# Settings of one run, shown in the web UI's start form (validated as on the command line by
# swarm.webui before the run starts); the others belong to the process (data, server access).
PER_RUN = (
    "bucket", "prompt_start", "warmup", "requests", "osl", "rate", "arrivals", "burstiness",
    "seed", "request_timeout_s", "reuse_prompts",
)  # fmt: skip


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group(
        "speedbench", "SPEED-Bench load; every option also reads SPEEDBENCH_<OPTION>"
    )

    def add(option: str, help: str, **kwargs: Any) -> None:
        name = env_name(option)
        action = group.add_argument(option, env_var=name, help=f"{help} [env {name}]", **kwargs)
        action.include_in_web_ui = action.dest in PER_RUN  # Locust's form shows these

    add_spec_arguments(add, SURFACE, required=False)  # --data is checked at test start
    add(
        "--spec",
        help="a run spec as JSON (what `speedbench run` and sweeps hand Locust); replaces every "
        "run setting above",
    )
    add(
        "--out",
        default="speedbench-locust",
        help="results: headless, the run's cell directory; web UI, one <run id>/ per start",
    )
    add(
        "--reuse-prompts",
        action="store_true",
        help="send prompts this process already sent to the server again (flagged: the "
        "server's prefix cache flatters TTFT); without it a new run starts after them",
    )
    # a cell (`speedbench run`, sweeps) started this Locust and writes the cell's summary and
    # manifest itself, once its engine window is closed: an interrupted cell must have none
    group.add_argument("--cell-owned", action="store_true", help=argparse.SUPPRESS)
    # the master hands its workers the run it started (through Locust's parsed options)
    group.add_argument("--speedbench-run", default="", help=argparse.SUPPRESS)
    add(
        "--metrics-port",
        type=int,
        default=0,
        help="export the harness's live metrics for Prometheus on this port (0 = off)",
    )
    add("--api-key-file", help="file holding the server's API key (or SPEEDBENCH_API_KEY)")
    # a key given as a plain value is refused (speed.check_server), never echoed
    group.add_argument("--api-key", dest="refused_api_key", help=argparse.SUPPRESS)
    add("--ca-bundle", help="PEM of the CA of an https server (TLS is always verified)")


def run_spec(opts: Any, host: str) -> RunSpec:
    """The run's spec: the ``--spec`` file, with any run option given beside it on top, and
    Locust's own host and number of users (Locust owns those two)."""
    values = read_spec(Path(opts.spec)).model_dump() if opts.spec else {}
    values.update(given(opts, SURFACE))
    if not values.get("data_dir"):
        raise ValueError("--data PREPARED_DIR is required (see `speedbench data prepare`)")
    if host:
        values["url"] = host
    if opts.num_users:
        values["concurrency"] = int(opts.num_users)
    return validated(values)
