"""Render with the target model's chat template and tokenize, outside every engine.

``apply_chat_template(tokenize=False, add_generation_prompt=True)`` then ``encode(...,
add_special_tokens=False)``: the template already holds BOS, so adding special tokens again would
double it. BOS must appear exactly once, which is checked for every prompt. Raw completion mode
skips the template and puts the tokenizer's BOS (if it has one) in front of the text.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loadgen.data.corpus import prose_paragraphs
from loadgen.data.o200k import bucket_tokens, count_o200k
from loadgen.data.prepared import PreparedPrompt
from loadgen.data.schema import SpeedBenchRow

# Content placeholder used to find where the template's framing ends and the user text begins.
_MARKER = "\u2063SPEEDBENCH-CONTENT\u2063"


class TemplateError(ValueError):
    """The rendered prompt is not what the target model expects."""


@dataclass(frozen=True)
class TokenizeOptions:
    """How rows become token ids; part of the cache key of a prepared set."""

    raw: bool = False  # completion mode: no chat template
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    exact_isl: bool = False  # pad / truncate each prompt to the bucket's nominal length

    def as_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "template_kwargs": self.template_kwargs,
            "exact_isl": self.exact_isl,
        }


def load_tokenizer(model: str, revision: str | None = None) -> Any:
    """A Hugging Face id or a local path; the same call either way."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, revision=revision)


def conversation(turns: Sequence[str], replies: Sequence[str] = ()) -> list[dict[str, str]]:
    """User turns interleaved with the model's replies so far, ending on the next user turn."""
    messages = []
    for turn, reply in itertools.zip_longest(turns[: len(replies) + 1], replies):
        messages.append({"role": "user", "content": turn})
        if reply is not None:
            messages.append({"role": "assistant", "content": reply})
    return messages


def render(
    tokenizer: Any,
    turns: Sequence[str],
    template_kwargs: dict[str, Any] | None,
    replies: Sequence[str] = (),
) -> str:
    """The whole conversation up to the next user turn, templated for generation."""
    if tokenizer.chat_template is None:
        raise TemplateError(
            f"tokenizer {tokenizer.name_or_path!r} has no chat template: use raw completion "
            "mode (--raw) or a model that ships one"
        )
    rendered: str = tokenizer.apply_chat_template(
        conversation(turns, replies),
        tokenize=False,
        add_generation_prompt=True,
        **(template_kwargs or {}),
    )
    return rendered


def check_bos(tokenizer: Any, ids: Sequence[int], question_id: str) -> None:
    bos = tokenizer.bos_token_id
    if bos is None:
        return
    count = ids.count(bos)
    if count != 1 or ids[0] != bos:
        raise TemplateError(
            f"question_id={question_id!r}: BOS (id {bos}) appears {count} time(s)"
            f"{'' if count == 0 or ids[0] == bos else ', not first'} after templating; "
            "expected exactly once at the start. Check the chat template, or use raw "
            "completion mode for a model without one."
        )


def encode_prompt(tokenizer: Any, text: str, question_id: str) -> list[int]:
    ids: list[int] = tokenizer.encode(text, add_special_tokens=False)
    check_bos(tokenizer, ids, question_id)
    return ids


