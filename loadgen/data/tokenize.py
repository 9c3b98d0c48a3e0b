"""Render with the target model's chat template and tokenize, outside every engine.

``apply_chat_template(tokenize=False, add_generation_prompt=True)`` then ``encode(...,
add_special_tokens=False)``: the template already holds BOS, so adding special tokens again would
double it. BOS must appear exactly once, which is checked for every prompt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from loadgen.data.o200k import count_o200k
from loadgen.data.prepared import PreparedPrompt
from loadgen.data.schema import SpeedBenchRow


class TemplateError(ValueError):
    """The rendered prompt is not what the target model expects."""


def load_tokenizer(model: str, revision: str | None = None) -> Any:
    """A Hugging Face id or a local path; the same call either way."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, revision=revision)


def render(tokenizer: Any, turns: Sequence[str], template_kwargs: dict[str, Any] | None) -> str:
    messages = [{"role": "user", "content": turns[0]}]
    rendered: str = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, **(template_kwargs or {})
    )
    return rendered


def encode_prompt(tokenizer: Any, text: str, question_id: str) -> list[int]:
    ids: list[int] = tokenizer.encode(text, add_special_tokens=False)
    bos = tokenizer.bos_token_id
    if bos is not None:
        count = ids.count(bos)
        if count != 1 or ids[0] != bos:
            raise TemplateError(
                f"question_id={question_id!r}: BOS (id {bos}) appears {count} time(s)"
                f"{'' if count == 0 or ids[0] == bos else ', not first'} after templating; "
                "expected exactly once at the start. Check the chat template, or use raw "
                "completion mode for a model without one."
            )
    return ids


def tokenize_rows(
    rows: Sequence[SpeedBenchRow],
    tokenizer: Any,
    bucket: str,
    template_kwargs: dict[str, Any] | None = None,
) -> list[PreparedPrompt]:
    prompts = []
    for row in rows:
        text = render(tokenizer, row.turns, template_kwargs)
        prompts.append(
            PreparedPrompt(
                question_id=row.question_id,
                bucket=bucket,
                category=row.category,
                sub_category=row.sub_category,
                isl_o200k=count_o200k(row.turns[0]),
                prompt_token_ids=encode_prompt(tokenizer, text, row.question_id),
            )
        )
    return prompts


def tokenizer_fingerprint(tokenizer: Any) -> dict[str, str]:
    """Name and content hashes, so a result can be tied to the exact tokenizer and template."""
    vocab = sorted(tokenizer.get_vocab().items())
    template = tokenizer.chat_template or ""
    return {
        "name": str(tokenizer.name_or_path),
        "vocab_sha256": hashlib.sha256(repr(vocab).encode()).hexdigest(),
        "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest(),
    }
