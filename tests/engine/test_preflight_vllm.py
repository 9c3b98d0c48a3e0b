"""Bad input and API keys against a REAL vLLM-CPU server (slow tier, ``engine``).

One server for the module, started with a small ``--max-model-len`` (so the length check meets
a real limit) and ``--api-key`` (so vLLM answers 401 without it). Every refusal is checked to
come before any load: the server's own request and prompt-token counters do not move.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from loadgen.cell import LOCUSTFILE
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.source import write_jsonl
from loadgen.data.synthetic import synthetic_throughput_split
from loadgen.metrics.exposition import scrape
from loadgen.model_factory import build_tokenizer
from tests.engine.servers import vllm_cpu

pytestmark = pytest.mark.engine

MAX_MODEL_LEN = 1536  # the 1k prompts have 1,0xx-1,2xx tokens of the tiny tokenizer
KEY = "sk-speedbench-" + secrets.token_hex(16)
KEY_ENVS = ("SPEEDBENCH_API_KEY", "SPEEDBENCH_API_KEY_FILE", "OPENAI_API_KEY")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "vllm.log"
    extra = ["--max-model-len", str(MAX_MODEL_LEN), "--api-key", KEY]
    with vllm_cpu("vllm-cpu-base", tiny_model, log, extra) as url:
        yield url


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> dict[str, Path]:
    """The served model's prepared set, and one prepared with another tokenizer (vocab 2048)."""
    base = tmp_path_factory.mktemp("data")
    write_jsonl(synthetic_throughput_split(["1k"], 3)["1k"], base / "raw" / "throughput_1k.jsonl")
    other = build_tokenizer(base / "other-tokenizer", vocab_size=2048)
    sets = {"served": str(tiny_model), "other": str(other)}
    for name, model in sets.items():
        prepare_to_disk(str(base / "raw"), ["throughput_1k"], model, base / name)
    return {name: base / name for name in sets}


def load_seen(url: str) -> tuple[float, float]:
    """(requests finished, prompt tokens) as the server counts them: any load moves them."""
    text = scrape(url + "/metrics")

    def total(name: str) -> float:
        return sum(float(v) for v in re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.M))

    return total("vllm:request_success_total"), total("vllm:prompt_tokens_total")


def speedbench(*args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_ENVS}
    if key is not None:
        env["SPEEDBENCH_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "loadgen.cli", *args],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip


def run_args(url: str, data: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--url", url, "--data", str(data), "--bucket", "1k", "--out", str(out), *extra]


def test_prompt_plus_output_above_max_model_len_is_refused_before_load(
    server: str, data: dict[str, Path], tmp_path: Path
) -> None:
    before = load_seen(server)
    proc = speedbench(*run_args(server, data["served"], tmp_path / "c", "--osl", "400"), key=KEY)
    assert proc.returncode == 2, proc.stderr
    assert f"above its max_model_len {MAX_MODEL_LEN}" in proc.stderr
    assert "lower --osl to at most" in proc.stderr and "--max-model-len (at least" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "c").exists()

    locust = subprocess.run(
        ["locust", "-f", str(LOCUSTFILE), "--host", server, "--headless", "-u", "1", "-t", "60s",
         "--data", str(data["served"]), "--osl", "400", "--requests", "2",
         "--out", str(tmp_path / "l"), "--only-summary"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "SPEEDBENCH_API_KEY": KEY},
    )  # fmt: skip
    assert locust.returncode == 2, locust.stderr[-2000:]
    assert f"above its max_model_len {MAX_MODEL_LEN}" in locust.stderr
    assert load_seen(server) == before


def test_data_prepared_with_another_tokenizer_is_refused_before_load(
    server: str, data: dict[str, Path], tmp_path: Path
) -> None:
    before = load_seen(server)
    proc = speedbench(*run_args(server, data["other"], tmp_path / "c", "--osl", "8"), key=KEY)
    assert proc.returncode == 2, proc.stderr
    assert "tokenizes differently" in proc.stderr and "speedbench data prepare" in proc.stderr
    assert "first difference at position" in proc.stderr
    assert load_seen(server) == before


def test_a_missing_or_wrong_key_is_a_clear_401_before_load(
    server: str, data: dict[str, Path], tmp_path: Path
) -> None:
    before = load_seen(server)
    missing = speedbench(*run_args(server, data["served"], tmp_path / "a", "--osl", "8"))
    assert missing.returncode == 2
    assert f"the server at {server} requires an API key (HTTP 401" in missing.stderr
    assert "SPEEDBENCH_API_KEY" in missing.stderr and "--api-key-file" in missing.stderr
    wrong = speedbench(*run_args(server, data["served"], tmp_path / "b", "--osl", "8"), key="nope")
    assert wrong.returncode == 2
    assert "refused the API key from SPEEDBENCH_API_KEY (HTTP 401" in wrong.stderr
    assert "nope" not in wrong.stderr
    assert load_seen(server) == before


def test_a_keyed_cell_and_sweep_leave_the_key_in_no_file_and_no_log(
    server: str, data: dict[str, Path], tmp_path: Path
) -> None:
    key_file = tmp_path / "secret" / "api-key"
    key_file.parent.mkdir()
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    results = tmp_path / "results"
    cell = speedbench(
        *run_args(server, data["served"], results / "cell", "--osl", "8", "--requests", "3",
                  "--warmup", "1", "--api-key-file", str(key_file)),
    )  # fmt: skip
    assert cell.returncode == 0, cell.stderr[-2000:]
    assert f"max_model_len {MAX_MODEL_LEN}" in cell.stdout and "tokenizer matches" in cell.stdout
    summary = json.loads((results / "cell" / "summary.json").read_text())
    assert summary["requests_ok"] == 3 and summary["requests_failed"] == 0

    plan = {
        "name": "keyed", "model": "served", "data": str(data["served"]),
        "servers": [{"url": server, "name": "guarded"}], "buckets": ["1k"],
        "concurrencies": [1], "osl": 8, "requests": 2, "warmup": 1,
    }  # fmt: skip
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    sweep = speedbench(
        "sweep", "--plan", str(tmp_path / "plan.yaml"), "--out", str(results / "sweep"), key=KEY
    )
    assert sweep.returncode == 0, sweep.stderr[-2000:] + sweep.stdout[-2000:]
    manifest = json.loads((results / "sweep" / "manifest.json").read_text())
    checked = manifest["servers"]["guarded"]["preflight"]
    assert checked["max_model_len"] == MAX_MODEL_LEN and checked["tokenizer_match"] is True
    report = speedbench("report", str(results / "sweep"))
    assert report.returncode == 0, report.stderr[-2000:]

    files = [p for p in results.rglob("*") if p.is_file()]
    assert {"locust.log", "requests.parquet", "report.md", "manifest.json"} <= {
        p.name for p in files
    }
    leaked = [str(p) for p in files if KEY.encode() in p.read_bytes()]
    assert leaked == []
    for proc in (cell, sweep, report):
        assert KEY not in proc.stdout + proc.stderr
