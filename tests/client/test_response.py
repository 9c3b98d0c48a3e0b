"""The error kinds and end-of-stream checks are written once (``client.response``): both
transports, given the same injected fault, record the same kind and keep the same chunks; the
mapping from a transport's failure to a kind is checked on its own."""

from collections.abc import Callable

import pytest
import requests

from loadgen.client.fast import FastConnection
from loadgen.client.record import RequestRecord
from loadgen.client.response import Failure, failure_kind, read_stream
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
        b"",  # after [DONE]: read (untimed) and still shown to the observer
    ]
    seen: list[bytes] = []
    record: RequestRecord = make_record(4)
    read_stream(iter([(10, line) for line in lines]), record, seen.append)
    assert seen == lines
    assert record.chunk_ns == [10] and record.end_ns == 10
    assert record.error_kind == "short_output" and record.error == "1 of 4 tokens"
