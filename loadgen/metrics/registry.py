"""Engine name -> adapter. The one place that knows which engines exist."""

from __future__ import annotations

from loadgen.metrics import sglang, trtllm, vllm
from loadgen.metrics.adapter import EngineAdapter

ADAPTERS: dict[str, EngineAdapter] = {
    a.engine: a for a in (vllm.ADAPTER, sglang.ADAPTER, trtllm.ADAPTER)
}


def adapter_for(engine: str) -> EngineAdapter:
    try:
        return ADAPTERS[engine]
    except KeyError:
        raise ValueError(
            f"no metrics adapter for engine {engine!r}: use one of {sorted(ADAPTERS)} "
            "(add an adapter module under loadgen/metrics/ for a new engine)"
        ) from None
