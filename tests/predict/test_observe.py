"""Reading a cell for the fit when some streams stalled (a FAKE late reader, fake_engine.Stalls):
the stalled requests' bursts are neither engine steps nor one step's tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadgen.load.point import LoadPoint
from loadgen.predict.limits import ServerLimits
from loadgen.predict.model import fit_server
from loadgen.predict.observe import _step_ids, read_cell
from loadgen.results.io import SUMMARY_FILE
from tests.predict.fake_engine import FakeCell, Law, Stalls

BASE = Law("base", noise=0.05)
SD = Law("sd", "base", a=9.0, b=0.9, k=3, accept=0.7, noise=0.05)
# 1 + E[min(G - 1, 3)], G ~ geometric(0.3): 1 + 0.7 + 0.7^2 + 0.7^3
TRUE_TOKENS_PER_STEP = 1 + 0.7 + 0.49 + 0.343


def _cell(stalls: Stalls | None) -> FakeCell:
    return FakeCell(SD, "1k", LoadPoint.closed(4), 48, 128, seed=3, stalls=stalls)


def test_a_late_reader_merges_chunks_that_the_fit_leaves_out(tmp_path: Path) -> None:
    late = _cell(Stalls(share=0.4, hold_ms=400.0, merge=2))
    cell = read_cell(late.write(tmp_path / "late") / SUMMARY_FILE)
    records = late.records()
    inner = [t for r in records for t in r.chunk_tokens[1:-1]]
    assert np.mean(inner) > TRUE_TOKENS_PER_STEP + 0.2  # as read, the bursts inflate it
    assert cell.stalled >= 10
    pmf = cell.step_tokens / cell.step_tokens.sum()
    assert np.arange(len(pmf)) @ pmf == pytest.approx(TRUE_TOKENS_PER_STEP, abs=0.08)


def test_stalled_bursts_do_not_split_the_steps(tmp_path: Path) -> None:
    """The step grouping's threshold comes from the gaps between chunks read apart (a burst's
    are microseconds): the requests that did not stall fall into as many steps as without any
    stall."""
    plain = _cell(None).records()
    late = _cell(Stalls(share=0.4, hold_ms=400.0, merge=2)).records()
    clean = np.array([r.chunk_ns == p.chunk_ns for r, p in zip(late, plain, strict=True)])
    assert 10 <= (~clean).sum() <= 30
    steps = []
    for records in (plain, late):
        times = np.concatenate([r.chunk_ns for r in records]).astype(np.int64)
        parent = np.repeat(np.arange(len(records)), [len(r.chunk_ns) for r in records])
        ids = _step_ids(times, parent)
        steps.append(len(np.unique(ids[clean[parent]])))
    assert steps[1] == steps[0]


def test_a_server_without_sd_counts_steps_by_tokens_when_chunks_merge(tmp_path: Path) -> None:
    """Every request's reader is late once, for about ten steps, and gets them as three merged
    chunks (too few to read as a stall): counted by chunks, those steps look three times as
    long; a server launched without SD makes one token per step, so counted by tokens the fit
    recovers the law."""
    late = Stalls(share=1.0, hold_ms=100.0, merge=4)
    points = [(b, LoadPoint.closed(c)) for b in ("1k", "2k") for c in (1, 4, 16)]
    cells = []
    for i, (bucket, load) in enumerate(points):
        cell = FakeCell(BASE, bucket, load, 48, 64, seed=i, stalls=late).write(tmp_path / str(i))
        cells.append(read_cell(cell / SUMMARY_FILE))
    assert sum(c.stalled for c in cells) == 0
    assert max(int(np.flatnonzero(c.step_tokens)[-1]) for c in cells) >= 4  # merged
    by_chunk, by_token = fit_server(cells), fit_server(cells, limits=ServerLimits(drafts=False))
    assert by_chunk.coef["a"] > 1.1 * BASE.a
    for name in ("a", "b", "c", "p"):
        assert by_token.coef[name] == pytest.approx(getattr(BASE, name), rel=0.12), name
