from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def static_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of distilled static tables for the session (distilling MiniLM: ~20-40 s)."""
    return tmp_path_factory.mktemp("speedbench-cache")


@pytest.fixture
def cache_env(static_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline, with static tables in the session cache instead of ~/.cache/speedbench."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SPEEDBENCH_CACHE", str(static_cache))
    return static_cache
