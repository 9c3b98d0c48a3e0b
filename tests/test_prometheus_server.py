"""The test helper that starts a real Prometheus fails clearly when it cannot: a Prometheus that
never becomes ready, or dies, stops the test with its log, not with a later obscure failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.prometheus_server import running_prometheus


def fake_prometheus(bin_dir: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir.mkdir()
    script = bin_dir / "prometheus"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("echo 'listening nowhere'; exec sleep 30", r"not ready at .* after 1 s: listening nowhe"),
        ("echo 'unknown flag'; exit 3", r"exited \(3\) before ready: unknown flag"),
    ],
)
def test_a_prometheus_that_never_gets_ready_fails_the_test_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, message: str
) -> None:
    fake_prometheus(tmp_path / "bin", body, monkeypatch)
    prometheus = running_prometheus(["127.0.0.1:1"], "/metrics", tmp_path / "w", ready_timeout_s=1)
    with pytest.raises(pytest.fail.Exception, match=message), prometheus:
        pytest.fail("yielded a Prometheus that was not ready")
