import pytest

from loadgen.analysis.summary import summarize_cell
from loadgen.load.point import LoadPoint
from loadgen.metrics.acceptance import Acceptance
from loadgen.results.schemas import CellSummary, LoadBlock


def test_labels_slugs_and_series_key_closed_and_open_cells() -> None:
    points = [LoadPoint.open(4), LoadPoint.closed(16), LoadPoint.open(0.5, "gamma", 0.5),
              LoadPoint.closed(2), LoadPoint.open(2, "constant")]  # fmt: skip
    ordered = sorted(points, key=LoadPoint.sort_key)
    assert [p.label for p in ordered] == [
        "c=2", "c=16", "rate=2.0/s constant", "rate=0.5/s gamma b=0.5", "rate=4.0/s"
    ]  # fmt: skip
    assert [p.slug for p in ordered] == ["c2", "c16", "rate2.0-constant", "rate0.5-gamma0.5",
                                         "rate4.0"]  # fmt: skip
    assert {p.series for p in ordered} == {"closed", "open constant", "open gamma b=0.5",
                                           "open poisson"}  # fmt: skip
    assert LoadPoint.open(4) == LoadPoint.open(4.0, "poisson", 1.0)  # one key per cell


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either a concurrency"),
        ({"concurrency": 2, "rate": 1.0}, "either a concurrency"),
        ({"concurrency": 0}, "concurrency must be >= 1"),
        ({"rate": 0.0}, "rate must be > 0"),
        ({"rate": 1.0, "burstiness": 0.5}, "only for gamma"),
        ({"rate": 1.0, "arrivals": "gamma", "burstiness": 0.0}, "gamma shape > 0"),
        ({"rate": 1.0, "arrivals": "uniform"}, "arrivals must be one of"),
    ],
)
def test_invalid_load_points_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoadPoint(**kwargs)


def test_round_trip_through_a_summary_and_cells_from_before_open_loop() -> None:
    point = LoadPoint.open(3, "gamma", 2)
    assert summary(None, point.to_dict()).load_point() == point
    assert summary(8).load_point() == LoadPoint.closed(8)  # no load block


def summary(concurrency: int | None, load: dict | None = None) -> CellSummary:
    return summarize_cell("s", "1k", concurrency, [], Acceptance("s"), None).model_copy(
        update={"load": None if load is None else LoadBlock.model_validate(load)}
    )
