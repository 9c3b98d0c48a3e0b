from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's locally built Llama + tokenizer + chat template (about 15 s, built once)."""
    from loadgen.model_factory import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model"))
