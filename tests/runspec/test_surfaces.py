"""Every surface that sets a run setting is checked against the run spec: `speedbench run`, the
Locust options (and their SPEEDBENCH_* variables), sweep plan keys, compose's load service and
the Helm chart's plan. A setting a surface lacks must be listed in ``ABSENT`` with its reason; a
setting a surface has that the spec lacks fails here."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import configargparse
import pytest
import yaml

from loadgen.cell import metrics_window
from loadgen.cli import build_parser
from loadgen.runspec import RunSpec
from loadgen.runspec.flags import deploy_fields, env_name, flag_of, spec_from_flags
from loadgen.runspec.model import ABSENT
from loadgen.servers.compose import COMPOSE_FILE
from loadgen.swarm import options
from loadgen.sweep.plan import SweepPlan
from loadgen.sweep.plan_server import PlanServer
from loadgen.sweep.runner import cell_spec, planned_cells
from tests.deploy.tools import VALUES_DIR, manifests, render_chart

SPEC = set(RunSpec.model_fields)
# Options of a surface that are not run settings, with the reason.
NOT_SETTINGS = {
    "run": {"out": "where the cell is written", "api_key_file": "a secret's path, never stored",
            "ca_bundle": "TLS trust of this machine", "help": "argparse",
            "api_key": "refuses a key value"},
    "locust": {"spec": "the whole spec as one file", "out": "where records are written",
               "metrics_port": "the harness's own exporter", "api_key_file": "a secret's path",
               "ca_bundle": "TLS trust of this machine", "refused_api_key": "refuses a key value",
               "reuse_prompts": "this process's prompt ledger, not the run's",
               "speedbench_run": "the master's hand-over to its workers",
               "cell_owned": "a cell writes the summary itself"},
    "plan": {"name": "the plan's label", "data": "the data set, relative to the plan file",
             "servers": "the servers, each with its access and metrics",
             "buckets": "the grid's ISL axis", "concurrencies": "the grid's closed-loop axis",
             "rates": "the grid's open-loop axis", "max_in_flight": "open-loop cap (concurrency)",
             "requests_per_user": "scales `requests` with concurrency", "repeats": "repeats",
             "slos": "the capacity table's limits", "port": "launched variants' port",
             "served_model_name": "the spec's `model`", "order": "the order of cells (drift)",
             "order_seed": "seed of `order: random`", "aa": "A/A calibration twins",
             "rate_sweep": "the grid's open-loop axis, chosen from the saturation"},
}  # fmt: skip


def run_dests() -> set[str]:
    run = build_parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    return {a.dest for a in run._actions}


def locust_dests() -> dict[str, str | None]:
    parser = configargparse.ArgumentParser()
    options.add_arguments(parser)
    return {a.dest: a.env_var for a in parser._actions if a.dest != "help"}  # type: ignore[attr-defined]


def test_speedbench_run_has_a_flag_for_every_setting_and_nothing_else() -> None:
    assert run_dests() == SPEC | set(NOT_SETTINGS["run"])


def test_locust_options_are_the_settings_but_those_locust_owns() -> None:
    dests = locust_dests()
    assert set(dests) == (SPEC - set(ABSENT["locust"])) | set(NOT_SETTINGS["locust"])
    for name in SPEC - set(ABSENT["locust"]):
        assert dests[name] == env_name(flag_of(name))


def test_sweep_plan_keys_are_settings_or_grid_keys() -> None:
    plan_keys = set(SweepPlan.model_fields)
    assert plan_keys - SPEC == set(NOT_SETTINGS["plan"])
    for name in SPEC - plan_keys:
        assert name in ABSENT["plan"], f"{name}: not in the plan and no reason given"
    per_server = set(PlanServer.model_fields)
    for name, reason in ABSENT["plan"].items():
        if "per server" in reason:  # `servers[].metrics_url` + ... : every key named exists
            named = [w.strip("`(),+").removeprefix("servers[].") for w in reason.split()]
            assert any(n in per_server for n in named), (name, reason)


def compose_load_env() -> dict[str, str]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    return dict(document["services"]["loadgen"]["environment"])


def test_compose_and_helm_set_the_deploy_settings_which_locust_reads() -> None:
    wanted = {env_name(flag_of(name)) for name in deploy_fields()}
    assert set(deploy_fields()) == SPEC - set(ABSENT["deploy"])
    assert set(compose_load_env()) - {"SPEEDBENCH_OUT"} == wanted
    docs = manifests(render_chart(yaml.safe_load((VALUES_DIR / "vllm-cpu-ngram.yaml").read_text())))
    (plan,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "sb-plan"]
    assert set(plan["data"]) == wanted
    assert wanted <= set(locust_dests().values())  # every variable is read by an option


@pytest.mark.parametrize("surface", ["run", "locust"])
def test_a_bad_value_is_refused_naming_its_flag(surface: str) -> None:
    ns = argparse.Namespace(data_dir="d", osl=0, request_timeout_s=-1.0)
    fixed: dict[str, Any] = {"url": "http://h"} if surface == "locust" else {}
    if surface == "run":
        ns.url = "http://h"
    with pytest.raises(ValueError, match=r"--osl: .*greater than 0.*--request-timeout"):
        spec_from_flags(ns, surface, **fixed)


def test_rate_alone_means_open_loop_and_shapes_without_a_rate_are_refused() -> None:
    args = build_parser().parse_args(["run", "--url", "http://u", "--data", "d", "--out", "o"])
    assert not spec_from_flags(args, "run").load.is_open
    args.rate = 2.0
    assert spec_from_flags(args, "run").load.label == "rate=2.0/s"
    args.rate, args.arrivals = None, "gamma"
    with pytest.raises(ValueError, match="give --rate"):
        spec_from_flags(args, "run")


def test_the_spec_round_trips_through_json(tmp_path: Path) -> None:
    spec = RunSpec(
        url="http://h", data_dir=tmp_path, rate=3.0, metrics_urls=("http://a/m", "http://b/m")
    )
    assert RunSpec.model_validate_json(spec.model_dump_json()) == spec


def test_every_plan_setting_reaches_the_cells_spec(tmp_path: Path) -> None:
    server = {
        "name": "s",
        "url": "http://h",
        "engine": "trtllm",
        "prometheus_url": "http://p",
        "metrics_url": "http://h/m",
        "replica_metrics_urls": ["http://h2/m"],
    }
    plan = SweepPlan.model_validate(
        {"name": "p", "model": "m", "data": "d", "servers": [server], "buckets": ["2k"],
         "concurrencies": [3], "requests": 5, "osl": 7, "warmup": 1, "transport": "fast",
         "poll_interval_s": 0.5, "seed": 3, "max_duration_s": 100, "request_timeout_s": 30,
         "served_model_name": "served"}
    )  # fmt: skip
    (resolved,) = plan.resolved_servers()
    (cell,) = planned_cells(plan)
    spec = cell_spec(plan, resolved, "http://h", tmp_path, cell)
    assert spec == RunSpec(
        url="http://h", server="s", engine="trtllm", model="served", data_dir=tmp_path,
        bucket="2k", prompt_start=1, warmup=0, requests=5, osl=7, concurrency=3,
        metrics_urls=("http://h/m", "http://h2/m"), prometheus_url="http://p",
        poll_interval_s=0.5, transport="fast", seed=3, max_duration_s=100, request_timeout_s=30,
    )  # fmt: skip
    bare = SweepPlan.model_validate({**plan.model_dump(), "servers": [{"name": "t", "url": "http://h",
                                     "engine": "trtllm"}]})  # fmt: skip
    (t,) = bare.resolved_servers()
    # a TensorRT-LLM server given by URL alone: its Prometheus text, not its JSON stats
    window = metrics_window(cell_spec(bare, t, "http://h", tmp_path, cell))
    assert window.metrics_urls == ("http://h/prometheus/metrics",)
