"""Bad input refused before any load, against the FAKE streaming server (vLLM's wire format and
model card; it has no tokenizer). The real server's answers are tested in
tests/engine/test_preflight_vllm.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.cell import LOCUSTFILE
from loadgen.client.access import ServerAccess
from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.data.schema import PLACEHOLDER
from loadgen.preflight import PreflightError, PreflightReport, preflight
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer


def write_set(directory: Path, lengths: list[int], turns: list[str] | None = None) -> Path:
    """A prepared set without a tokenizer: prompts of the given token lengths."""
    prompts = [
        PreparedPrompt(
            question_id=f"{i:032d}", bucket="1k", category="mixed", sub_category=None,
            isl_o200k=1000, prompt_token_ids=list(range(5, 5 + n)),
            turns=[turns[i] if turns else f"prompt {i}"],
        )
        for i, n in enumerate(lengths)
    ]  # fmt: skip
    manifest = {
        "tokenizer": {"name": "fake-tokenizer"},
        "tokenizer_probe": {"text": "x", "ids": [1]},
    }
    return PreparedSet(prompts, manifest).write(directory)


def check(
    url: str, data: Path, osl: int = 10, engine: str = "vllm", model: str | None = None
) -> tuple[PreflightReport, list[str]]:
    warnings: list[str] = []
    report = preflight(
        ServerAccess(url), engine, model, data, ["1k"], 0, None, osl, warn=warnings.append
    )
    return report, warnings


def test_a_run_that_fits_passes_and_says_what_it_could_not_check(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [50, 80])
    with FakeStreamingServer(Behaviour(max_model_len=1000)) as fake:
        report, warnings = check(fake.url, data, osl=100)
    assert report.max_model_len == 1000 and report.longest_request == 180
    assert report.model == "fake" and report.tokenizer_match is None
    assert any("/tokenize answered HTTP 404" in w for w in warnings), warnings
    assert fake.counters.requests == []  # no completion was sent
    assert "max_model_len 1000" in report.describe()


def test_prompt_plus_output_above_the_servers_limit_is_refused(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [50, 80])
    fake = FakeStreamingServer(Behaviour(max_model_len=120))
    with fake, pytest.raises(PreflightError) as refused:
        check(fake.url, data, osl=50)
    message = str(refused.value)
    assert "1 of 2 prompts are too long" in message and "max_model_len 120" in message
    assert "lower --osl to at most 40" in message and "(at least 130)" in message
    assert fake.counters.requests == []


def test_an_unknown_engine_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown engine 'tgi': use one of \['sglang', 'trtllm'"):
        check("http://127.0.0.1:9", write_set(tmp_path / "d", [5]), engine="tgi")


def test_an_engine_that_cannot_tell_is_warned_about_never_guessed(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [50])
    with FakeStreamingServer(Behaviour(max_model_len=10)) as fake:  # trtllm reads no length
        report, warnings = check(fake.url, data, engine="trtllm")
    assert report.max_model_len is None
    assert any("trtllm does not report its maximum model length" in w for w in warnings)
    assert any("trtllm has no tokenize endpoint" in w for w in warnings)


def test_the_requested_model_must_be_served(tmp_path: Path) -> None:
    with FakeStreamingServer() as fake, pytest.raises(PreflightError) as refused:
        check(fake.url, write_set(tmp_path / "d", [5]), model="llama")
    assert "serves ['fake'], not model 'llama'" in str(refused.value)


def test_a_url_with_a_path_is_not_mistaken_for_a_server(tmp_path: Path) -> None:
    with FakeStreamingServer() as fake, pytest.raises(PreflightError) as refused:
        check(fake.url + "/v1", write_set(tmp_path / "d", [5]))
    assert "answered 404 for /v1/models" in str(refused.value)
    assert "without a path" in str(refused.value)


def test_an_unreachable_url_is_named_with_the_likely_fix(tmp_path: Path) -> None:
    with FakeStreamingServer() as fake:
        url = fake.url  # the port is closed once the fake has stopped
    with pytest.raises(PreflightError) as refused:
        check(url, write_set(tmp_path / "d", [5]))
    assert f"cannot reach the server at {url} (connection refused)" in str(refused.value)
    assert "Check --url" in str(refused.value)


def test_placeholder_and_empty_prompts_are_refused_without_contacting_the_server(
    tmp_path: Path,
) -> None:
    placeholder = write_set(tmp_path / "p", [5, 5], turns=["fine", f"x {PLACEHOLDER} y"])
    empty = write_set(tmp_path / "e", [5, 0])
    with FakeStreamingServer() as fake:
        with pytest.raises(PreflightError, match=r"placeholder text .* --skip-placeholders"):
            check(fake.url, placeholder)
        with pytest.raises(PreflightError, match=r"no token ids .* `speedbench data prepare`"):
            check(fake.url, empty)
    assert fake.counters.seen == []


def test_a_run_needing_more_prompts_than_the_bucket_holds_is_refused(tmp_path: Path) -> None:
    data = write_set(tmp_path / "d", [5, 5, 5])
    with pytest.raises(PreflightError, match="has 3 prompts; this run needs 4 from prompt 0"):
        preflight(ServerAccess("http://127.0.0.1:9"), "vllm", None, data, ["1k"], 0, 4, 8)


def test_the_locust_file_refuses_before_its_users_start(tmp_path: Path) -> None:
    """``locust -f loadgen/speed.py``: test_start runs the preflight; exit code 2, nothing sent."""
    data = write_set(tmp_path / "d", [50, 80])

    def locust(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "1",
             "-t", "30s", "--host", url, "--data", str(data), "--out", str(tmp_path / "o"),
             "--osl", "50", "--warmup", "0", "--only-summary", *extra],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    with FakeStreamingServer(Behaviour(max_model_len=120)) as fake:
        too_long = locust(fake.url)
        keyed = locust(fake.url, "--api-key", "sk-on-the-command-line")
    assert too_long.returncode == 2 and "max_model_len 120" in too_long.stderr
    assert keyed.returncode == 2 and "export SPEEDBENCH_API_KEY" in keyed.stderr
    assert "sk-on-the-command-line" not in keyed.stderr + keyed.stdout
    assert fake.counters.requests == []
