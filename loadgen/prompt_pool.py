"""A run's prompts, each handed out once: reusing a prompt would let prefix caching flatter TTFT."""

from __future__ import annotations

from pathlib import Path

from loadgen.data.prepared import PreparedPrompt, PreparedSet


class PromptPool:
    def __init__(self, prompts: list[PreparedPrompt]) -> None:
        self._prompts = prompts
        self._next = 0

    @classmethod
    def from_prepared(
        cls, data_dir: Path, bucket: str, start: int, count: int | None
    ) -> PromptPool:
        """Prompts ``[start, start + count)`` of a bucket (all from ``start`` if count is None)."""
        available = PreparedSet.read(data_dir).bucket(bucket)
        end = len(available) if count is None else start + count
        if start < 0 or end > len(available) or start >= end:
            raise ValueError(
                f"bucket {bucket!r} of {data_dir} has {len(available)} prompts; this run needs "
                f"prompts {start}..{end - 1}. Prepare more rows, or ask for fewer requests."
            )
        return cls(available[start:end])

    @property
    def prompts(self) -> list[PreparedPrompt]:
        return list(self._prompts)

    def __len__(self) -> int:
        return len(self._prompts)

    def take(self) -> PreparedPrompt | None:
        """The next unused prompt, or None when the pool is spent."""
        if self._next >= len(self._prompts):
            return None
        prompt = self._prompts[self._next]
        self._next += 1
        return prompt
