import pytest

from loadgen.metrics.acceptance import Acceptance, counter_delta


def test_counter_delta_normal_and_reset() -> None:
    assert counter_delta(10, 15).value == 5 and not counter_delta(10, 15).reset
    assert counter_delta(10, 4).value == 4 and counter_delta(10, 4).reset


def test_to_dict_carries_derived_figures() -> None:
    data = Acceptance("s", drafts=4, draft_tokens=12, accepted_tokens=6).to_dict()
    assert data["acceptance_length"] == pytest.approx(2.5)
    assert data["acceptance_rate"] == pytest.approx(0.5)


def test_zero_drafts_give_no_figures_rather_than_division_errors() -> None:
    acc = Acceptance("s", drafts=0, draft_tokens=0, accepted_tokens=0)
    assert acc.acceptance_length is None and acc.acceptance_rate is None
