"""The Locust file, run by real Locust against the FAKE deterministic server (tests/fakes).

The fake's true TTFT, step time and tokens per chunk are known, so the harness's per-token timing
is checked against truth; failures must be recorded by kind, never dropped.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.cell import LOCUSTFILE
from loadgen.client.sink import RECORDS_JSONL, read_jsonl
from loadgen.data.prepared import PreparedPrompt, PreparedSet
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    prompts = [
        PreparedPrompt(
            f"{i:032d}", "1k", ["low_entropy", "mixed"][i % 2], None, 1000, [0, 7, 100 + i, 9]
        )
        for i in range(20)
    ]
    return PreparedSet(prompts, {"fake": True}).write(tmp_path / "prepared")


def run_locust(
    url: str, data: Path, out: Path, users: int, requests: int, start: int = 0, osl: int = 31
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            "60s",
            "--host",
            url,
            "--data",
            str(data),
            "--bucket",
            "1k",
            "--osl",
            str(osl),
            "--requests",
            str(requests),
            "--prompt-start",
            str(start),
            "--out",
            str(out),
            "--only-summary",
            "--exit-code-on-error",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_closed_loop_timings_match_the_servers_truth(prepared: Path, tmp_path: Path) -> None:
    truth = Behaviour(ttft_s=0.2, step_s=0.02, tokens_per_chunk=3)
    with FakeStreamingServer(truth) as server:
        proc = run_locust(server.url, prepared, tmp_path / "out", users=2, requests=6, start=4)
        sent = [body["prompt"] for body in server.counters.requests]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = read_jsonl(tmp_path / "out" / RECORDS_JSONL)
    assert len(records) == 6 and all(r.ok for r in records)
    # each prompt of the slice [4, 10) exactly once, token ids sent as-is
    assert sorted(p[2] - 100 for p in sent) == list(range(4, 10))
    for r in records:
        assert r.output_tokens == 31 and r.chunk_tokens == [1] + [3] * 10
        assert 200 <= r.ttft_ms < 260
        assert r.tpot_ms == pytest.approx(20 / 3, abs=1.5)
        assert all(x == pytest.approx(20 / 3, abs=3) for x in r.itl_ms)
    assert "1k completion ttft" in proc.stdout + proc.stderr


def test_http_errors_are_recorded_by_kind(prepared: Path, tmp_path: Path) -> None:
    with FakeStreamingServer(Behaviour(status=503)) as server:
        proc = run_locust(server.url, prepared, tmp_path / "out", users=2, requests=4)
    assert proc.returncode == 0, proc.stderr
    records = read_jsonl(tmp_path / "out" / RECORDS_JSONL)
    assert [r.error_kind for r in records] == ["http_503"] * 4


def test_truncated_streams_are_recorded_not_dropped(prepared: Path, tmp_path: Path) -> None:
    with FakeStreamingServer(Behaviour(ttft_s=0.01, truncate_after_chunks=3)) as server:
        run_locust(server.url, prepared, tmp_path / "out", users=1, requests=3)
    records = read_jsonl(tmp_path / "out" / RECORDS_JSONL)
    assert [r.error_kind for r in records] == ["stream"] * 3
    assert all(len(r.chunk_tokens) == 3 for r in records)  # what arrived is kept


def test_asking_for_more_prompts_than_exist_fails_clearly(prepared: Path, tmp_path: Path) -> None:
    with FakeStreamingServer() as server:
        proc = run_locust(server.url, prepared, tmp_path / "out", users=1, requests=30)
    assert proc.returncode == 2
    assert "has 20 prompts" in proc.stdout + proc.stderr
    assert server.counters.requests == []
