"""Which HTTP client a run uses (``dispatch.choose_transport``)."""

from __future__ import annotations

import pytest

from loadgen.dispatch import choose_transport


@pytest.mark.parametrize(
    ("url", "multi_turn", "chosen"),
    [
        ("http://127.0.0.1:8000", False, "fast"),  # the least client-side error
        ("https://engine.example:443", False, "requests"),  # TLS: fast speaks plain http
        ("http://127.0.0.1:8000", True, "requests"),  # a later turn needs the reply text
    ],
)
def test_auto_takes_fast_wherever_it_can_serve_the_run(
    url: str, multi_turn: bool, chosen: str
) -> None:
    assert choose_transport("auto", url, multi_turn) == chosen


def test_an_explicit_choice_is_kept_or_refused_with_the_fix() -> None:
    assert choose_transport("requests", "http://h:1", False) == "requests"
    assert choose_transport("fast", "http://h:1", False) == "fast"
    with pytest.raises(ValueError, match="plain http only: use --transport requests"):
        choose_transport("fast", "https://h:1", False)
    with pytest.raises(ValueError, match="single-turn rows only"):
        choose_transport("fast", "http://h:1", True)
    with pytest.raises(ValueError, match="choose one of auto, requests, fast"):
        choose_transport("curl", "http://h:1", False)
