"""The engine registry is complete, and every place that names engines derives from it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import get_args

import pytest

from loadgen.engines import ENGINE_NAMES, ENGINES, Engine, engine_for
from loadgen.servers.variant import ServerVariant, all_variants
from loadgen.sweep.plan_server import PlanServer, ResolvedServer

LOADGEN = Path(__file__).resolve().parents[2] / "loadgen"


@pytest.mark.parametrize("engine", ENGINES.values(), ids=ENGINES.keys())
def test_every_engine_has_a_complete_entry(engine: Engine) -> None:
    assert engine.adapter.engine == engine.name
    sd_source = engine.adapter.sd_counters or (engine.adapter.gauges and engine.poll_path)
    assert sd_source and engine.adapter.tokens.generation  # SD figures and the cross-check
    assert engine.metrics_path.startswith("/")
    assert engine.poll_path is None or engine.poll_path.startswith("/")
    assert engine.api.models_path.startswith("/") and engine.api.source
    assert engine.api.tokenize is None or engine.api.tokenize.path.startswith("/")
    assert engine.cli.host_flag.startswith("--") and engine.cli.port_flag.startswith("--")
    assert 0 < engine.default_port < 65536
    assert engine.metrics_url("http://h:1/") == "http://h:1" + engine.metrics_path


def test_metrics_paths_are_the_engines_own() -> None:
    assert (engine_for("trtllm").metrics_path, engine_for("trtllm").poll_path) == (
        "/prometheus/metrics",
        "/metrics",
    )
    assert engine_for("vllm").metrics_path == engine_for("sglang").metrics_path == "/metrics"


def test_names_types_and_choices_derive_from_the_registry() -> None:
    assert set(ENGINE_NAMES) == set(ENGINES)
    assert all(e.adapter.engine == name for name, e in ENGINES.items())
    assert get_args(ServerVariant.model_fields["engine"].annotation) == ENGINE_NAMES
    assert get_args(ResolvedServer.model_fields["engine"].annotation) == ENGINE_NAMES
    plan_engine = PlanServer.model_fields["engine"].annotation
    assert ENGINE_NAMES in [get_args(a) for a in get_args(plan_engine)]


def _engine_choices(parser: argparse.ArgumentParser) -> tuple[str, ...]:
    [action] = [a for a in parser._actions if "--engine" in a.option_strings]
    assert action.choices is not None
    return tuple(action.choices)


def test_engine_options_offer_the_registry_s_engines() -> None:
    from loadgen.cli import build_parser
    from loadgen.swarm.options import add_arguments

    [verbs] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert _engine_choices(verbs.choices["run"]) == ENGINE_NAMES

    import configargparse

    locust = configargparse.ArgumentParser()
    add_arguments(locust)
    assert _engine_choices(locust) == ENGINE_NAMES


def test_a_variant_without_port_or_metrics_path_takes_its_engine_s() -> None:
    base = {"name": "x", "model": "m", "image": "i:1", "entrypoint": ["trtllm-serve"]}
    trt = ServerVariant.model_validate({**base, "engine": "trtllm"})
    assert (trt.port, trt.metrics_path) == (8000, "/prometheus/metrics")
    sglang = ServerVariant.model_validate({**base, "engine": "sglang", "port": 8001})
    assert (sglang.port, sglang.metrics_path) == (8001, "/metrics")
    for variant in all_variants():
        assert variant.metrics_path == engine_for(variant.engine).metrics_path, variant.name


def test_an_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'tgi'.*\['sglang', 'trtllm', 'vllm'\]"):
        engine_for("tgi")


def test_no_module_branches_on_an_engine_name() -> None:
    """Engine differences are data in the registry and the adapters, never a comparison."""
    pattern = re.compile(r"""engine\s*(==|!=|in)\s*[("'\[]""")
    found = [
        f"{path.relative_to(LOADGEN)}:{n}"
        for path in LOADGEN.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
