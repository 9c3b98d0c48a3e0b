"""One cell end to end against the FAKE streaming server (its /metrics counts vLLM-named SD
counters as it streams): the engine adapter from the registry, the window, the summary."""

from pathlib import Path

import pytest

from loadgen.cell import CellSpec, run_cell
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.test_speed import prepared  # noqa: F401  (fixture)


def spec(url: str, data: Path, **over: object) -> CellSpec:
    base: dict = dict(
        server="fake",
        baseline=None,
        url=url,
        metrics_url=url + "/metrics",
        data_dir=data,
        bucket="1k",
        concurrency=2,
        requests=4,
        prompt_start=0,
        osl=31,
        model=None,
    )
    return CellSpec(**{**base, **over})


def test_cell_reads_the_window_through_the_engine_adapter(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with FakeStreamingServer(Behaviour(ttft_s=0.02, step_s=0.005, tokens_per_chunk=3)) as server:
        summary = run_cell(spec(server.url, prepared), tmp_path / "cell", progress=False)
    acc = summary["acceptance"]
    # 4 requests x (1 prefill token + 10 chunks of 3): each chunk is one draft with 2 accepted
    assert summary["requests_ok"] == 4 and summary["output_tokens"] == 124
    assert acc["source"] == "vllm:/metrics counters" and not acc["estimate"]
    assert acc["accepted_tokens"] == summary["client_accepted_tokens"]
    assert summary["server_counters"]["generation_tokens"] == 124
    assert summary["metrics_window"]["engine"] == "vllm"
    assert summary["flags"] == []


def test_unknown_engine_fails_before_any_request(prepared: Path, tmp_path: Path) -> None:  # noqa: F811
    with (
        FakeStreamingServer() as server,
        pytest.raises(ValueError, match="no metrics adapter for engine 'tgi'"),
    ):
        run_cell(spec(server.url, prepared, engine="tgi"), tmp_path / "cell", progress=False)
    assert server.counters.requests == []
