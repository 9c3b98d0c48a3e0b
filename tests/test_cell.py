"""One cell end to end against the FAKE streaming server (its /metrics counts vLLM-named SD
counters as it streams): the engine adapter from the registry, the window, the summary."""

from pathlib import Path

import pytest

from loadgen.cell import CellSpec, locust_command, run_cell
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


def test_locust_command_carries_the_open_loop_load_point(tmp_path: Path) -> None:
    closed = locust_command(spec("http://x", tmp_path), tmp_path)
    assert "--load" not in closed and closed[closed.index("-u") + 1] == "2"
    gamma = spec("http://x", tmp_path, concurrency=16, rate=2.0, arrivals="gamma", burstiness=0.5)
    command = locust_command(gamma, tmp_path)
    at = command.index("--load")
    assert command[at : at + 8] == [
        "--load", "open", "--rate", "2.0", "--arrivals", "gamma", "--burstiness", "0.5"
    ]  # fmt: skip
    assert command[command.index("-u") + 1] == "16"  # the cap on requests in flight
    assert gamma.load.label == "rate=2.0/s gamma b=0.5"