def encode_texts(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Batch encoding through the fast (Rust) tokenizer, which runs on every core."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return [tokenizer.encode(t, add_special_tokens=False) for t in texts]
    return [e.ids for e in backend.encode_batch_fast(list(texts), add_special_tokens=False)]


class PromptEncoder:
    """Turns validated rows into prepared prompts for one tokenizer and one set of options."""

    def __init__(self, tokenizer: Any, options: TokenizeOptions) -> None:
        self.tokenizer = tokenizer
        self.options = options
        self._framing: tuple[list[int], list[int]] | None = None
        self._filler: list[int] = []
        self._prose = prose_paragraphs()

    def encode_rows(self, rows: Sequence[SpeedBenchRow], bucket: str) -> list[PreparedPrompt]:
        return self.finish_rows(rows, self.encode_ids(rows, bucket), bucket)

    def encode_ids(self, rows: Sequence[SpeedBenchRow], bucket: str) -> list[list[int]]:
        """The target model's token ids of each row's first prompt (the costly half: the fast
        tokenizer's batch encode, which runs without the GIL on every core)."""
        if self.options.exact_isl:
            return self._exact(rows, bucket)
        if self.options.raw:
            prefix, _ = self.framing()
            bodies = encode_texts(self.tokenizer, [r.turns[0] for r in rows])
            return [prefix + body for body in bodies]
        texts = [render(self.tokenizer, r.turns, self.options.template_kwargs) for r in rows]
        return encode_texts(self.tokenizer, texts)

    def finish_rows(
        self, rows: Sequence[SpeedBenchRow], ids: Sequence[list[int]], bucket: str
    ) -> list[PreparedPrompt]:
        """BOS check, o200k length and metadata: Python-side work that ``prepare`` overlaps with
        the next batch's ``encode_ids``."""
        prompts = []
        for row, prompt_ids in zip(rows, ids, strict=True):
            check_bos(self.tokenizer, prompt_ids, row.question_id)
            prompts.append(
                PreparedPrompt(
                    question_id=row.question_id,
                    bucket=bucket,
                    category=row.category,
                    sub_category=row.sub_category,
                    isl_o200k=count_o200k(row.turns[0]),
                    prompt_token_ids=prompt_ids,
                    turns=list(row.turns),
                )
            )
        return prompts

    def framing(self) -> tuple[list[int], list[int]]:
        """Token ids the template puts before and after the user's text (BOS alone in raw mode)."""
        if self._framing is None:
            if self.options.raw:
                bos = self.tokenizer.bos_token_id
                self._framing = ([bos] if bos is not None else [], [])
            else:
                text = render(self.tokenizer, [_MARKER], self.options.template_kwargs)
                before, _, after = text.partition(_MARKER)
                prefix, suffix = encode_texts(self.tokenizer, [before, after])
                self._framing = (prefix, suffix)
        return self._framing

    def _exact(self, rows: Sequence[SpeedBenchRow], bucket: str) -> list[list[int]]:
        """Framing kept whole; the user's text truncated at its end, or padded after it."""
        if not bucket[:-1].isdigit():
            raise ValueError(
                f"--exact-isl needs a throughput bucket (1k ... 32k); {bucket!r} has no nominal "
                "length"
            )
        prefix, suffix = self.framing()
        budget = bucket_tokens(bucket) - len(prefix) - len(suffix)
        bodies = encode_texts(self.tokenizer, [r.turns[0] for r in rows])
        return [prefix + self._fit(body, budget) + suffix for body in bodies]

    def _fit(self, body: list[int], budget: int) -> list[int]:
        if len(body) >= budget:
            return body[:budget]
        need = budget - len(body)
        while len(self._filler) < need:
            self._filler += self._more_filler()
        return body + self._filler[:need]

    def _more_filler(self) -> list[int]:
        """Real prose from the reference manual, never the prompt's own text: repeating the
        prompt would hand n-gram drafters free matches and flatter SD."""
        paragraphs = list(itertools.islice(self._prose, 200))
        if not paragraphs:
            raise RuntimeError(
                "the offline filler corpus is exhausted; this --exact-isl is too long"
            )
        return encode_texts(self.tokenizer, ["\n\n" + "\n\n".join(paragraphs)])[0]


def tokenizer_fingerprint(tokenizer: Any) -> dict[str, str]:
    """Name and content hashes, so a result can be tied to the exact tokenizer and template."""
    vocab = sorted(tokenizer.get_vocab().items())
    template = tokenizer.chat_template or ""
    return {
        "name": str(tokenizer.name_or_path),
        "vocab_sha256": hashlib.sha256(repr(vocab).encode()).hexdigest(),
        "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest(),
    }


# Prose, code, digits, accents and CJK: two tokenizers that split it alike are the same tokenizer
# for all practical purposes; ``loadgen.preflight`` asks the server to tokenize it too.
PROBE_TEXT = (
    "SPEED-Bench probe: def area(r):\n    return 3.14159 * r ** 2  # radius\n"
    "Ünïcödé café naïve 東京 123456789 The quick brown fox jumps over the lazy dog."
)


def tokenizer_probe(tokenizer: Any) -> dict[str, Any]:
    """The probe text and its ids (no special tokens), kept in the prepared set's manifest."""
    ids = tokenizer.encode(PROBE_TEXT, add_special_tokens=False)
    return {"text": PROBE_TEXT, "ids": [int(i) for i in ids], "vocab_size": len(tokenizer)}
