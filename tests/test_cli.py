"""`speedbench run` metrics options -> the cell's metrics window; bad input refused with the fix;
TLS verified."""

import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from loadgen.cell import metrics_window
from loadgen.cli import build_parser
from loadgen.client.sink import RECORDS_PARQUET, read_parquet
from loadgen.data.schema import PLACEHOLDER
from loadgen.runspec.flags import spec_from_flags
from tests.fakes.streaming_server import FakeStreamingServer
from tests.test_preflight import write_set
from tests.tls import make_pki


def parse(*extra: str):  # type: ignore[no-untyped-def]
    base = ["run", "--url", "http://h:8000/", "--data", "d", "--out", "o"]
    return build_parser().parse_args([*base, *extra])


def urls(*extra: str) -> tuple[str, ...]:
    return metrics_window(spec_from_flags(parse(*extra), "run")).metrics_urls


def test_default_metrics_url_follows_the_engine_adapter() -> None:
    assert urls() == ("http://h:8000/metrics",)
    assert urls("--engine", "trtllm") == ("http://h:8000/prometheus/metrics",)
    assert urls("--no-metrics") == ()


def test_one_metrics_url_per_replica_and_a_prometheus_server() -> None:
    flags = (
        "--metrics-url", "http://a:1/metrics", "--metrics-url", "http://b:1/metrics",
        "--prometheus-url", "http://prom:9090", "--poll-interval", "0.5",
    )  # fmt: skip
    window = metrics_window(spec_from_flags(parse(*flags), "run"))
    assert window.metrics_urls == ("http://a:1/metrics", "http://b:1/metrics")
    assert window.prometheus_url == "http://prom:9090" and window.poll_interval_s == 0.5


# Bad input and TLS through the real command line (subprocesses: `run` exports the CA bundle and
# key file paths to the environment of the Locust processes it starts).


def speedbench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPEEDBENCH_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "loadgen.cli", *args],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip


def refused(proc: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for part in parts:
        assert part in proc.stderr, (part, proc.stderr)


def test_an_api_key_value_on_the_command_line_is_refused_unechoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run", "--url", "u", "--data", "d", "--out", "o",
                                   "--api-key", "sk-visible-1234"])  # fmt: skip
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "sk-visible-1234" not in err
    assert "export SPEEDBENCH_API_KEY or pass --api-key-file PATH" in err


def test_unreachable_url_and_damaged_data_are_named_before_any_load(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [5, 5])
    with FakeStreamingServer() as fake:
        url = fake.url  # closed once the fake has stopped
    run = [
        "run",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
        "--requests",
        "1",
        "--warmup",
        "0",
    ]
    refused(speedbench(*run, "--url", url), f"cannot reach the server at {url}", "Check --url")
    assert not (tmp_path / "out").exists()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "prompts.parquet").write_text("not parquet")
    bad = ["run", "--url", url, "--data", str(tmp_path / "bad"), "--out", str(tmp_path / "o")]
    refused(speedbench(*bad), "is not a readable prepared data set", "speedbench data prepare")


def test_placeholder_prompts_are_refused_by_run_and_sweep_before_any_request(
    tmp_path: Path,
) -> None:
    data = write_set(tmp_path / "d", [5, 5, 5], turns=["a", f"b {PLACEHOLDER}", "c"])
    with FakeStreamingServer() as fake:
        run = speedbench("run", "--url", fake.url, "--data", str(data), "--requests", "2",
                         "--warmup", "0", "--out", str(tmp_path / "out"))  # fmt: skip
        plan = {"name": "p", "model": "m", "data": str(data), "buckets": ["1k"],
                "servers": [{"url": fake.url, "name": "s"}], "concurrencies": [1],
                "requests": 2, "warmup": 0}  # fmt: skip
        (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
        sweep = speedbench("sweep", "--plan", str(tmp_path / "plan.yaml"), "--out", str(tmp_path))
    for proc in (run, sweep):
        refused(proc, "licence placeholder text", "--skip-placeholders")
    assert fake.counters.seen == []


def test_malformed_plans_and_unknown_variants_are_named_with_the_fix(tmp_path: Path) -> None:
    base = {"name": "p", "model": "m", "data": "d", "buckets": ["1k"], "concurrencies": [1],
            "requests": 2, "servers": [{"variant": "vllm-cpu-base"}]}  # fmt: skip
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({**base, "concurency": [2]}))
    sweep = ["sweep", "--plan", str(plan), "--out", str(tmp_path / "out")]
    refused(speedbench(*sweep), str(plan), "'concurency': unknown key", "docs/plans/")
    allowed = speedbench(*sweep).stderr.split("allowed here: ")[1]
    assert all(key in allowed for key in ("buckets", "concurrencies", "data", "rates"))
    plan.write_text("name: p\n\tbuckets: [1k]\n")
    refused(speedbench(*sweep), "not valid YAML", "at line 2", "fix the syntax")
    plan.write_text(yaml.safe_dump({**base, "servers": [{"variant": "vllm-turbo"}]}))
    refused(speedbench(*sweep), "unknown server variant 'vllm-turbo'", "'vllm-cpu-base'")


