"""Engine name -> metrics adapter, for callers inside the cell that have only a name.

The engine registry (``loadgen.engines``) is where engines are declared; it sits above the metrics
layer, so this index of the adapter modules stays here for ``loadgen.cell`` until the cell takes
its adapter from the registry. tests/servers/test_engines.py checks that both list the same
adapters.
"""

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
            "(a new engine is an adapter under loadgen/metrics/ and an entry in loadgen/engines.py)"
        ) from None
