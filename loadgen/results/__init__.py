"""Typed results: the result files' versioned models (:mod:`.schemas`), their one writer and
reader each (:mod:`.io`), and the public reading API :func:`load` (:mod:`.api`).

    >>> from loadgen import results
    >>> res = results.load("results/demo")
    >>> res.cells_frame()[["server", "bucket", "concurrency", "output_tokens_per_s"]]

``load`` is imported lazily: the models sit low in the layers (analysis writes them), while the
reading API pulls in pandas only when a notebook asks for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadgen.results.api import Results


def load(results_dir: str | Path) -> Results:
    """Every cell of a results directory (sweep, demo, or a single ``speedbench run`` cell)."""
    from loadgen.results.api import load_results

    return load_results(Path(results_dir))


__all__ = ["load"]
