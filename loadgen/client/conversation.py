"""Multi-turn replay: each user turn is sent after the model's own reply to the previous one.

SPEED-Bench's qualitative rows hold several user turns. Turn k's prompt is the whole
conversation so far (user turns and the model's real replies) re-rendered with the chat template
and tokenized, exactly like a chat front end would do. The reply text is read from the stream
(``choices[0].text``) by a tap the transport shows every line to once its arrival is stamped, so
the timing path (``run_prompt``) is unchanged;
the same tap keeps vLLM's per-request SD metrics (``--per-request-spec-decode-metrics``), which
arrive in the final usage chunk as ``metrics.speculative_decoding``. Single-turn rows go the same
way (one turn), so every record of a run can carry those metrics.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.client.record import RequestRecord
from loadgen.client.sse import DONE, StreamError, iter_events
from loadgen.client.transport import RequestSettings, Transport
from loadgen.data.prepared import MANIFEST_FILE, PreparedPrompt
from loadgen.data.tokenize import (
    check_bos,
    encode_texts,
    load_tokenizer,
    render,
    tokenizer_fingerprint,
)


def conversation_setup(manifest: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The tokenizer a prepared set was built with (checked by content hash) and its chat
    template kwargs: later turns must be templated exactly like the first one was."""
    if manifest.get("options", {}).get("raw"):
        raise ValueError(
            "this data set was prepared in raw completion mode; multi-turn replay needs the chat "
            "template: prepare it again without --raw"
        )
    recorded = manifest["tokenizer"]
    tokenizer = load_tokenizer(recorded["name"])
    if tokenizer_fingerprint(tokenizer) != recorded:
        raise ValueError(
            f"tokenizer {recorded['name']!r} differs from the one this data set was prepared "
            "with (vocabulary or chat template hash): prepare the data set again"
        )
    return tokenizer, dict(manifest.get("template_kwargs") or {})


@dataclass(frozen=True)
class Templating:
    """How later turns are rendered: the prepared set's own tokenizer and template kwargs."""

    tokenizer: Any = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)


def needs_templating(prompts: Sequence[PreparedPrompt]) -> bool:
    return any(len(p.turns) > 1 for p in prompts)


def templating_for(data_dir: Path, prompts: Sequence[PreparedPrompt]) -> Templating:
    """Only multi-turn rows need a tokenizer (loaded once per process); single-turn runs load
    none, so throughput runs never import ``transformers``."""
    if not needs_templating(prompts):
        return Templating()
    manifest = json.loads((data_dir / MANIFEST_FILE).read_text())
    tokenizer, template_kwargs = conversation_setup(manifest)
    return Templating(tokenizer, template_kwargs)


def next_prompt_ids(
    prompt: PreparedPrompt,
    tokenizer: Any,
    replies: Sequence[str],
    template_kwargs: dict[str, Any] | None = None,
) -> list[int]:
    """Token ids of turn ``len(replies)``: the conversation so far, templated as a whole."""
    if not replies:
        return prompt.prompt_token_ids  # turn 0 was prepared offline, byte-identical
    text = render(tokenizer, prompt.turns, template_kwargs, replies)
    ids = encode_texts(tokenizer, [text])[0]
    check_bos(tokenizer, ids, prompt.question_id)
    return ids


@dataclass
class StreamTap:
    """What the stream said beyond timings: the reply text and per-request SD metrics."""

    keep_text: bool = True  # False when no later turn needs the reply
    text_parts: list[str] = field(default_factory=list)
    spec_decode: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def read(self, line: bytes) -> None:
        """One raw line of the stream (a ``LineObserver``): kept if it holds what the tap wants."""
        if not self.keep_text and b"speculative_decoding" not in line:
            return  # a cheap byte search instead of a second JSON parse of every chunk
        try:
            events = list(iter_events([line]))
        except StreamError:
            return  # the timing consumer reports broken streams; the tap only reads
        for event in events:
            if event.payload is DONE or not isinstance(event.payload, dict):
                continue
            choices = event.payload.get("choices") or []
            if (
                self.keep_text
                and choices
                and isinstance(choices, list)
                and isinstance(choices[0], dict)
                and choices[0].get("text")
            ):
                self.text_parts.append(choices[0]["text"])
            metrics = event.payload.get("metrics") or {}
            if metrics.get("speculative_decoding") is not None:
                self.spec_decode = metrics["speculative_decoding"]


@dataclass
class TurnResult:
    record: RequestRecord  # carries turn / turns and vLLM's per-request SD metrics
    reply: str  # "" for the last turn: no later turn needs it, so it is not parsed


def iter_turns(
    transport: Transport,
    settings: RequestSettings,
    prompt: PreparedPrompt,
    tokenizer: Any = None,
    template_kwargs: dict[str, Any] | None = None,
    intended_send_ns: int | None = None,
) -> Iterator[TurnResult]:
    """Each turn of the row in order, sent when the caller asks for it; stops after the first
    failed turn (no reply to append). ``tokenizer`` is needed only for rows of several turns;
    ``intended_send_ns`` (open loop) belongs to the first turn, later turns follow their reply."""
    count = max(1, len(prompt.turns))
    replies: list[str] = []
    for turn in range(count):
        ids = next_prompt_ids(prompt, tokenizer, replies, template_kwargs)
        tap = StreamTap(keep_text=turn + 1 < count)
        turn_prompt = dataclasses.replace(prompt, prompt_token_ids=ids)
        intended = intended_send_ns if turn == 0 else None
        record = settings.send(transport, turn_prompt, intended, observe=tap.read)
        record.turn, record.turns, record.spec_decode = turn, count, tap.spec_decode
        yield TurnResult(record, tap.text)
        if not record.ok:
            return
        replies.append(tap.text)


def replay_conversation(
    transport: Transport,
    settings: RequestSettings,
    prompt: PreparedPrompt,
    tokenizer: Any,
    template_kwargs: dict[str, Any] | None = None,
) -> list[TurnResult]:
    """Every turn of the row, one after the other."""
    return list(iter_turns(transport, settings, prompt, tokenizer, template_kwargs))
