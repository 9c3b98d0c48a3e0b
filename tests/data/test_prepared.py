from pathlib import Path

import pytest

from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.prompt_pool import PromptPool


def prompts(categories: list[str], bucket: str = "1k") -> list[PreparedPrompt]:
    return [
        PreparedPrompt(f"{i:032d}", bucket, c, None, 10, [0, i]) for i, c in enumerate(categories)
    ]


def test_bucket_interleaves_categories_so_every_slice_is_mixed() -> None:
    data = PreparedSet(prompts(["low"] * 3 + ["mid"] * 3 + ["high"] * 2), {})
    order = [p.category for p in data.bucket("1k")]
    assert order == ["low", "mid", "high", "low", "mid", "high", "low", "mid"]


def test_unknown_bucket_names_the_ones_present() -> None:
    with pytest.raises(ValueError, match=r"\['1k'\]"):
        PreparedSet(prompts(["a"]), {}).bucket("2k")


def test_pool_hands_out_each_prompt_of_its_slice_once(tmp_path: Path) -> None:
    PreparedSet(prompts(["a"] * 10), {}).write(tmp_path)
    pool = PromptPool.from_prepared(tmp_path, "1k", start=3, count=4)
    taken = [pool.take() for _ in range(5)]
    assert [p.prompt_token_ids[1] for p in taken if p] == [3, 4, 5, 6]
    assert taken[-1] is None


def test_reading_a_directory_that_is_not_prepared_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="speedbench data prepare"):
        PreparedSet.read(tmp_path)
