"""Multi-turn replay logic with the demo model's real tokenizer; the wire is the FAKE server
(tests/fakes), which streams ``x`` characters as its reply. The real-engine test is
tests/engine/test_conversation.py."""

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from loadgen.client.conversation import (
    StreamTap,
    conversation_setup,
    iter_turns,
    next_prompt_ids,
    replay_conversation,
)
from loadgen.client.fast import FastConnection
from loadgen.client.stream import RequestsTransport
from loadgen.client.transport import RequestSettings, Transport
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.prepared import PreparedPrompt
from loadgen.data.tokenize import TokenizeOptions, load_tokenizer, render
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer

# Both transports replay conversations: the tap reads the reply and SD metrics from either.
TRANSPORTS: dict[str, Callable[[], Transport]] = {
    "requests": lambda: RequestsTransport(requests.Session()),
    "fast": FastConnection,
}


def two_turn_prompt(tok: object) -> PreparedPrompt:
    turns = ["What is a list?", "And a tuple?"]
    first = load_ids(tok, render(tok, turns, None))
    return PreparedPrompt("q" * 32, "qualitative", "qa", None, 5, first, turns)


def load_ids(tok: object, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)  # type: ignore[attr-defined, no-any-return]


def test_second_turn_holds_first_turn_reply_and_next_question(tiny_model: Path) -> None:
    tok = load_tokenizer(str(tiny_model))
    prompt = two_turn_prompt(tok)
    assert next_prompt_ids(prompt, tok, []) == prompt.prompt_token_ids
    ids = next_prompt_ids(prompt, tok, ["A mutable sequence."])
    text = tok.decode(ids)
    order = [text.index(s) for s in ("What is a list?", "A mutable sequence.", "And a tuple?")]
    assert order == sorted(order)
    assert ids[: len(prompt.prompt_token_ids) - 3] == prompt.prompt_token_ids[:-3]
    assert ids.count(tok.bos_token_id) == 1


def test_tap_reads_text_and_vllm_per_request_sd_metrics() -> None:
    tap = StreamTap()
    lines = [
        b'data: {"choices": [{"text": "Hel"}]}',
        b"",
        b'data: {"choices": [{"text": "lo"}]}',
        b'data: {"choices": [], "metrics": {"speculative_decoding": {"num_spec_steps": 2}}}',
        b"data: [DONE]",
    ]
    for line in lines:
        tap.read(line)
    assert tap.text == "Hello" and tap.spec_decode == {"num_spec_steps": 2}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_replay_sends_each_turn_with_the_previous_reply(tiny_model: Path, transport: str) -> None:
    tok = load_tokenizer(str(tiny_model))
    prompt = two_turn_prompt(tok)
    s = TRANSPORTS[transport]()
    with FakeStreamingServer(Behaviour(ttft_s=0.0, step_s=0.0)) as srv:
        turns = replay_conversation(s, RequestSettings(srv.url, 6, None, 10.0), prompt, tok)
        sent = [body["prompt"] for body in srv.counters.requests]
    assert [t.record.ok for t in turns] == [True, True]
    assert [t.reply for t in turns] == ["x" * 6, ""]  # the last reply is not kept: none follows
    assert sent[0] == prompt.prompt_token_ids
    assert "x" * 6 in tok.decode(sent[1]) and "And a tuple?" in tok.decode(sent[1])
    assert turns[1].record.prompt_len == len(sent[1]) > len(sent[0])
    assert [(t.record.turn, t.record.turns, t.record.ends_prompt) for t in turns] == [
        (0, 2, False),
        (1, 2, True),
    ]


def test_a_failed_turn_ends_the_conversation(tiny_model: Path) -> None:
    tok = load_tokenizer(str(tiny_model))
    with FakeStreamingServer(Behaviour(status=500)) as srv, requests.Session() as s:
        settings = RequestSettings(srv.url, 4, None, 10.0)
        turns = replay_conversation(RequestsTransport(s), settings, two_turn_prompt(tok), tok)
    assert len(turns) == 1 and turns[0].record.error_kind == "http_500"
    assert turns[0].record.ends_prompt  # nothing to reply to: the prompt is finished


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_single_turn_rows_need_no_tokenizer_and_keep_per_request_sd_metrics(
    transport: str,
) -> None:
    prompt = PreparedPrompt("q" * 32, "qualitative", "math", None, 5, [1, 2, 3], ["2+2?"])
    fake = Behaviour(ttft_s=0.0, step_s=0.0, tokens_per_chunk=3, per_request_spec_metrics=True)
    s = TRANSPORTS[transport]()
    with FakeStreamingServer(fake) as srv:
        (turn,) = iter_turns(s, RequestSettings(srv.url, 7, None, 10.0), prompt, tokenizer=None)
    record = turn.record
    assert record.ok and (record.turn, record.turns) == (0, 1) and turn.reply == ""
    assert record.chunk_tokens == [1, 3, 3]  # the metrics-only chunk carries no tokens
    assert record.spec_decode is not None
    assert record.spec_decode["num_spec_steps"] == 2
    assert record.spec_decode["num_accepted_draft_tokens"] == 4


def test_setup_loads_the_prepared_sets_tokenizer_and_refuses_a_changed_one(
    tiny_model: Path, tmp_path: Path
) -> None:
    fixture = Path(__file__).parents[2] / "datasets" / "qualitative_fixture.jsonl"
    opts = TokenizeOptions(template_kwargs={"unused_flag": True})
    manifest = prepare_to_disk(
        str(fixture), ["qualitative"], str(tiny_model), tmp_path, options=opts
    ).manifest
    tok, kwargs = conversation_setup(manifest)
    assert kwargs == {"unused_flag": True} and tok.bos_token_id is not None
    changed = {**manifest, "tokenizer": {**manifest["tokenizer"], "vocab_sha256": "0" * 64}}
    with pytest.raises(ValueError, match="prepare the data set again"):
        conversation_setup(changed)
    with pytest.raises(ValueError, match="without --raw"):
        conversation_setup({**manifest, "options": {"raw": True}})
