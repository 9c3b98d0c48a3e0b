"""The harness's live exporter: unit figures from a known record, then real Locust with
``--metrics-port`` against the FAKE streaming server, scraped while it runs."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest
import requests

from loadgen.client.record import RequestRecord
from loadgen.metrics import exporter
from loadgen.metrics.exposition import parse_exposition
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.ports import free_port
from tests.test_speed import prepared, run_locust  # noqa: F401  (fixture)

MS = 1_000_000


def record(**over: object) -> RequestRecord:
    base: dict = dict(
        request_id="r",
        question_id="q",
        bucket="1k",
        category="c",
        prompt_len=10,
        max_tokens=7,
        intended_send_ns=0,
        wall_start=0.0,
        send_ns=0,
        end_ns=90 * MS,
        chunk_ns=[50 * MS, 60 * MS, 90 * MS],
        chunk_tokens=[1, 2, 4],
        usage_output_tokens=7,
    )
    return RequestRecord(**{**base, **over})


def test_one_record_lands_in_every_metric() -> None:
    metrics = exporter.LiveMetrics()
    metrics.request_started()
    metrics.request_finished(record())
    metrics.request_started()
    metrics.request_finished(record(error_kind="http_503", chunk_tokens=[0, 0, 0]))
    value = metrics.registry.get_sample_value
    assert value("speedbench_requests_in_flight") == 0
    assert value("speedbench_requests_total", {"outcome": "ok"}) == 1
    assert value("speedbench_request_errors_total", {"kind": "http_503"}) == 1
    assert value("speedbench_output_tokens_total") == 7
    assert value("speedbench_ttft_seconds_sum") == pytest.approx(0.05)
    # 6 tokens after the first chunk: 2 at 5 ms each, 4 at 7.5 ms each
    assert value("speedbench_token_latency_seconds_count") == 6
    assert value("speedbench_token_latency_seconds_sum") == pytest.approx(0.01 + 0.03)
    assert value("speedbench_tokens_per_chunk_sum") == 6
    assert value("speedbench_tokens_per_chunk_bucket", {"le": "2.0"}) == 1
    names = {s.name for s in parse_exposition(_text(metrics))}
    assert names <= exporter.exported_names()


def _text(metrics: exporter.LiveMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_locust_exports_live_metrics_while_running(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.setenv("SPEEDBENCH_METRICS_PORT", str(port))
    monkeypatch.setenv("SPEEDBENCH_METRICS_ADDR", "127.0.0.1")
    scrapes: list[str] = []
    with FakeStreamingServer(Behaviour(ttft_s=0.1, step_s=0.03, tokens_per_chunk=3)) as server:
        run = threading.Thread(
            target=run_locust, args=(server.url, prepared, tmp_path / "out", 2, 16)
        )
        run.start()
        while run.is_alive():
            with contextlib.suppress(requests.RequestException):
                scrapes.append(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text)
            time.sleep(0.1)
    assert scrapes, "the exporter never answered"
    last = {(s.name, s.labels): s.value for s in parse_exposition(scrapes[-1])}
    ok = last[("speedbench_requests_total", (("outcome", "ok"),))]
    assert 1 <= ok <= 16
    assert last[("speedbench_output_tokens_total", ())] == 31 * ok
    # the fake streams 3 tokens per chunk after the first: every observation is exactly 3
    assert last[("speedbench_tokens_per_chunk_sum", ())] == 3 * 10 * ok
    assert last[("speedbench_tokens_per_chunk_bucket", (("le", "2.0"),))] == 0
    in_flight = [
        s.value
        for text in scrapes
        for s in parse_exposition(text)
        if s.name == "speedbench_requests_in_flight"
    ]
    assert max(in_flight) <= 2 and min(in_flight) >= 0
