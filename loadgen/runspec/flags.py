"""Command-line flags derived from the run spec: ``speedbench run`` and the Locust file's options.

Every flag's name, type, choices and help come from the ``RunSpec`` field; its default stays in
the model (argparse's default is None, so the spec tells a flag left out from one given), and a
bad value is refused by the model's own validation, named by its flag.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from loadgen.runspec.model import ABSENT, RunSpec

AddOption = Callable[..., Any]  # parser.add_argument, or a wrapper adding env_var


def flag_of(name: str) -> str:
    extra = RunSpec.model_fields[name].json_schema_extra
    if isinstance(extra, dict) and "flag" in extra:
        return str(extra["flag"])
    return "--" + name.replace("_", "-")


def _repeats(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("repeat"))


def _value_type(annotation: Any) -> Any:
    """``X | None`` -> X (a flag left out is None anyway)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner
    return annotation


def argument_kwargs(name: str) -> dict[str, Any]:
    """argparse keyword arguments of one setting."""
    field = RunSpec.model_fields[name]
    kind = _value_type(field.annotation)
    shown = "" if field.is_required() else f" (default: {_shown(field.default)})"
    kwargs: dict[str, Any] = {"dest": name, "default": None, "help": f"{field.description}{shown}"}
    if kind is bool:
        return {**kwargs, "action": "store_true"}
    if _repeats(field):
        return {**kwargs, "action": "append"}
    if typing.get_origin(kind) is typing.Literal:
        return {**kwargs, "choices": typing.get_args(kind)}
    return {**kwargs, "type": kind if kind in (int, float) else str}


def _shown(default: Any) -> str:
    return "none" if default in (None, ()) else str(default)


def surface_fields(surface: str) -> list[str]:
    """The settings a surface (``run``, ``locust``) declares as flags."""
    absent = ABSENT.get(surface, {})
    return [name for name in RunSpec.model_fields if name not in absent]


def deploy_fields() -> list[str]:
    """The settings compose's load service and the Helm chart's plan set."""
    return surface_fields("deploy")


def env_name(flag: str) -> str:
    """``--request-timeout`` -> ``SPEEDBENCH_REQUEST_TIMEOUT`` (Locust options read these)."""
    return "SPEEDBENCH_" + flag.lstrip("-").upper().replace("-", "_")


def add_run_arguments(add: AddOption, surface: str, required: bool = True) -> None:
    """One flag per setting of the surface; ``required`` marks settings without a default."""
    for name in surface_fields(surface):
        kwargs = argument_kwargs(name)
        if required and RunSpec.model_fields[name].is_required():
            kwargs["required"] = True
        add(flag_of(name), **kwargs)


def given(namespace: argparse.Namespace, surface: str) -> Iterator[tuple[str, Any]]:
    for name in surface_fields(surface):
        value = getattr(namespace, name, None)
        # "": a variable set empty, as compose's defaults do (0 is a value: `--osl 0` is refused)
        if value is not None and value is not False and value != "":
            yield name, tuple(value) if isinstance(value, list) else value


def spec_from_flags(namespace: argparse.Namespace, surface: str, **fixed: Any) -> RunSpec:
    """The spec of the flags given (and ``fixed`` settings the surface owns, e.g. Locust's
    host and users); a bad value raises ValueError naming its flag and what is expected."""
    return validated({**dict(given(namespace, surface)), **fixed})


def validated(values: dict[str, Any]) -> RunSpec:
    try:
        return RunSpec.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = str(error["loc"][0]) if error["loc"] else ""
            name = flag_of(where) if where in RunSpec.model_fields else "settings"
            problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise ValueError("; ".join(problems)) from None


def read_spec(path: Path) -> RunSpec:
    """A spec a cell wrote for Locust (``--spec``)."""
    try:
        return RunSpec.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise ValueError(f"{path}: not a valid run spec: {exc.errors()[0]['msg']}") from None
