"""Where the prefills ran (loadgen/predict/prefill_steps.py), against a FAKE engine that logs
every step's prefilled tokens, and the simulation replaying a measured cell's prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadgen.load.point import LoadPoint
from loadgen.predict.model import ONE_TOKEN, ServerModel
from loadgen.predict.observe import read_cell
from loadgen.predict.prefill_steps import place
from loadgen.predict.simulate import simulate
from loadgen.results.io import SUMMARY_FILE
from tests.predict.fake_engine import FakeCell, Law

MS = 1_000_000
LAW = Law("slowattn", p=400.0, q=200.0, budget=2048, noise=0.05)


def test_a_long_prompt_is_placed_in_full_chunks_then_its_remainder() -> None:
    """A 5000-token prompt with a budget of 2048 whose first token came in step 10: 2048 in
    steps 8 and 9, 904 in step 10. Sent before step 7 was read (step 8 began after it), all
    three are seen; sent after, step 8 ran before the prompt could have, so its first chunk ran
    in a step no stream saw (placed past every step: no decode row's)."""
    reads = np.arange(12, dtype=np.int64) * 100 * MS  # step s read at s * 100 ms
    for sent_ms, steps in ((650, [8, 9, 10]), (750, [12, 9, 10])):
        step, tokens, pairs = place(
            np.array([5000.0]), np.array([sent_ms * MS]), np.array([10]), reads, 2048
        )
        assert step.tolist() == steps
        assert tokens.tolist() == [2048, 2048, 904]
        assert pairs.sum() == pytest.approx(5000**2 / 2)
        assert pairs[0] == pytest.approx(2048**2 / 2)
    whole = place(np.array([5000.0]), np.array([0]), np.array([10]), reads, None)
    assert [v.tolist() for v in whole] == [[10], [5000.0], [5000**2 / 2]]


@pytest.mark.parametrize(("bucket", "users"), [("2k", 2), ("2k", 4), ("2k", 8)])
def test_decode_rows_are_charged_the_prefill_chunks_that_ran_in_their_steps(
    tmp_path: Path, bucket: str, users: int
) -> None:
    """Per decode row (a request's first chunk to its last), the prompt tokens the FAKE engine
    prefilled in those steps against what the rows say: within 10% of the truth on average,
    and nearer than charging every prompt whole in the step of its first token (at c=2 the
    users' requests come in pairs, and the second's prefill mostly ran before the first's
    decode). Mean |error| per row / mean truth at c = 2, 4, 8: 4.1%, 9.3%, 3.8% placed,
    27%, 33%, 4.4% whole."""
    cell = FakeCell(LAW, bucket, LoadPoint.closed(users), 40, 256, seed=users)
    log: list[tuple[float, int]] = []
    records = cell.records(log)
    ends, tokens = np.array([e for e, _ in log]), np.array([t for _, t in log], dtype=float)
    truth = np.array(
        [tokens[(ends > r.chunk_ns[0] / MS) & (ends <= r.chunk_ns[-1] / MS)].sum() for r in records]
    ) / 1000  # fmt: skip
    rows = read_cell(cell.write(tmp_path) / SUMMARY_FILE).decode
    assert np.allclose(rows.ms, [(r.chunk_ns[-1] - r.chunk_ns[0]) / MS for r in records])
    placed = np.abs(rows.prefill(2048)[:, 0] - truth).mean() / truth.mean()
    whole = np.abs(rows.prefill(None)[:, 0] - truth).mean() / truth.mean()
    assert placed < 0.10
    assert placed <= whole


def test_a_measured_cells_prompts_are_replayed_in_send_order(tmp_path: Path) -> None:
    """With the FAKE's own law, no noise and the cell's prompts in the order they were sent,
    the simulation gives every request the FAKE engine's TTFT (to 0.1 ms) and E2E (to 0.2 ms,
    the FAKE's users resend 0.1 ms after their last chunk, the simulation's at once): a closed loop
    of two users on prompts around the budget, where which prompts come together decides
    whether one's prefill stalls the other's decode."""
    law = Law("chunk", budget=1024, a=4.6, b=1.3, c=0.6, p=900.0, q=150.0, noise=0.0)
    load = LoadPoint.closed(2)
    fake = FakeCell(law, "1k", load, 24, 32, seed=5)
    cell = read_cell(fake.write(tmp_path) / SUMMARY_FILE)
    coef = {"a": law.a, "b": law.b, "c": law.c, "p": law.p, "q": law.q, "o": law.o}
    model = ServerModel("chunk", None, coef, {"1k": ONE_TOKEN}, {"1k": 1000.0}, 32.0, None, 1,
                        0.0, 0.0, 1024)  # fmt: skip
    got = simulate(model, "1k", load, 24, cell.osl, 0, None, cell.prompts)
    records = fake.records()  # in send order, as the cell's prompts
    assert got.ttft_ms == pytest.approx(
        [(r.chunk_ns[0] - r.send_ns) / MS for r in records], abs=0.1
    )
    assert got.e2e_ms == pytest.approx([(r.end_ns - r.send_ns) / MS for r in records], abs=0.2)
    drawn = simulate(model, "1k", load, 24, cell.osl, 0)  # prompts drawn from the spread
    assert drawn.ttft_ms != pytest.approx(got.ttft_ms, abs=0.1)
