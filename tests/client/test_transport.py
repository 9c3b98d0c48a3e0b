"""Which HTTP client a run uses (``transport.choose_transport``)."""

from __future__ import annotations

import pytest

from loadgen.client.transport import choose_transport


def test_auto_takes_fast_for_plain_http_and_requests_for_https() -> None:
    assert choose_transport("auto", "http://127.0.0.1:8000") == "fast"  # least client-side error
    assert choose_transport("auto", "https://engine.example:443") == "requests"  # TLS


def test_an_explicit_choice_is_kept_or_refused_with_the_fix() -> None:
    assert choose_transport("requests", "http://h:1") == "requests"
    assert choose_transport("fast", "http://h:1") == "fast"
    with pytest.raises(ValueError, match="plain http only: use --transport requests"):
        choose_transport("fast", "https://h:1")
    with pytest.raises(ValueError, match="choose one of auto, requests, fast"):
        choose_transport("curl", "http://h:1")
