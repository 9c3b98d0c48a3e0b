"""The speedbench options of the Locust file, on Locust's own parser (so ``locust --help`` lists
them), each also read from ``SPEEDBENCH_<OPTION>`` (e.g. ``SPEEDBENCH_LOAD=open``): the Helm chart
and compose files set these names."""

from __future__ import annotations

import argparse
from typing import Any

from loadgen.dispatch import TRANSPORTS
from loadgen.engines import DEFAULT_ENGINE, ENGINE_NAMES
from loadgen.swarm.arrivals import ARRIVALS


def env_name(option: str) -> str:
    return "SPEEDBENCH_" + option.lstrip("-").upper().replace("-", "_")


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group(
        "speedbench", "SPEED-Bench load; every option also reads SPEEDBENCH_<OPTION>"
    )

    def add(option: str, help: str, **kwargs: Any) -> None:
        name = env_name(option)
        group.add_argument(option, env_var=name, help=f"{help} [env {name}]", **kwargs)

    add("--data", help="prepared data set directory (`speedbench data prepare`)")
    add("--bucket", default="1k", help="ISL bucket of the prepared set")
    add("--osl", type=int, default=256, help="output tokens per request (fixed, ignore_eos)")
    add("--requests", type=int, default=0, help="measured requests; 0 = the rest of the bucket")
    add("--warmup", type=int, default=0, help="unmeasured requests sent first (own prompts)")
    add("--prompt-start", type=int, default=0, help="index of the first prompt of the bucket")
    add(
        "--load",
        choices=("closed", "open"),
        default="closed",
        help="closed: each user sends when its last request ended (concurrency = -u); open: "
        "requests leave on an absolute clock at --rate, -u caps requests in flight",
    )
    add("--rate", type=float, default=0.0, help="open loop: requests/s of the whole run")
    add("--arrivals", choices=ARRIVALS, default="poisson", help="open loop: arrival process")
    add(
        "--burstiness",
        type=float,
        default=1.0,
        help="gamma arrivals: shape (1 = Poisson, < 1 burstier, > 1 more regular)",
    )
    add("--seed", type=int, default=0, help="seed of the open-loop schedule")
    add("--out", default="speedbench-locust", help="directory for requests.jsonl")
    add("--model", help="model name to send (when the server serves several)")
    add("--metrics-url", help="Prometheus /metrics to scrape before and after the run")
    add(
        "--metrics-port",
        type=int,
        default=0,
        help="export the harness's live metrics for Prometheus on this port (0 = off)",
    )
    add(
        "--engine",
        choices=ENGINE_NAMES,
        default=DEFAULT_ENGINE,
        help="engine API the preflight asks",
    )
    add("--api-key-file", help="file holding the server's API key (or SPEEDBENCH_API_KEY)")
    # a key given as a plain value is refused (speed.check_server), never echoed
    group.add_argument("--api-key", dest="refused_api_key", help=argparse.SUPPRESS)
    add("--ca-bundle", help="PEM of the CA of an https server (TLS is always verified)")
    add(
        "--transport",
        choices=TRANSPORTS,
        default="auto",
        help="HTTP client: fast (gevent socket + geventhttpclient's parser, lines stamped with "
        "the kernel's receive time: the least client-side error; plain http) or requests "
        "(urllib3; https too); auto = fast for http, requests for https",
    )
    add(
        "--request-timeout",
        type=float,
        default=600.0,
        help="seconds before one request counts as timed out",
    )
