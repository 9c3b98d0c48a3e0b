"""Secrets out of everything the harness writes: launch commands, environments, variant dumps.

A name is secret when one of its words (split on ``-``, ``_``, ``.``) is a secret word:
``--api-key``, ``HF_TOKEN``, ``VLLM_API_KEY``, ``client_secret``; counts such as
``num_speculative_tokens`` or ``--max-num-batched-tokens`` and ``--tokenizer`` are not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

REDACTED = "<redacted>"
SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "credential", "credentials"}
)


def is_secret_name(name: str) -> bool:
    words = re.split(r"[-_.]+", name.strip("-").lower())
    return any(w in SECRET_WORDS for w in words)


def redact_args(args: Sequence[str]) -> list[str]:
    """``--api-key X`` / ``--api-key=X`` -> the value replaced. A secret-named flag followed by
    another flag is a switch (``--return-tokens-as-token-ids``): nothing to hide."""
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next and not arg.startswith("--"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        flag, eq, _ = arg.partition("=")
        if arg.startswith("-") and is_secret_name(flag):
            if eq:
                out.append(f"{flag}={REDACTED}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(arg)
    return out


def redact(value: Any) -> Any:
    """Mappings: secret keys' values hidden; lists of strings read as command lines; recursive."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and is_secret_name(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return redact_args(value)
        return [redact(v) for v in value]
    return value
