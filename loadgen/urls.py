"""Every URL a user gives (server, metrics, Prometheus) is checked once, where it is read, so a
bad one is refused before anything is created or sent, with the fix.

Credentials in a URL (``http://user:password@host``) are refused: the URL is written to manifests,
the Locust command line and its log, and echoed on the console, so a password in it would leak
there. Refusal messages show the URL with its password replaced.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from loadgen.redact import REDACTED

SCHEMES = ("http", "https")


def without_password(url: str) -> str:
    """The URL with the password of its userinfo (if any) replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:{REDACTED}@{host}").geturl()


def check_url(url: str, what: str) -> str:
    """``url`` unchanged if it is an http(s) URL with a host and no credentials; else ValueError
    naming ``what`` (the flag or plan key) and the fix."""
    shown = without_password(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number in range)
    except ValueError as exc:
        raise ValueError(f"{what} {shown!r} is not a valid URL ({exc}): fix its port") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(
            f"{what} {shown!r} needs a scheme and a host: write it as http://HOST:PORT (or "
            "https://...)"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"{what} {shown!r} holds credentials, which would be written to manifests and logs: "
            "remove USER:PASSWORD@ from it; for a server's API key export SPEEDBENCH_API_KEY or "
            "pass --api-key-file PATH"
        )
    return url
