"""A plan's server: launched from ``servers/*.yaml`` (``variant``) or reached by ``url``, with
its baseline, engine and where its metrics are read; and the strict value types plans use."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from loadgen.engines import DEFAULT_ENGINE, EngineName, engine_for
from loadgen.servers.variant import ServerVariant, load_variant
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


# Server keys added after the first plans: left out of the digest while unset.
SERVER_LATER_FIELDS = ("prometheus_url", "replica_metrics_urls")


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
