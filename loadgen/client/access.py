"""How the harness reaches the configured server: its API key and the CA that signs its TLS
certificate, never taken as a plain command-line value (that would land in manifests, shell
history and ``ps``). The key comes from the environment or a file and is sent as
``Authorization: Bearer`` only to the server's own origin: not to metrics or Prometheus URLs of
another origin, and not across a redirect to another host (``requests`` strips it there).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

KEY_ENV = "SPEEDBENCH_API_KEY"
KEY_FILE_ENV = "SPEEDBENCH_API_KEY_FILE"
FALLBACK_KEY_ENV = "OPENAI_API_KEY"
CA_BUNDLE_ENV = "SPEEDBENCH_CA_BUNDLE"
KEY_VALUE_REFUSED = (
    "--api-key is not accepted on the command line (it would land in shell history, process "
    "lists and manifests): export SPEEDBENCH_API_KEY or pass --api-key-file PATH"
)


class AccessError(ValueError):
    pass


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class BearerAuth(AuthBase):
    """Adds the key to requests for one origin only; its ``repr`` never shows the key."""

    def __init__(self, key: str, server_url: str) -> None:
        self._key = key
        self._origin = origin(server_url)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin(request.url or "") == self._origin:
            request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return f"BearerAuth(origin={self._origin!r}, key=<redacted>)"


@dataclass(frozen=True)
class ServerAccess:
    url: str
    api_key: str | None = field(default=None, repr=False)
    key_origin: str | None = None  # where the key came from (an env name or a path), never it
    ca_bundle: str | None = None

    @classmethod
    def resolve(
        cls,
        url: str,
        key_file: str | None = None,
        ca_bundle: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ServerAccess:
        """Key: ``key_file`` > $SPEEDBENCH_API_KEY_FILE > $SPEEDBENCH_API_KEY > $OPENAI_API_KEY."""
        env = os.environ if env is None else env
        key_file = key_file or env.get(KEY_FILE_ENV) or None
        key, where = None, None
        if key_file:
            key, where = _read_key_file(key_file), key_file
        elif env.get(KEY_ENV):
            key, where = env[KEY_ENV].strip(), KEY_ENV
        elif env.get(FALLBACK_KEY_ENV):
            key, where = env[FALLBACK_KEY_ENV].strip(), FALLBACK_KEY_ENV
        bundle = ca_bundle or env.get(CA_BUNDLE_ENV) or None
        if bundle and not Path(bundle).is_file():
            raise AccessError(
                f"CA bundle {bundle} does not exist: pass --ca-bundle (or ${CA_BUNDLE_ENV}) the "
                "PEM file of the CA that signed the server's certificate"
            )
        return cls(url.rstrip("/"), key, where, bundle)

    def bearer_headers(self) -> dict[str, str]:
        """For a transport that only ever talks to ``url`` (no redirects followed)."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def session(self) -> requests.Session:
        """TLS verified (against ``ca_bundle`` when given); no proxy/netrc look-ups."""
        session = requests.Session()
        session.trust_env = False
        session.verify = self.ca_bundle or True
        if self.api_key:
            session.auth = BearerAuth(self.api_key, self.url)
        return session


def _read_key_file(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise AccessError(
            f"API key file {path} does not exist: write the key (one line) to a file readable "
            "only by you (chmod 600) and pass its path with --api-key-file"
        )
    key = file.read_text().strip()
    if not key:
        raise AccessError(f"API key file {path} is empty: write the server's key into it")
    return key


def export_for_children(key_file: str | None, ca_bundle: str | None) -> None:
    """Command-line paths -> environment, so Locust processes started later use the same ones
    (paths only: the key itself never appears on a command line)."""
    if key_file:
        os.environ[KEY_FILE_ENV] = str(Path(key_file).resolve())
    if ca_bundle:
        os.environ[CA_BUNDLE_ENV] = str(Path(ca_bundle).resolve())
