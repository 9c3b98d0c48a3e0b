"""Which prompts each process sends: warm-up apart, no prompt twice across workers."""

from pathlib import Path

import pytest

from loadgen.data.prepared import PreparedPrompt, PreparedSet
from loadgen.swarm.share import ProcessPlan, bucket_slice


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    prompts = [PreparedPrompt(f"{i:032d}", "1k", "mixed", None, 3, [i, 1, 2]) for i in range(10)]
    return PreparedSet(prompts, {}).write(tmp_path / "p")


def test_warmup_prompts_come_first_and_are_never_measured(prepared: Path) -> None:
    warm, measured = bucket_slice(prepared, "1k", 1, 2, 5)
    assert [p.prompt_token_ids[0] for p in warm] == [1, 2]
    assert [p.prompt_token_ids[0] for p in measured] == [3, 4, 5, 6, 7]


def test_too_many_requests_names_the_fix(prepared: Path) -> None:
    with pytest.raises(ValueError, match=r"has 10 prompts.*fewer requests"):
        bucket_slice(prepared, "1k", 0, 2, 9)


def test_workers_shares_cover_the_run_exactly_once(prepared: Path) -> None:
    _, measured = bucket_slice(prepared, "1k", 0, 3, 0)
    plans = [ProcessPlan.share_of(measured, i, 3, None, 0, 1, 0) for i in range(3)]
    sent = []
    for plan in plans:
        while (slot := plan.take()) is not None:
            sent.append(slot.prompt.prompt_token_ids[0])
    assert sorted(sent) == list(range(3, 10))


def test_open_loop_slots_follow_the_schedule(prepared: Path) -> None:
    _, measured = bucket_slice(prepared, "1k", 0, 1, 2)
    plan = ProcessPlan.share_of(measured, 0, 1, "constant", 10.0, 1, 0)
    first, second = plan.take(), plan.take()
    assert first is not None and second is not None and plan.take() is None
    assert second.intended_send_ns - first.intended_send_ns == 100_000_000  # type: ignore[operator]
