"""The run spec: every setting of one measured run (a cell), declared once with its default, its
validation and its help text.

``speedbench run`` flags and the Locust file's options (with their ``SPEEDBENCH_*`` variables) are
derived from these fields (``loadgen.runspec.flags``); a sweep builds one spec per cell from its
plan; a cell hands Locust the spec serialized as JSON, never an argv re-parsed on the other side;
compose and the Helm chart set a subset of the same variables, checked against this model by
tests. A setting that exists here and not on some surface is listed in ``ABSENT`` with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from loadgen.client.priority import ClientPriority
from loadgen.client.transport import TransportName
from loadgen.engines import DEFAULT_ENGINE, EngineName
from loadgen.load.arrivals import Arrivals
from loadgen.load.point import LoadPoint
from loadgen.urls import check_url

DEFAULT_WARMUP = 2  # cold first requests (1.4 s TTFT on a fresh ngram server) are never measured


def flag(name: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: the command-line flag of a setting (``--data`` for ``data_dir``)."""
    return {"flag": name, **extra}


class RunSpec(BaseModel):
    """One run against one server: what to send, how, and where the engine's figures are read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the server and how it is labelled in results
    url: str = Field(
        description="base URL of the OpenAI-compatible server (Locust: --host)",
        json_schema_extra=flag("--url"),
    )
    server: str = Field(
        "server",
        description="label of this server variant in results",
        json_schema_extra=flag("--server-name"),
    )
    baseline: str | None = Field(
        None, description="label of the baseline this variant is compared with"
    )
    engine: EngineName = Field(
        DEFAULT_ENGINE, description="engine: its metrics adapter and the API the preflight asks"
    )
    model: str | None = Field(
        None, description="model name to send, when the server serves several"
    )
    # the prompts
    data_dir: Path = Field(
        description="prepared data set directory (`speedbench data prepare`)",
        json_schema_extra=flag("--data"),
    )
    bucket: str = Field("1k", description="ISL bucket of the prepared set")
    prompt_start: NonNegativeInt = Field(0, description="index of the first prompt of the bucket")
    warmup: NonNegativeInt = Field(
        DEFAULT_WARMUP,
        description="unmeasured requests sent first, on their own prompts, before the "
        "measured window opens",
    )
    requests: NonNegativeInt = Field(0, description="measured requests; 0 = the rest of the bucket")
    osl: PositiveInt = Field(256, description="output tokens per request (fixed, ignore_eos)")
    # the load
    concurrency: PositiveInt = Field(
        1,
        description="closed loop: users sending back to back; open loop: the cap on requests in "
        "flight (Locust: -u)",
    )
    rate: PositiveFloat | None = Field(
        None,
        description="open loop: requests/s on an absolute clock (set = open loop; latency counts "
        "from the intended send)",
    )
    arrivals: Arrivals = Field("poisson", description="open loop: arrival process")
    burstiness: PositiveFloat = Field(
        1.0, description="gamma arrivals: shape (1 = Poisson, < 1 burstier, > 1 more regular)"
    )
    seed: int = Field(0, description="seed of the open-loop arrival schedule")
    # the engine's metrics
    metrics_urls: tuple[str, ...] = Field(
        (),
        description="engine metrics endpoint; repeat once per replica (summed); default: URL + "
        "the engine's metrics path",
        json_schema_extra=flag("--metrics-url", repeat=True),
    )
    no_metrics: bool = Field(False, description="do not read engine metrics")
    prometheus_url: str | None = Field(
        None,
        description="read the window's counters with PromQL increase() from this Prometheus",
    )
    poll_interval_s: PositiveFloat = Field(
        1.0,
        description="seconds between metric polls during the run (SGLang gauges, TRT-LLM stats)",
        json_schema_extra=flag("--poll-interval"),
    )
    # the client
    transport: TransportName = Field(
        "auto",
        description="HTTP client: fast (plain http, kernel receive stamps: the least "
        "client-side error), requests (https too) or auto (fast for http, requests for https)",
    )
    client_priority: ClientPriority = Field(
        "realtime",
        description="the load generator's CPU scheduling: realtime (SCHED_FIFO where permitted: "
        "its reads are not delayed by the engine's busy cores) or normal",
    )
    request_timeout_s: PositiveFloat = Field(
        600.0,
        description="seconds before one request counts as timed out",
        json_schema_extra=flag("--request-timeout"),
    )
    max_duration_s: PositiveInt = Field(
        3600,
        description="seconds after which the run stops, measured or not (Locust: -t)",
        json_schema_extra=flag("--max-duration"),
    )

    @field_validator("url", "prometheus_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, "the URL")

    @field_validator("metrics_urls")
    @classmethod
    def _metrics_urls(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_url(value, "the URL") for value in values)

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        if self.rate is None and (self.arrivals != "poisson" or self.burstiness != 1.0):
            raise ValueError(
                "--arrivals / --burstiness shape an open loop: give --rate (requests/s) too"
            )
        if self.burstiness != 1.0 and self.arrivals != "gamma":
            raise ValueError("--burstiness is the shape of gamma arrivals: add --arrivals gamma")
        if self.no_metrics and (self.metrics_urls or self.prometheus_url):
            raise ValueError("--no-metrics with a metrics source: drop one of them")
        return self

    @property
    def load(self) -> LoadPoint:
        if self.rate is None:
            return LoadPoint.closed(self.concurrency)
        return LoadPoint.open(self.rate, self.arrivals, self.burstiness)

    def measured(self) -> RunSpec:
        """The spec of the measured part once the warm-up is done: its prompts follow it."""
        return self.model_copy(
            update={"prompt_start": self.prompt_start + self.warmup, "warmup": 0}
        )


# Settings deliberately missing from a surface, with the reason (tests check every surface
# against the model and this table).
ABSENT: dict[str, dict[str, str]] = {
    "locust": {
        "url": "Locust's own --host",
        "concurrency": "Locust's own -u (users)",
        "max_duration_s": "Locust's own -t (run time)",
    },
    "plan": {
        "url": "per server (`servers[].url`), or the launched variant's address",
        "server": "per server (`servers[].name`)",
        "baseline": "per server (`servers[].baseline`)",
        "engine": "per server (`servers[].engine`)",
        "model": "`served_model_name` (plan-wide: every server serves the same model)",
        "data_dir": "`data` (relative to the plan file)",
        "bucket": "`buckets` (the grid's axis)",
        "prompt_start": "derived: each cell gets disjoint prompts (warm-up, repeats, load points)",
        "requests": "`requests` / `requests_per_user` (per load point)",
        "concurrency": "`concurrencies` (the grid's axis), or `max_in_flight` for rates",
        "rate": "`rates` (the grid's axis)",
        "metrics_urls": "per server (`servers[].metrics_url` + `servers[].replica_metrics_urls`)",
        "no_metrics": "per server (`servers[].no_metrics`)",
        "prometheus_url": "per server (`servers[].prometheus_url`)",
    },
    "deploy": {  # compose's load service and the Helm chart's plan ConfigMap
        "url": "the service's address (compose SPEEDBENCH_HOST, Helm target)",
        "server": "label only; set SPEEDBENCH_SERVER_NAME by hand",
        "baseline": "label only; set SPEEDBENCH_BASELINE by hand",
        "concurrency": "Locust users (compose SPEEDBENCH_USERS, Helm users)",
        "prompt_start": "a deployment measures a bucket from its first prompt",
        "rate": "open loop on demand: set SPEEDBENCH_RATE by hand",
        "arrivals": "open loop on demand: set SPEEDBENCH_ARRIVALS by hand",
        "burstiness": "open loop on demand: set SPEEDBENCH_BURSTINESS by hand",
        "seed": "open loop on demand: set SPEEDBENCH_SEED by hand",
        "metrics_urls": "the master reads the engine; set SPEEDBENCH_METRICS_URL by hand",
        "no_metrics": "engine metrics on by default",
        "prometheus_url": "set SPEEDBENCH_PROMETHEUS_URL by hand",
        "poll_interval_s": "default suits every engine",
        "max_duration_s": "Locust's own -t (compose SPEEDBENCH_RUN_TIME)",
        "client_priority": "its containers lack CAP_SYS_NICE (real-time is refused there, and "
        "the cell says so); set SPEEDBENCH_CLIENT_PRIORITY by hand",
    },
}