def test_https_is_verified_and_a_ca_bundle_lets_a_whole_cell_through(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    data = write_set(tmp_path / "d", [5, 6, 7])
    with FakeStreamingServer(tls=pki.server_context()) as fake:
        run = ["run", "--url", fake.url, "--data", str(data), "--requests", "3", "--warmup", "0",
               "--osl", "4", "--no-metrics"]  # fmt: skip
        refused(speedbench(*run, "--out", str(tmp_path / "a")), "certificate verify failed")
        assert fake.counters.requests == []
        ok = speedbench(*run, "--out", str(tmp_path / "b"), "--ca-bundle", str(pki.ca_pem))
    assert ok.returncode == 0, ok.stderr[-2000:]
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["requests_ok"] == 3 and summary["requests_failed"] == 0


def test_run_takes_an_open_loop_rate_and_the_fast_transport(tmp_path: Path) -> None:
    """Constant arrivals at 20/s through `speedbench run`: the cell is keyed by its rate and the
    records' intended send times are 50 ms apart (the schedule, not the responses, sets them)."""
    data = write_set(tmp_path / "d", [5, 6, 7, 8, 9])
    with FakeStreamingServer() as fake:
        proc = speedbench("run", "--url", fake.url, "--data", str(data), "--requests", "5",
                          "--warmup", "0", "--osl", "4", "--no-metrics", "--rate", "20",
                          "--arrivals", "constant", "--concurrency", "5", "--transport", "fast",
                          "--out", str(tmp_path / "out"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["requests_ok"] == 5
    assert summary["load"]["mode"] == "open" and summary["load"]["rate_rps"] == 20.0
    assert (
        json.loads((tmp_path / "out" / "manifest.json").read_text())["run"]["transport"] == "fast"
    )
    records = read_parquet(tmp_path / "out" / RECORDS_PARQUET)
    sends = sorted(r.intended_send_ns for r in records)
    gaps_ms = [(b - a) / 1e6 for a, b in pairwise(sends)]
    assert all(abs(gap - 50) < 1 for gap in gaps_ms), gaps_ms


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--osl", "0"], "--osl: Input should be greater than 0"),
        (["--request-timeout", "-1"], "--request-timeout: Input should be greater than 0"),
        (["--requests", "-2"], "--requests: Input should be greater than or equal to 0"),
        (["--url", "127.0.0.1:8000"], "needs a scheme and a host: write it as http://HOST:PORT"),
        (["--url", "http://127.0.0.1:99999"], "is not a valid URL (Port out of range"),
        (["--url", "http://me:hunter2@127.0.0.1:9"], "'http://me:<redacted>@127.0.0.1:9' holds"),
        (["--metrics-url", "http://me:hunter2@127.0.0.1:9/metrics"], "remove USER:PASSWORD@"),
    ],
)
def test_bad_run_settings_are_refused_with_the_fix_before_the_output_exists(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    """Issue 17 items 6 and 12, through the real command line: one line, no traceback, no
    results directory left behind, a password in a URL never echoed."""
    data = write_set(tmp_path / "d", [5, 5, 5])
    out = tmp_path / "out"
    base = {"--url": "http://127.0.0.1:9", "--data": str(data), "--out": str(out)}
    given = dict(zip(flags[::2], flags[1::2], strict=True))
    args = [part for pair in {**base, **given}.items() for part in pair]
    proc = speedbench("run", *args)
    refused(proc, message)
    assert "hunter2" not in proc.stdout + proc.stderr and not out.exists()


def test_run_exits_non_zero_when_the_cell_failed_beyond_the_threshold(tmp_path: Path) -> None:
    """Issue 17 item 11: 503 on every request is a failed cell for a pipeline too; one failure in
    forty (2.5 %, under the 5 % threshold) is not."""
    from tests.fakes.fault_server import FaultPlan, FaultServer

    data = write_set(tmp_path / "d", [5] * 40)
    outcomes = {}
    for faults, requests in ((["http_503"] * 4, 4), (["http_503"], 40)):
        out = tmp_path / f"out{requests}"
        with FaultServer(FaultPlan(faults)) as server:
            proc = speedbench("run", "--url", server.url, "--data", str(data), "--out", str(out),
                              "--requests", str(requests), "--osl", "4", "--warmup", "0",
                              "--concurrency", "4")  # fmt: skip
        outcomes[requests] = proc.returncode
        assert (out / "summary.json").is_file() and "Traceback" not in proc.stderr
        if requests == 4:
            assert "speedbench: 4 of 4 requests failed (above 5%)" in proc.stderr
    assert outcomes == {4: 1, 40: 0}
