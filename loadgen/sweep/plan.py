"""The sweep plan (``speedbench sweep --plan PLAN.yaml``): a strict model, unknown keys are errors.

A plan names the servers (each SD variant paired with its baseline, launched locally from
``servers/*.yaml`` one at a time, or reached by URL), the ISL buckets, the load points (closed-loop
concurrencies and/or open-loop rates with their arrival process), output length, requests per
cell, warm-up, repeats and the SLOs the capacity table is judged by.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from loadgen.analysis.calibration import AA_SUFFIX
from loadgen.client.priority import ClientPriority
from loadgen.client.transport import TransportName
from loadgen.load.arrivals import Arrivals
from loadgen.load.point import LoadPoint
from loadgen.servers.variant import yaml_problem
from loadgen.sweep.plan_server import (
    SERVER_LATER_FIELDS,
    Count,
    PlanServer,
    Port,
    ResolvedServer,
    safe_name,
)

# Settings added after the first plans: left out of the digest while unset (old plans keep theirs).
LATER_FIELDS = (
    "rates", "arrivals", "burstiness", "max_in_flight", "requests_per_user", "transport",
    "poll_interval_s", "seed", "max_duration_s", "order", "order_seed", "aa", "rate_sweep",
    "client_priority",
)  # fmt: skip
# How a plan's cells are ordered in time (loadgen/sweep/order.py says what each costs).
CellOrder = Literal["sequential", "interleaved", "random", "interleaved_launches"]
INTERLEAVED_ONLY_URL = ("interleaved", "random")


class PlanError(ValueError):
    pass


class Slos(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft_ms: float | None = Field(default=None, gt=0, description="TTFT limit at `percentile`")
    tpot_ms: float | None = Field(default=None, gt=0, description="TPOT limit at `percentile`")
    percentile: Literal["p50", "p90", "p99"] = "p90"


class RateSweep(BaseModel):
    """Open-loop rates chosen after the closed-loop cells: ``points`` rates spread evenly from
    ``low`` to ``high`` times the saturation throughput (the most requests/s any closed-loop cell
    of the sweep measured)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: StrictInt = Field(ge=2, description="open-loop rates to measure")
    low: float = Field(0.1, gt=0, lt=1, description="lowest rate, a fraction of saturation")
    high: float = Field(0.9, gt=0, le=1, description="highest rate, a fraction of saturation")

    @model_validator(mode="after")
    def _span(self) -> RateSweep:
        if self.low >= self.high:
            raise ValueError(f"`low` ({self.low}) must be below `high` ({self.high})")
        return self


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
    rate_sweep: RateSweep | None = Field(
        default=None,
        description="open-loop rates found by the sweep: first the closed-loop cells measure the "
        "saturation throughput, then `points` rates below it (instead of `rates`)",
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
    client_priority: ClientPriority | None = None
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
        if not self.concurrencies and not self.rates and self.rate_sweep is None:
            raise ValueError(
                "no load points: give `concurrencies` (closed loop) and/or `rates` (open loop, "
                "requests/s)"
            )
        if self.rate_sweep is not None:
            if self.rates:
                raise ValueError("give `rates` or `rate_sweep`, not both")
            if not self.concurrencies:
                raise ValueError(
                    "`rate_sweep` measures the saturation throughput with the closed-loop cells: "
                    "it needs `concurrencies` (include a high one)"
                )
        if not self.rates and self.rate_sweep is None:
            for name in ("arrivals", "burstiness", "max_in_flight"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"`{name}` is an open-loop setting: it needs `rates` or `rate_sweep`"
                    )
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
    models: dict[str, type[BaseModel]] = {
        "servers": PlanServer, "slos": Slos, "rate_sweep": RateSweep
    }  # fmt: skip
    return sorted(models.get(parents[-1] if parents else "", SweepPlan).model_fields)
