"""API key sources, the key bound to the server's origin (not metrics of another origin, not
across a redirect to another host), and TLS verified by default, with a CA bundle to trust a
private CA. Servers are the FAKE streaming server (also over HTTPS with a certificate made in
the test) and a FAKE redirector."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loadgen.client.access import AccessError, ServerAccess
from loadgen.client.stream import RequestsTransport
from loadgen.client.transport import run_prompt
from loadgen.data.prepared import PreparedSet
from loadgen.preflight import PreflightError, preflight
from tests.fakes.streaming_server import FakeStreamingServer
from tests.test_preflight import write_set
from tests.tls import make_pki

KEY = "sk-test-0123456789abcdef"


def test_key_sources_in_order_and_never_in_a_repr(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    env = {"SPEEDBENCH_API_KEY": "from-env", "OPENAI_API_KEY": "openai"}
    assert ServerAccess.resolve("http://h/", str(key_file), env=env).api_key == "from-file"
    assert ServerAccess.resolve("http://h", env={**env, "SPEEDBENCH_API_KEY_FILE": str(key_file)})
    picked = ServerAccess.resolve("http://h", env=env)
    assert (picked.api_key, picked.key_origin) == ("from-env", "SPEEDBENCH_API_KEY")
    assert ServerAccess.resolve("http://h", env={"OPENAI_API_KEY": "openai"}).api_key == "openai"
    assert ServerAccess.resolve("http://h", env={}).api_key is None
    assert "from-env" not in repr(picked) and "from-env" not in repr(picked.session().auth)


def test_a_missing_or_empty_key_file_or_ca_bundle_is_named(tmp_path: Path) -> None:
    with pytest.raises(AccessError, match=r"API key file .*nope does not exist"):
        ServerAccess.resolve("http://h", str(tmp_path / "nope"), env={})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(AccessError, match="is empty"):
        ServerAccess.resolve("http://h", str(tmp_path / "empty"), env={})
    with pytest.raises(AccessError, match=r"CA bundle .* does not exist: pass --ca-bundle"):
        ServerAccess.resolve("https://h", ca_bundle=str(tmp_path / "ca.pem"), env={})


def test_the_key_goes_to_the_servers_origin_only() -> None:
    with FakeStreamingServer() as server, FakeStreamingServer() as metrics:
        session = ServerAccess(server.url, KEY).session()
        session.get(server.url + "/v1/models", timeout=5)
        session.get(metrics.url + "/metrics", timeout=5)  # another port: another origin
        session.close()
    assert server.counters.seen == [("/v1/models", f"Bearer {KEY}")]
    assert metrics.counters.seen == [("/metrics", None)]


@contextmanager
def redirector(target: str) -> Iterator[str]:
    """FAKE: answers every GET with a 302 to the same path on ``target``; records headers."""
    seen: list[str | None] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [f"Bearer {KEY}"]  # the configured server itself got the key


def test_the_key_does_not_follow_a_redirect_to_another_host() -> None:
    with FakeStreamingServer() as elsewhere, redirector(elsewhere.url) as server:
        with ServerAccess(server, KEY).session() as session:
            response = session.get(server + "/v1/models", timeout=5)
        assert response.status_code == 200 and response.json()["data"][0]["id"] == "fake"
    assert elsewhere.counters.seen == [("/v1/models", None)]


def test_tls_is_verified_by_default_and_a_ca_bundle_trusts_a_private_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    data = write_set(tmp_path / "d", [5, 6])
    with FakeStreamingServer(tls=pki.server_context()) as fake:
        assert fake.url.startswith("https://127.0.0.1:")
        with pytest.raises(PreflightError) as refused:
            preflight(ServerAccess(fake.url), "vllm", None, data, ["1k"], 0, None, 4)
        message = str(refused.value)
        assert f"TLS verification of {fake.url} failed (certificate verify failed:" in message
        assert "--ca-bundle PATH" in message
        trusted = ServerAccess.resolve(fake.url, ca_bundle=str(pki.ca_pem), env={})
        report = preflight(trusted, "vllm", None, data, ["1k"], 0, None, 4, warn=lambda _: None)
        assert report.max_model_len is not None
        prompt = PreparedSet.read(data).bucket("1k")[0]
        with trusted.session() as session:
            record = run_prompt(RequestsTransport(session), fake.url, prompt, 4, None, 10.0)
    assert record.ok and record.output_tokens == 4, record.error
    assert len(fake.counters.requests) == 1  # only the trusted request reached the server
