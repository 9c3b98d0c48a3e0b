"""Per-category acceptance from per-request figures, each labelled with its source."""

import pytest

from loadgen.analysis.categories import (
    CLIENT_AR_SOURCE,
    CLIENT_SOURCE,
    SERVER_AR_SOURCE,
    SERVER_SOURCE,
    category_acceptance,
)
from loadgen.client.record import RequestRecord


def record(
    rid: str,
    category: str,
    chunks: list[int],
    error: str | None = None,
    spec_decode: dict[str, int] | None = None,
) -> RequestRecord:
    return RequestRecord(
        request_id=rid,
        question_id="q" * 32,
        bucket="qualitative",
        category=category,
        prompt_len=10,
        max_tokens=sum(chunks),
        intended_send_ns=0,
        wall_start=0.0,
        chunk_ns=[i * 1000 for i in range(len(chunks))],
        chunk_tokens=chunks,
        error_kind=error,
        spec_decode=spec_decode,
    )


def spec(steps: int, accepted: int, k: int = 3) -> dict[str, int]:
    return {
        "num_spec_steps": steps,
        "num_draft_tokens": steps * k,
        "num_accepted_draft_tokens": accepted,
        "num_spec_tokens": k,
    }


def test_client_figures_pool_chunks_after_prefill_per_category() -> None:
    rows = category_acceptance(
        [
            record("a", "coding", [1, 4, 4, 1]),  # 3 steps, 9 tokens -> 3.0 per step
            record("b", "coding", [1, 2]),  # 1 step, 2 tokens
            record("c", "writing", [1, 1, 1, 2]),
            record("d", "writing", [1, 4, 4], error="timeout"),  # failed: left out
        ],
        num_spec_tokens=3,
    )
    assert [r.category for r in rows] == ["coding", "writing"]
    coding, writing = rows
    assert coding.requests == 2 and coding.client.source == CLIENT_SOURCE
    assert coding.client.acceptance_length == pytest.approx(11 / 4)
    assert coding.client.acceptance_rate == pytest.approx((11 - 4) / (4 * 3))
    assert writing.client.acceptance_length == pytest.approx(4 / 3)
    assert coding.server is None


def test_server_figures_come_from_vllm_per_request_metrics_where_present() -> None:
    records = [
        record("a", "coding", [1, 4], spec_decode=spec(10, 20)),
        record("b", "coding", [1, 2], spec_decode=spec(10, 5)),
        record("c", "qa", [1]),
    ]
    coding, qa = category_acceptance(records)
    assert coding.server is not None and coding.server.source == SERVER_SOURCE
    assert coding.server.acceptance_length == pytest.approx(1 + 25 / 20)
    assert coding.server.acceptance_rate == pytest.approx(25 / 60)
    assert qa.server is None and qa.client.acceptance_length is None  # no decode step at all
    assert coding.to_dict()["server"]["source"] == SERVER_SOURCE
    # the draft length k for the client's rate defaults to the one the server reported
    assert coding.client.acceptance_rate == pytest.approx((6 - 2) / (2 * 3))


def test_client_rate_is_unknown_without_the_draft_length() -> None:
    (row,) = category_acceptance([record("a", "math", [1, 3, 3])])
    assert row.client.acceptance_length == 3.0 and row.client.acceptance_rate is None


def test_conditional_ar_per_category_from_server_histograms_where_every_request_has_one() -> None:
    hist = {"acceptance_histogram": [2, 4, 3, 1]}  # reached 10, 8, 4, 1
    records = [
        record("a", "coding", [1, 4], spec_decode={**spec(5, 8), **hist}),
        record("b", "coding", [1, 2], spec_decode={**spec(5, 8), **hist}),
        record("c", "qa", [1, 1, 2, 3, 3]),  # accepted 0, 1, 2, 2 -> reached 4, 3, 2, 0
    ]
    coding, qa = category_acceptance(records)
    assert coding.conditional_ar is not None and qa.conditional_ar is not None
    assert coding.conditional_ar.source == SERVER_AR_SOURCE
    assert coding.conditional_ar.values == pytest.approx([0.8, 0.5, 0.25])
    assert qa.conditional_ar.source == CLIENT_AR_SOURCE  # k = 3 from the server's reports
    assert qa.conditional_ar.values == [0.75, pytest.approx(2 / 3), 0.0]
    assert coding.to_dict()["conditional_ar"]["source"] == SERVER_AR_SOURCE
