"""The shipped Grafana dashboard: valid JSON, every metric it queries is declared by the live
exporter or an engine adapter (so a renamed metric breaks this test, not a dashboard in
production), every exporter metric is plotted, and every query parses in a REAL Prometheus."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from loadgen.engines import ENGINES
from loadgen.metrics import exporter
from loadgen.metrics.promql import PromQL
from tests.prometheus_server import running_prometheus

DASHBOARD = Path(__file__).parents[2] / "docker" / "grafana" / "speedbench-dashboard.json"
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
}


def expressions() -> list[str]:
    data = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in data["panels"] for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", expr)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", bare):
        following = bare[m.end() :].lstrip()
        if m.group() not in KEYWORDS and not following.startswith("("):
            names.add(m.group())
    return names


def test_dashboard_parses_and_has_panels_with_queries() -> None:
    data = json.loads(DASHBOARD.read_text())
    assert data["uid"] and data["panels"]
    assert len(expressions()) >= 10
    assert metric_names('sum by (le) (rate(a:b_total{x="y"}[1m])) / scalar(c)') == {
        "a:b_total",
        "c",
    }


def test_every_queried_metric_is_declared_and_every_exported_one_is_plotted() -> None:
    declared = exporter.exported_names() | {
        n for e in ENGINES.values() for n in e.adapter.metric_names
    }
    queried = set().union(*map(metric_names, expressions()))
    assert queried - declared == set()
    plotted_families = {re.sub(r"_(bucket|sum|count|total)$", "", n) for n in queried}
    assert set(exporter.METRICS) <= plotted_families
    for engine in ENGINES:
        assert any(n.startswith(engine) for n in queried), f"no {engine} panel"


@pytest.mark.prometheus
def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    with running_prometheus(["127.0.0.1:9"], "/metrics", tmp_path) as url:
        client = PromQL(url)
        for expr in expressions():
            client.query(expr, time.time())  # raises PromQLError on a parse error
