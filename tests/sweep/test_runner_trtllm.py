"""A sweep cell against a FAKE TensorRT-LLM server given by ``url:`` alone (no ``metrics_url``):
it must be scraped at its Prometheus path and polled at its JSON iteration-stats path, as its
engine's registry entry says, and give the hand-worked figures of tests/metrics/test_adapters.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.sweep.plan import load_plan
from loadgen.sweep.runner import run_cells
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.metrics.test_adapters import TRT_AFTER, TRT_BEFORE, TRT_JSON


def trtllm_server() -> FakeStreamingServer:
    """The streaming fake with TensorRT-LLM's metrics endpoints: Prometheus text before / after
    the load on /prometheus/metrics, and on /metrics the iteration stats, drained when read
    (poll 0's before the load, the other three polls' once any request has been served)."""
    server = FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.002, tokens_per_chunk=3))
    counters = server.counters
    stats_before = json.loads(TRT_JSON[0])
    stats_during = [s for body in TRT_JSON[1:] for s in json.loads(body)]
    streaming: type[BaseHTTPRequestHandler] = server._server.RequestHandlerClass

    class TrtllmHandler(streaming):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:
            if self.path not in ("/prometheus/metrics", "/metrics"):
                super().do_GET()
                return
            with counters.lock:
                counters.seen.append((self.path, None))
                served = bool(counters.requests)
                if self.path == "/prometheus/metrics":
                    body = TRT_AFTER if served else TRT_BEFORE
                else:
                    queue = stats_during if served else stats_before
                    body = json.dumps(queue[:])
                    queue.clear()
            prometheus = self.path == "/prometheus/metrics"
            ctype = "text/plain; version=0.0.4" if prometheus else "application/json"
            self._send(200, body.encode(), ctype)

    server._server.RequestHandlerClass = TrtllmHandler
    return server


@pytest.fixture
def trtllm_url() -> Iterator[tuple[str, FakeStreamingServer]]:
    server = trtllm_server()
    with server:
        yield server.url, server


def test_a_trtllm_server_given_by_url_is_scraped_at_its_engine_s_paths(
    tmp_path: Path, trtllm_url: tuple[str, FakeStreamingServer]
) -> None:
    url, server = trtllm_url
    prompts = [PreparedPrompt(f"{i:032d}", "1k", "mixed", None, 1000, [1, 5, i]) for i in range(4)]
    PreparedSet(prompts, {"source": "FAKE", "configs": ["throughput_1k"]}).write(
        tmp_path / "prepared"
    )
    plan = {
        "name": "trtllm-by-url",
        "model": "fake-model",
        "data": "prepared",
        "servers": [{"name": "trt-eagle", "url": url, "engine": "trtllm", "speculative": "eagle"}],
        "buckets": ["1k"],
        "concurrencies": [1],
        "osl": 8,
        "requests": 2,
        "warmup": 0,
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    run_cells(load_plan(tmp_path / "plan.yaml"), tmp_path, tmp_path / "results")

    cell = tmp_path / "results" / "cells" / "trt-eagle" / "1k" / "c1" / "r0"
    assert (cell / "metrics_before.txt").read_text() == TRT_BEFORE
    assert (cell / "metrics_after.txt").read_text() == TRT_AFTER
    polled = {json.loads(line)["url"] for line in (cell / "polls.jsonl").read_text().splitlines()}
    assert polled == {url + "/metrics"}
    paths = {path for path, _ in server.counters.seen}
    assert {"/prometheus/metrics", "/metrics"} <= paths
    acceptance = json.loads((cell / "summary.json").read_text())["acceptance"]
    assert acceptance["drafts"] == 8 and acceptance["draft_tokens"] == 24
    assert acceptance["accepted_tokens"] == 14 and not acceptance["estimate"]
    assert acceptance["acceptance_length"] == pytest.approx(1 + 14 / 8)
