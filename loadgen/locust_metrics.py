"""Locust's live statistics as Prometheus metrics: one Prometheus scrapes the engine and the load.

Loaded next to the Locust file: ``locust -f loadgen/speed.py,loadgen/locust_metrics.py ...``. The
master (or a stand-alone Locust) serves ``/metrics`` on ``SPEEDBENCH_LOCUST_METRICS_PORT`` (9646);
workers serve nothing, since the master already aggregates their statistics. Not
``SPEEDBENCH_METRICS_PORT``: that is the Locust file's ``--metrics-port`` (the harness's own live
metrics, loadgen/metrics/exporter.py), and one port for both made a stand-alone Locust fail to
start its test (address already in use). The figures are Locust's own
(rounded response times); the exact per-request timings stay in the records.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

DEFAULT_PORT = 9646
PORT_ENV = "SPEEDBENCH_LOCUST_METRICS_PORT"
PERCENTILES = (0.5, 0.9, 0.99)


class LocustCollector:
    """Read at scrape time from the runner's statistics: nothing is stored twice."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def collect(self) -> Iterator[Metric]:
        runner = self.environment.runner
        users = GaugeMetricFamily("speedbench_locust_users", "Locust users running now")
        users.add_metric([], float(runner.user_count if runner is not None else 0))
        yield users
        labels = ["type", "name"]
        requests = CounterMetricFamily(
            "speedbench_locust_requests", "Requests ended, per Locust entry", labels=labels
        )
        failures = CounterMetricFamily(
            "speedbench_locust_failures", "Requests failed, per Locust entry", labels=labels
        )
        latency = GaugeMetricFamily(
            "speedbench_locust_response_time_ms",
            "Locust's response-time percentiles (rounded), per entry",
            labels=[*labels, "quantile"],
        )
        for entry in self.environment.stats.entries.values():
            key = [entry.method or "", entry.name]
            requests.add_metric(key, float(entry.num_requests))
            failures.add_metric(key, float(entry.num_failures))
            if entry.num_requests:
                for q in PERCENTILES:
                    value = entry.get_response_time_percentile(q)
                    latency.add_metric([*key, str(q)], float(value or 0))
        yield from (requests, failures, latency)


def serve_metrics(environment: Environment, port: int) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LocustCollector(environment))
    start_http_server(port, registry=registry)
    return registry


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    port = int(os.environ.get(PORT_ENV, str(DEFAULT_PORT)))
    serve_metrics(environment, port)
    logging.info("speedbench: Locust metrics on :%d/metrics", port)
