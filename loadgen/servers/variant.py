"""Server variants declared in ``servers/*.yaml``: one source for launchers, compose and Helm.

What a variant leaves unset about its engine (port, metrics path) is its engine's registry entry's
(``loadgen.engines``), so a variant file only says how it differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loadgen.engines import ENGINES, EngineName

REPO_SERVERS_DIR = Path(__file__).resolve().parents[2] / "servers"


class ServerVariant(BaseModel):
    """One engine configuration. An SD variant names the baseline it is compared with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    engine: EngineName
    description: str = ""
    speculative: str | None = Field(None, description="SD method, null for a baseline")
    baseline: str | None = Field(None, description="the variant this SD variant is compared with")
    model: str = Field(description="HF id or path; the CLI's --model overrides it")
    args: list[str] = Field(default_factory=list, description="engine arguments after the model")
    env: dict[str, str] = Field(default_factory=dict)
    preload_libs: list[str] = Field(
        default_factory=list, description="shared libraries put in LD_PRELOAD when found"
    )
    port: int = Field(description="default: the engine's port")
    health_path: str = "/health"
    metrics_path: str = Field(description="Prometheus text; default: the engine's path")
    startup_timeout_s: float = 600.0
    gpus: int = 0
    image: str = Field(description="container image with an explicit version tag (or digest)")
    build_target: str | None = Field(
        None, description="stage of docker/Dockerfile that builds `image` here (None: pulled)"
    )
    entrypoint: list[str] = Field(
        min_length=1,
        description="the server program; `python`/`python3` is this interpreter locally",
    )
    engine_config: dict[str, Any] | None = Field(
        None, description="engine config file content, mounted and passed with the engine's flag"
    )
    draft_model: str | None = Field(None, description="HF id of the SD draft model, if any")

    @model_validator(mode="before")
    @classmethod
    def _engine_defaults(cls, data: Any) -> Any:
        """Unset engine settings come from the registry entry (an unknown engine fails below)."""
        if isinstance(data, dict) and data.get("engine") in ENGINES:
            engine = ENGINES[data["engine"]]
            return {"port": engine.default_port, "metrics_path": engine.metrics_path, **data}
        return data

    @field_validator("image")
    @classmethod
    def _pinned(cls, image: str) -> str:
        name, _, tag = image.rpartition("/")[2].partition(":")
        if "@sha256:" not in image and (not tag or tag == "latest"):
            raise ValueError(
                f"image {image!r} must be pinned to an explicit version tag, e.g. {name}:v1.2.3"
            )
        return image

    @model_validator(mode="after")
    def _sd_is_declared(self) -> ServerVariant:
        if (self.speculative is None) != (self.baseline is None):
            raise ValueError(
                "an SD variant sets both `speculative` and `baseline`; a baseline neither"
            )
        if self.draft_model and self.speculative is None:
            raise ValueError("`draft_model` is set but `speculative` is null")
        return self


class VariantError(ValueError):
    pass


def load_variant(name: str, directory: Path = REPO_SERVERS_DIR) -> ServerVariant:
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.yaml"))
        raise VariantError(
            f"unknown server variant {name!r}: {path} does not exist; known: {known}"
        )
    return parse_variant_file(path)


def parse_variant_file(path: Path) -> ServerVariant:
    try:
        variant = ServerVariant.model_validate(yaml.safe_load(path.read_text()))
    except yaml.YAMLError as exc:
        raise VariantError(
            f"{path}: not valid YAML ({yaml_problem(exc)}): fix the syntax"
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise VariantError(f"{path}: field {where!r}: {first['msg']}") from None
    if variant.name != path.stem:
        raise VariantError(f"{path}: name {variant.name!r} must equal the file name {path.stem!r}")
    return variant


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what the YAML parser found, and where."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return problem + (f" at line {mark.line + 1}, column {mark.column + 1}" if mark else "")


def all_variants(directory: Path = REPO_SERVERS_DIR) -> list[ServerVariant]:
    return [parse_variant_file(p) for p in sorted(directory.glob("*.yaml"))]
