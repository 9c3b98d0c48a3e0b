"""The Locust file, run by real Locust against the FAKE deterministic server (tests/fakes).

The fake's true TTFT, step time and tokens per chunk are known, so the harness's per-token timing
is checked against truth; failures must be recorded by kind, never dropped.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from statistics import median
from typing import Any

import pytest

from loadgen.analysis.schedule import schedule_report
from loadgen.cell import LOCUSTFILE, locust_command, locust_options
from loadgen.client.sink import RECORDS_JSONL, WARMUP_JSONL, read_jsonl, worker_records_path
from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.results.io import HARNESS_CPU_FILE
from loadgen.results.schemas import HarnessCpu
from loadgen.runspec import RunSpec
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.locust_cluster import run_distributed
from tests.ports import free_port


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    prompts = [
        PreparedPrompt(
            f"{i:032d}", "1k", ["low_entropy", "mixed"][i % 2], None, 1000, [0, 7, 100 + i, 9]
        )
        for i in range(20)
    ]
    return PreparedSet(prompts, {"fake": True}).write(tmp_path / "prepared")


def cell(
    url: str,
    data: Path,
    users: int,
    requests: int,
    start: int = 0,
    osl: int = 31,
    bucket: str = "1k",
    **load: Any,
) -> RunSpec:
    """A cell on ``bucket`` of ``data`` (``load``: ``rate``/``arrivals``/``burstiness``)."""
    return RunSpec(
        server="fake", baseline=None, url=url, no_metrics=True, warmup=0, data_dir=data,
        bucket=bucket,
        concurrency=users, requests=requests, prompt_start=start, osl=osl, model=None,
        max_duration_s=60, **load,
    )  # fmt: skip


def run_locust(
    url: str,
    data: Path,
    out: Path,
    users: int,
    requests: int,
    start: int = 0,
    osl: int = 31,
    bucket: str = "1k",
    **load: Any,
) -> subprocess.CompletedProcess[str]:
    """The Locust command line a cell runs (``loadgen.cell.locust_command``), run here."""
    return subprocess.run(
        locust_command(cell(url, data, users, requests, start, osl, bucket, **load), out),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("transport", ["requests", "fast"])
def test_closed_loop_timings_match_the_servers_truth(
    prepared: Path, tmp_path: Path, transport: str
) -> None:
    """Truth is what the FAKE server logged on the same monotonic clock -- when it read each
    request and began writing each chunk -- not its nominal sleeps, which a loaded 2-core machine
    stretches (a 20 ms step may take 35 ms; that is the server's time, and the harness must see
    it). The harness stamps a chunk when it arrives: never before the server wrote it (exact), and
    in the median within a quarter step after it, where a client that buffered the stream (the
    Locust pitfall in PRODUCT.md) would be steps late."""
    truth = Behaviour(ttft_s=0.2, step_s=0.02, tokens_per_chunk=3)
    with FakeStreamingServer(truth) as server:
        proc = run_locust(
            server.url, prepared, tmp_path / "out", 2, 6, start=4, transport=transport
        )
        logged = {t.prompt[2] - 100: t for t in server.counters.timings}
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = read_jsonl(tmp_path / "out" / RECORDS_JSONL)
    assert len(records) == 6 and all(r.ok for r in records)
    # each prompt of the slice [4, 10) exactly once, token ids sent as-is
    assert sorted(logged) == list(range(4, 10))
    delays_ms: list[float] = []
    itl_errors: list[float] = []
    ttft_errors: list[float] = []
    tpot_errors: list[float] = []
    for r in records:
        server = logged[int(r.question_id)]
        assert r.output_tokens == 31 and r.chunk_tokens == [1] + [3] * 10
        assert len(server.chunk_ns) == len(r.chunk_ns)
        assert r.send_ns <= server.received_ns
        delays = [(c - w) / 1e6 for c, w in zip(r.chunk_ns, server.chunk_ns, strict=True)]
        assert min(delays) >= 0, "a chunk stamped before the server wrote it"
        delays_ms += delays
        server_ttft = (server.chunk_ns[0] - server.received_ns) / 1e6
        assert server_ttft >= 200  # the fake's own sleep
        # The request's and the first chunk's trips. Measured (18 runs x 6 requests a transport,
        # load average 0.7-5.1): requests 0.5-30 ms, pooled median 1.4-2.1; fast 0.1-20 ms,
        # median 0.2-0.4 (the tail is this in-process server's thread waiting for the GIL and
        # the client's stamps under load; tests/client/test_timing_accuracy.py bounds the
        # harness alone against a kernel-stamped server). Bounds: 60 ms a request (2x the
        # worst), 5 ms for the median (2.4x).
        ttft_errors.append(r.ttft_ms - server_ttft)
        assert 0 <= ttft_errors[-1] < 60
        server_tpot = (server.chunk_ns[-1] - server.chunk_ns[0]) / 30 / 1e6
        # |TPOT - server's|, measured: requests median <= 0.007 ms but up to 2.9 ms (a last
        # chunk stamped ~90 ms late under load: the old 1 ms bound was flaky), fast <= 0.005
        # ms. Bounds: 6 ms a request, 0.5 ms for the median.
        tpot_errors.append(abs(r.tpot_ms - server_tpot))
        assert tpot_errors[-1] < 6
        per_token = [(b - a) / 3 / 1e6 for a, b in pairwise(server.chunk_ns) for _ in range(3)]
        itl_errors += [abs(x - t) for x, t in zip(r.itl_ms, per_token, strict=True)]
    assert median(delays_ms) < 20 / 4, sorted(delays_ms)
    assert median(ttft_errors) < 5, sorted(ttft_errors)
    assert median(tpot_errors) < 0.5, sorted(tpot_errors)
    # per token: a chunk's gap over its 3 tokens; merged or split chunks would be off by ~7 ms
    assert median(itl_errors) < 1 and max(itl_errors) < 10, sorted(itl_errors)
    # one Locust entry per request (its end-to-end time), not one per figure
    assert "1k completion" in proc.stderr and "ttft" not in proc.stderr.lower()


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
    assert [r.error_kind for r in records] == ["truncated"] * 3
    assert all(len(r.chunk_tokens) == 3 for r in records)  # what arrived is kept


def test_asking_for_more_prompts_than_exist_fails_clearly(prepared: Path, tmp_path: Path) -> None:
    with FakeStreamingServer() as server:
        proc = run_locust(server.url, prepared, tmp_path / "out", users=1, requests=30)
    assert proc.returncode == 2
    assert "has 20 prompts" in proc.stdout + proc.stderr
    assert server.counters.requests == []


def test_fast_transport_refuses_https_hosts_clearly(prepared: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_locust("https://127.0.0.1:1", prepared, out, users=1, requests=2, transport="fast")
    assert proc.returncode == 2
    assert "use --transport requests" in proc.stdout + proc.stderr


def test_distributed_master_holds_every_workers_records_once(
    prepared: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with FakeStreamingServer(Behaviour(ttft_s=0.02, step_s=0.005)) as server:
        options = locust_options(cell(server.url, prepared, 4, 15, osl=7), out)
        run = run_distributed([*options, "--warmup", "2"], workers=2)
        sent = [body["prompt"][2] - 100 for body in server.counters.requests]
    assert run.master.returncode == 0, run.master.stderr[-2000:]
    master = read_jsonl(out / RECORDS_JSONL)
    workers = [read_jsonl(worker_records_path(out, i)) for i in range(2)]
    assert len(master) == 15 and all(r.ok for r in master)
    assert all(workers), "both workers sent requests"
    as_dicts = sorted(json.dumps(r.to_dict(), sort_keys=True) for r in master)
    assert as_dicts == sorted(json.dumps(r.to_dict(), sort_keys=True) for w in workers for r in w)
    # every prompt of warm-up [0, 2) and measured [2, 17) exactly once across the workers
    assert sorted(sent) == list(range(17))
    assert sorted(int(r.question_id) for r in master) == list(range(2, 17))
    assert len(read_jsonl(out / WARMUP_JSONL)) == 2
    # the workers did the reading, and each asked for real-time priority (root here and in CI)
    cpu = HarnessCpu.model_validate_json((out / HARNESS_CPU_FILE).read_text())
    assert cpu.realtime is (os.geteuid() == 0)


def test_open_loop_sends_on_the_schedule_and_reports_lag(prepared: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.002)) as server:
        proc = run_locust(
            server.url,
            prepared,
            out,
            users=8,
            requests=12,
            osl=4,
            rate=20.0,
            arrivals="constant",
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = sorted(read_jsonl(out / RECORDS_JSONL), key=lambda r: r.intended_send_ns)
    gaps = [(b.intended_send_ns - a.intended_send_ns) / 1e6 for a, b in pairwise(records)]
    assert gaps == pytest.approx([50.0] * 11, abs=0.01)  # constant 20/s on an absolute clock
    report = schedule_report(records)
    # Measured (16 runs, load average 0.7-5.1): median send lag 0.8-5.5 ms (the old 5 ms bound
    # failed once); achieved rate / 20 0.902-1.008 (11 gaps: one send 55 ms late at the end moves
    # it 10%; the old 5% bound failed there). Bounds: median lag 12 ms (2.2x), rate 15%; the
    # schedule itself is exact (above).
    assert 0 <= report["send_lag_ms"]["p50"] < 12, report
    assert report["achieved_rate_rps"] == pytest.approx(20, rel=0.15)


def test_open_loop_flags_a_server_that_cannot_keep_up(prepared: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FakeStreamingServer(Behaviour(ttft_s=0.2, step_s=0.01)) as server:
        run_locust(
            server.url,
            prepared,
            out,
            users=1,
            requests=6,
            osl=4,
            rate=50.0,
            arrivals="poisson",
        )
    records = read_jsonl(out / RECORDS_JSONL)
    report = schedule_report(records)
    assert len(records) == 6 and not report["kept_up"]
    assert "could not keep up" in report["flag"]
    # latency from the intended send time includes the wait the schedule imposed
    assert report["ttft_from_intended_ms"]["p99"] > 1000


def test_options_are_read_from_speedbench_env_vars(prepared: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "SPEEDBENCH_DATA": str(prepared), "SPEEDBENCH_REQUESTS": "3"}
    env |= {"SPEEDBENCH_OUT": str(out), "SPEEDBENCH_OSL": "5"}
    with FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.001)) as server:
        # only what the environment does not give: the rest comes from SPEEDBENCH_* variables
        minimal = ["-f", str(LOCUSTFILE), "--headless", "-u", "1", "-t", "60s"]
        proc = subprocess.run(
            [sys.executable, "-m", "locust", *minimal, "--host", server.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = read_jsonl(out / RECORDS_JSONL)
    assert len(records) == 3 and all(r.output_tokens == 5 for r in records)


def test_help_lists_the_speedbench_options() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.swarm.help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for option in ("--spec", "--rate", "--arrivals", "--burstiness", "--warmup", "--metrics-url"):
        assert option in proc.stdout
    assert "SPEEDBENCH_ARRIVALS" in proc.stdout


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@contextmanager
def web_ui(spec: RunSpec, out: Path) -> Iterator[str]:
    """A cell's Locust command in web-UI mode (``--autostart``): its base URL while it runs."""
    port = free_port()
    args = locust_command(spec, out)
    args.remove("--headless")
    proc = subprocess.Popen(
        [*args, "--autostart", "--web-host", "127.0.0.1", "--web-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_web_ui_shows_live_tokens_and_tokens_per_chunk(prepared: Path, tmp_path: Path) -> None:
    with FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.002)) as server:
        spec = cell(server.url, prepared, users=2, requests=6, osl=13)
        with web_ui(spec, tmp_path / "out") as base:
            rows, names = {}, set()
            for _ in range(100):
                time.sleep(0.3)
                try:
                    stats = get_json(f"{base}/stats/requests")
                except OSError:
                    continue
                table = [t for t in stats.get("extendedStats", []) if t["key"] == "speedbench"]
                rows = {row["name"]: row["value"] for row in table[0]["data"]} if table else {}
                names = {entry["name"] for entry in stats["stats"]}
                if rows.get("measured requests ended") == 6 and len(names) == 2:
                    break  # Locust caches its stats JSON for a moment: wait for both
            with urllib.request.urlopen(base + "/", timeout=5) as page:
                html = page.read().decode()
            for _ in range(20):
                state = get_json(f"{base}/stats/requests")["state"]
                if state == "stopped":
                    break
                time.sleep(0.25)
    assert rows["measured requests ended"] == 6 and rows["output tokens"] == 6 * 13
    assert rows["chunks of   3 tokens"] == 6 * 4  # 1 + 3*4 tokens: the prefill chunk left out
    assert rows["mean tokens per chunk"] == 3
    assert rows["output tokens/s (last 10 s)"] > 0
    assert "extendedTabs" in html and "speedbench" in html
    assert state == "stopped"  # the UI stays up when the run is complete
    assert names == {"1k completion", "Aggregated"}  # one entry per request
    assert "speedbench/charts.js" in html
