"""The SPEED-Bench row schema, and the checks every row passes before it can become a prompt."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PLACEHOLDER = "FULL BENCHMARK DATA SHOULD BE FETCHED FROM THE SOURCE USING SPECDEC_BENCH"

THROUGHPUT_BUCKETS = ("1k", "2k", "8k", "16k", "32k")
ENTROPY_TIERS = ("low_entropy", "mixed", "high_entropy")


class SpeedBenchRow(BaseModel):
    """One row of ``nvidia/SPEED-Bench`` (any config); unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question_id: str = Field(min_length=32, max_length=32)
    category: str = Field(min_length=1)
    sub_category: str | None = None
    turns: list[str] = Field(min_length=1)
    source: str | None = None
    src_id: str | int | None = None
    difficulty: str | int | float | None = None
    multiturn: bool = False

    @property
    def is_placeholder(self) -> bool:
        """Licence-restricted rows carry a placeholder instead of text: never send them."""
        return any(PLACEHOLDER in turn for turn in self.turns)


class RowError(ValueError):
    """A row that cannot be used, named by file, question_id and field."""


def parse_row(raw: dict[str, Any], origin: str) -> SpeedBenchRow:
    try:
        return SpeedBenchRow.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "<row>"
        qid = raw.get("question_id", "<missing question_id>")
        raise RowError(
            f"{origin}: row question_id={qid!r}: field {field!r}: {first['msg']}. "
            "Fix the row or drop it from the file; the schema is the one of nvidia/SPEED-Bench."
        ) from None


def bucket_of_config(config: str) -> str:
    """``throughput_2k`` -> ``2k``; the qualitative split has no ISL bucket."""
    if config.startswith("throughput_"):
        return config.removeprefix("throughput_")
    return config
