"""The harness's own live metrics, exported with ``prometheus-client`` while the load runs.

Locust's statistics round and know nothing of tokens; these follow every request as it ends:
requests in flight, TTFT and per-token latency histograms (a chunk's gap spread over its
tokens, as in the records), output tokens (``rate()`` of it is tokens/s), tokens per chunk (the
client's view of acceptance), and errors by kind. The Locust file calls ``serve`` once when
``--metrics-port`` is given and keeps the exporter on its Environment, then calls
``request_started`` / ``request_finished`` per request. The Grafana dashboard
(docker/grafana/) plots them next to the engines' SD metrics.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from loadgen.client.record import RequestRecord

NAMESPACE = "speedbench"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 60)
TTFT_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160)
CHUNK_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16)
# metric -> kind; the sample names each kind exposes are in exported_names()
METRICS = {
    "speedbench_requests_in_flight": "gauge",
    "speedbench_requests": "counter",
    "speedbench_request_errors": "counter",
    "speedbench_output_tokens": "counter",
    "speedbench_ttft_seconds": "histogram",
    "speedbench_token_latency_seconds": "histogram",
    "speedbench_tokens_per_chunk": "histogram",
}
SUFFIXES = {
    "gauge": ("",),
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def exported_names() -> set[str]:
    """Every sample name a scrape of the exporter can carry (what dashboards may query)."""
    return {name + s for name, kind in METRICS.items() for s in SUFFIXES[kind]}


class LiveMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.port = 0
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.in_flight = Gauge("speedbench_requests_in_flight", "Requests not ended", registry=r)
        self.requests = Counter("speedbench_requests", "Requests ended", ["outcome"], registry=r)
        self.errors = Counter("speedbench_request_errors", "Failed requests", ["kind"], registry=r)
        self.tokens = Counter("speedbench_output_tokens", "Output tokens received", registry=r)
        self.ttft = Histogram(
            "speedbench_ttft_seconds", "Time to first token", buckets=TTFT_BUCKETS_S, registry=r
        )
        self.token_latency = Histogram(
            "speedbench_token_latency_seconds",
            "Per-token latency: each chunk's gap divided over its tokens",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.per_chunk = Histogram(
            "speedbench_tokens_per_chunk",
            "Tokens per streamed chunk after the first",
            buckets=CHUNK_BUCKETS,
            registry=r,
        )

    def request_started(self) -> None:
        self.in_flight.inc()

    def request_finished(self, record: RequestRecord) -> None:
        self.in_flight.dec()
        self.requests.labels("ok" if record.ok else "error").inc()
        if not record.ok:
            self.errors.labels(record.error_kind or "unknown").inc()
        self.tokens.inc(record.output_tokens if record.ok else sum(record.chunk_tokens))
        if record.ttft_ms is not None:
            self.ttft.observe(record.ttft_ms / 1000)
        for ms in record.itl_ms:
            self.token_latency.observe(ms / 1000)
        for n in record.step_sizes:
            self.per_chunk.observe(n)

    def serve(self, port: int, addr: str) -> int:
        """Starts the HTTP exporter; returns the port (useful with port 0)."""
        server, _ = start_http_server(port, addr=addr, registry=self.registry)
        return int(server.server_port)


def serve(port: int, addr: str | None = None) -> LiveMetrics:
    """A new exporter serving on ``port``; the Locust process keeps it on its Environment and
    starts it once (its web UI may start a test several times). ``addr`` defaults to
    $SPEEDBENCH_METRICS_ADDR or all interfaces (a cluster's Prometheus must reach the Locust
    pods). In Locust's distributed mode give each worker its own port."""
    live = LiveMetrics()
    live.port = live.serve(port, addr or os.environ.get("SPEEDBENCH_METRICS_ADDR", "0.0.0.0"))
    return live
