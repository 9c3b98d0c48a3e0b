"""The error kinds and end-of-stream checks are written once (``client.response``): both
transports, given the same injected fault, record the same kind and keep the same chunks; the
mapping from a transport's failure to a kind is checked on its own."""

import time
from collections.abc import Callable

import pytest
import requests

from loadgen.client.fast import FastConnection
from loadgen.client.record import RequestRecord
from loadgen.client.response import DRAIN_TIMEOUT_S, Failure, failure_kind, read_stream
from loadgen.client.stream import RequestsTransport, completion_body
from loadgen.client.transport import Transport
from tests.client.test_stream import FAULT_OUTCOMES, make_record
from tests.fakes.fault_server import RETRY_AFTER_S, FaultPlan, FaultServer

TRANSPORTS: dict[str, Callable[[], Transport]] = {
    "requests": lambda: RequestsTransport(requests.Session()),
    "fast": FastConnection,
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", FAULT_OUTCOMES)
def test_both_transports_record_each_fault_by_the_same_kind(fault: str, transport: str) -> None:
    kind, chunks, _ = FAULT_OUTCOMES[fault]
    client = TRANSPORTS[transport]()
    with FaultServer(FaultPlan([fault])) as server:
        body = completion_body([1, 2], 11, None)
        record = client.send(server.url + "/v1/completions", body, make_record(11), 0.5)
    client.close()
    assert record.error_kind == kind, record.error
    assert len(record.chunk_tokens) == chunks
    assert record.end_ns >= record.send_ns > 0
    if fault == "http_429":  # the wait the server asked for is kept, whichever transport
        assert f"Retry-After: {RETRY_AFTER_S}; " in (record.error or "")


def test_failures_before_the_headers_and_after_them_have_their_own_kinds() -> None:
    before = [failure_kind(f, streaming=False) for f in Failure]
    after = [failure_kind(f, streaming=True) for f in Failure]
    assert before == ["timeout", "connection", "request"]
    assert after == ["stalled", "truncated", "request"]


def test_the_observer_sees_every_line_after_its_stamp_and_short_output_is_flagged() -> None:
    lines = [
        b'data: {"choices": [{"text": "a"}], "usage": {"completion_tokens": 1}}',
        b"data: [DONE]",
        b"",  # after [DONE]: the request has ended; the transport reads the rest
    ]
    seen: list[bytes] = []
    record: RequestRecord = make_record(4)
    read_stream(iter([(10, line) for line in lines]), record, seen.append)
    assert seen == lines[:2]
    assert record.chunk_ns == [10] and record.end_ns == 10
    assert record.error_kind == "short_output" and record.error == "1 of 4 tokens"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_done_ends_the_request_even_if_the_server_holds_the_connection(transport: str) -> None:
    """Issue 17 item 10: every token and [DONE] arrived; the held connection costs at most the
    drain timeout and is then dropped, and the next request gets a fresh one."""
    client = TRANSPORTS[transport]()
    with FaultServer(FaultPlan(["done_hold", "ok"])) as server:
        url, body = server.url + "/v1/completions", completion_body([1, 2], 11, None)
        started = time.monotonic()
        held = client.send(url, body, make_record(11), 30.0)
        took = time.monotonic() - started
        after = client.send(url, body, make_record(11), 30.0)
    client.close()
    assert held.ok and held.output_tokens == 11 and len(held.chunk_tokens) == 6, held.error
    assert took < DRAIN_TIMEOUT_S + 5 and held.e2e_ms < 1000 * took
    assert after.ok and after.output_tokens == 11


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("fault", "note"),
    [
        ("usage_double", "usage 22 is above the 11 asked for"),
        ("usage_drop", "usage went down to 6 after 9"),
        ("ok", None),
    ],
)
def test_usage_that_disagrees_with_the_stream_is_kept_beside_it_and_noted(
    transport: str, fault: str, note: str | None
) -> None:
    """Issue 17 item 8: never a negative chunk; both counts in the record; the note says how they
    disagree (the cell turns notes into a flag)."""
    client = TRANSPORTS[transport]()
    with FaultServer(FaultPlan([fault])) as server:
        body = completion_body([1, 2], 11, None)
        record = client.send(server.url + "/v1/completions", body, make_record(11), 5.0)
    client.close()
    assert min(record.chunk_tokens) >= 0 and record.token_count_note == note
    assert record.stream_output_tokens == (11 if fault == "usage_double" else 6)
    assert record.usage_output_tokens == {"usage_double": 22, "usage_drop": 6}.get(fault, 11)
