"""The sweep plan (``speedbench sweep --plan PLAN.yaml``): a strict model, unknown keys are errors.

A plan names the servers (each SD variant paired with its baseline, launched locally from
``servers/*.yaml`` one at a time, or reached by URL), the ISL buckets, the load points (closed-loop
concurrencies and/or open-loop rates with their arrival process), output length, requests per
cell, warm-up, repeats and the SLOs the capacity table is judged by.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from loadgen.analysis.calibration import AA_SUFFIX
from loadgen.client.transport import TransportName
from loadgen.engines import DEFAULT_ENGINE, EngineName, engine_for
from loadgen.load.arrivals import Arrivals
from loadgen.load.point import LoadPoint
from loadgen.servers.variant import ServerVariant, load_variant, yaml_problem
from loadgen.urls import check_url

# YAML's `true` is not 1 and `"8"` is not 8 in a plan: counts are integers written as such.
Count = Annotated[StrictInt, Field(gt=0)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
# A name that becomes a directory under --out (servers, buckets): no separators, no `..`.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def safe_name(value: str, what: str) -> str:
    if not SAFE_NAME.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} names a directory under --out: use letters, digits, '.', '_' and "
            "'-' only, starting with a letter or digit"
        )
    return value


# Settings added after the first plans: left out of the digest while unset (old plans keep theirs).
LATER_FIELDS = (
    "rates", "arrivals", "burstiness", "max_in_flight", "requests_per_user", "transport",
    "poll_interval_s", "seed", "max_duration_s", "order", "order_seed", "aa",
)  # fmt: skip
# How a plan's cells are ordered in time (loadgen/sweep/order.py says what each costs).
CellOrder = Literal["sequential", "interleaved", "random", "interleaved_launches"]
INTERLEAVED_ONLY_URL = ("interleaved", "random")
SERVER_LATER_FIELDS = ("prometheus_url", "replica_metrics_urls")


class PlanError(ValueError):
    pass


class Slos(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft_ms: float | None = Field(default=None, gt=0, description="TTFT limit at `percentile`")
    tpot_ms: float | None = Field(default=None, gt=0, description="TPOT limit at `percentile`")
    percentile: Literal["p50", "p90", "p99"] = "p90"


class PlanServer(BaseModel):
    """A server variant: ``variant`` (servers/*.yaml) launched locally, or a running ``url``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: str | None = Field(default=None, description="name of servers/<variant>.yaml")
    url: str | None = Field(default=None, description="a running endpoint (compose / Kubernetes)")
    name: str | None = Field(default=None, description="label; default: the variant name")
    baseline: str | None = Field(default=None, description="default: the variant's baseline")
    engine: EngineName | None = Field(
        default=None, description=f"default: the variant's engine, else {DEFAULT_ENGINE}"
    )
    speculative: str | None = None
    metrics_url: str | None = Field(
        default=None, description="default: URL + the variant's (else the engine's) metrics path"
    )
    replica_metrics_urls: list[str] = Field(
        default_factory=list,
        description="more replicas' metrics endpoints, summed with `metrics_url` (required then)",
    )
    prometheus_url: str | None = Field(
        default=None, description="read this server's window through this Prometheus (PromQL)"
    )
    no_metrics: StrictBool = False

    @field_validator("name", "variant")
    @classmethod
    def _safe(cls, value: str | None) -> str | None:
        return None if value is None else safe_name(value, "a server name")

    @field_validator("url", "metrics_url", "prometheus_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, "the URL")

    @field_validator("replica_metrics_urls")
    @classmethod
    def _urls(cls, values: list[str]) -> list[str]:
        return [check_url(value, "the URL") for value in values]

    @model_validator(mode="after")
    def _named(self) -> PlanServer:
        if self.variant is None and self.url is None:
            raise ValueError("a server needs `variant` (launched locally) or `url` (running)")
        if self.variant is None and self.name is None:
            raise ValueError("a server given by `url` alone needs a `name`")
        if self.replica_metrics_urls and self.metrics_url is None:
            raise ValueError("`replica_metrics_urls` add to `metrics_url`: give `metrics_url` too")
        return self

    def resolved(self) -> ResolvedServer:
        variant = load_variant(self.variant) if self.variant else None
        return ResolvedServer(
            name=self.name or (variant.name if variant else ""),
            variant=variant,
            url=self.url.rstrip("/") if self.url else None,
            baseline=self.baseline or (variant.baseline if variant else None),
            engine=self.engine or (variant.engine if variant else DEFAULT_ENGINE),
            speculative=self.speculative or (variant.speculative if variant else None),
            metrics_url=self.metrics_url,
            replica_metrics_urls=tuple(self.replica_metrics_urls),
            prometheus_url=self.prometheus_url,
            no_metrics=self.no_metrics,
        )


class ResolvedServer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    variant: ServerVariant | None
    url: str | None
    baseline: str | None
    engine: EngineName
    speculative: str | None
    metrics_url: str | None
    replica_metrics_urls: tuple[str, ...]
    prometheus_url: str | None
    no_metrics: bool

    def metrics_url_at(self, url: str) -> str | None:
        """Where a cell scrapes the server running at ``url``: the plan's ``metrics_url``, else
        the variant's metrics path, else the engine's (a TensorRT-LLM server given by URL serves
        Prometheus text on /prometheus/metrics; its /metrics is JSON iteration stats)."""
        if self.no_metrics:
            return None
        if self.metrics_url:
            return self.metrics_url
        if self.variant is not None:
            return url.rstrip("/") + self.variant.metrics_path
        return engine_for(self.engine).metrics_url(url)


class SweepPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model: str = Field(description="HF id or local path the servers serve (its tokenizer too)")
    served_model_name: str | None = Field(
        default=None, description="`model` field of requests, if any"
    )
    data: str = Field(description="prepared data set directory, relative to the plan file")
    servers: list[PlanServer] = Field(min_length=1)
    buckets: list[str] = Field(min_length=1)
    concurrencies: list[Count] = Field(
        default_factory=list, description="closed-loop cells: users sending back to back"
    )
    rates: list[PositiveFloat] = Field(
        default_factory=list, description="open-loop cells: requests/s on an absolute clock"
    )
    arrivals: Arrivals | None = Field(default=None, description="open loop; default poisson")
    burstiness: PositiveFloat | None = Field(
        default=None, description="gamma arrivals' shape (1 = Poisson, < 1 burstier)"
    )
    max_in_flight: Count | None = Field(
        default=None, description="open loop: cap on requests in flight; default `requests`"
    )
    osl: Count = 256
    requests: Count = Field(description="measured requests per cell")
    requests_per_user: Count | None = Field(
        default=None,
        description="closed loop: at least this many requests per user (c x this), so high "
        "concurrencies are measured past their ramp-up",
    )
    warmup: StrictInt = Field(2, ge=0, description="unmeasured prompts per bucket and server")
    repeats: Count = 1
    slos: Slos = Slos()
    port: Port = 8000
    # Run settings of every cell; unset = the run spec's default (loadgen.runspec).
    request_timeout_s: PositiveFloat | None = None
    transport: TransportName | None = None
    poll_interval_s: PositiveFloat | None = None
    seed: StrictInt | None = None
    max_duration_s: Count | None = None

    order: CellOrder | None = Field(
        default=None,
        description="sequential (default: each server's cells in a block, any drift between "
        "blocks counts as speedup); interleaved (url servers: A B B A cell by cell, no extra "
        "cost); random (url servers: shuffled per cell with `order_seed`); interleaved_launches "
        "(launched variants: one launch per server per repeat, alternating; costs a start-up "
        "and a warm-up per server and repeat)",
    )
    order_seed: StrictInt | None = Field(default=None, description="order: random; default 0")
    aa: bool | None = Field(
        default=None,
        description="A/A calibration: every baseline is also run as its own 'variant' "
        f"(<name>{AA_SUFFIX}); the true speedup is 1, so the report shows this machine's spread",
    )

    @field_validator("buckets")
    @classmethod
    def _safe_buckets(cls, values: list[str]) -> list[str]:
        return [safe_name(value, "a bucket") for value in values]

    @model_validator(mode="after")
    def _order(self) -> SweepPlan:
        launched = [s.variant for s in self.servers if s.url is None]
        if self.order in INTERLEAVED_ONLY_URL and launched:
            raise ValueError(
                f"order {self.order!r} needs every server running (`url:`); {launched} are "
                "launched one at a time: use `order: interleaved_launches` (one launch per "
                "server and repeat) or give their URLs"
            )
        if self.order_seed is not None and self.order != "random":
            raise ValueError("`order_seed` seeds `order: random` only")
        return self

    @model_validator(mode="after")
    def _pairs(self) -> SweepPlan:
        names = [s.name or s.variant for s in self.servers]
        if len(set(names)) != len(names):
            raise ValueError(f"server names must be unique, got {names}")
        return self

    @model_validator(mode="after")
    def _load(self) -> SweepPlan:
        if not self.concurrencies and not self.rates:
            raise ValueError(
                "no load points: give `concurrencies` (closed loop) and/or `rates` (open loop, "
                "requests/s)"
            )
        if not self.rates:
            for name in ("arrivals", "burstiness", "max_in_flight"):
                if getattr(self, name) is not None:
                    raise ValueError(f"`{name}` is an open-loop setting: it needs `rates`")
        if self.burstiness is not None and self.arrivals != "gamma":
            raise ValueError(
                f"`burstiness` shapes gamma arrivals only (arrivals is {self.arrivals!r}): set "
                "`arrivals: gamma` or drop `burstiness`"
            )
        for field in ("concurrencies", "rates"):
            values = getattr(self, field)
            if len(set(values)) != len(values):
                raise ValueError(f"`{field}` repeats a value: {values}")
        return self

    def load_points(self) -> list[LoadPoint]:
        """Closed-loop cells, then open-loop cells, in the plan's order."""
        closed = [LoadPoint.closed(c) for c in self.concurrencies]
        arrivals, shape = self.arrivals or "poisson", self.burstiness or 1.0
        return closed + [LoadPoint.open(r, arrivals, shape) for r in self.rates]

    def users(self, load: LoadPoint) -> int:
        """Locust users of a cell: the concurrency, or (open loop) the cap on requests in flight."""
        if load.concurrency is not None:
            return load.concurrency
        return self.max_in_flight or self.requests

    def resolved_servers(self) -> list[ResolvedServer]:
        servers = [s.resolved() for s in self.servers]
        if self.aa:
            twins = [
                s.model_copy(update={"name": s.name + AA_SUFFIX, "baseline": s.name})
                for s in servers
                if s.baseline is None
            ]
            if not twins:
                raise PlanError("`aa: true` pairs each baseline with itself: the plan has none")
            servers += twins
        names = {s.name for s in servers}
        for s in servers:
            if s.baseline is not None and s.baseline not in names:
                raise PlanError(
                    f"server {s.name!r} is compared with baseline {s.baseline!r}, which is not in "
                    f"the plan: add it to `servers` (have {sorted(names)})"
                )
        return servers

    def requests_for(self, load: LoadPoint) -> int:
        if load.concurrency is None or self.requests_per_user is None:
            return self.requests
        return max(self.requests, self.requests_per_user * load.concurrency)

    def prompt_start(self, repeat: int, load_index: int) -> int:
        """First prompt of a cell: warm-up first, then disjoint slices, the same on every server."""
        sizes = [self.requests_for(p) for p in self.load_points()]
        return self.warmup + repeat * sum(sizes) + sum(sizes[:load_index])

    def prompts_per_bucket(self) -> int:
        return self.prompt_start(self.repeats, 0)

    def digest(self) -> str:
        unset = {f for f in LATER_FIELDS if getattr(self, f) in (None, [])}
        dump = self.model_dump(mode="json", exclude=unset)
        if self.request_timeout_s is None:
            dump["request_timeout_s"] = 600.0  # its default before the run spec held it
        for server in dump["servers"]:
            for field in SERVER_LATER_FIELDS:
                if server[field] in (None, []):
                    del server[field]
        canonical = json.dumps(dump, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_plan(path: Path) -> SweepPlan:
    if not path.is_file():
        raise PlanError(f"plan file {path} does not exist")
    try:
        return SweepPlan.model_validate(yaml.safe_load(path.read_text()))
    except yaml.YAMLError as exc:
        raise PlanError(
            f"{path}: not valid YAML ({yaml_problem(exc)}): fix the syntax "
            "(see docs/plans/ for complete examples)"
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = f"unknown key; allowed here: {', '.join(_allowed(first['loc']))}"
        raise PlanError(
            f"{path}: field {where!r}: {msg} ({exc.error_count()} problem(s) in all; "
            "see docs/plans/ for complete examples)"
        ) from None


def _allowed(loc: tuple[int | str, ...]) -> list[str]:
    """The keys of the mapping an unknown key was found in."""
    parents = [p for p in loc[:-1] if isinstance(p, str)]
    models: dict[str, type[BaseModel]] = {"servers": PlanServer, "slos": Slos}
    return sorted(models.get(parents[-1] if parents else "", SweepPlan).model_fields)
