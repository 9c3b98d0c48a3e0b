"""Where a run reads the engine's metrics, from its spec: shared by a cell and a Locust process.

It sits at the run-spec level (above engines and metrics) so the Locust file can open the same
window a cell does without importing the cell.
"""

from __future__ import annotations

from loadgen.engines import engine_for
from loadgen.metrics.collect import MetricsWindow
from loadgen.runspec.model import RunSpec


def metrics_window(spec: RunSpec) -> MetricsWindow:
    """Direct endpoints (replicas summed; default the engine's metrics path on the server's
    URL), or a Prometheus server, or nothing (``no_metrics``)."""
    engine = engine_for(spec.engine)
    urls: tuple[str, ...] = ()
    if not spec.no_metrics:
        urls = spec.metrics_urls or (engine.metrics_url(spec.url),)
    return MetricsWindow(engine.adapter, urls, spec.prometheus_url, spec.poll_interval_s)


def explicit_metrics(spec: RunSpec) -> bool:
    """The user named a metrics source (a default URL that does not answer is then an error)."""
    return bool(spec.metrics_urls or spec.prometheus_url)
