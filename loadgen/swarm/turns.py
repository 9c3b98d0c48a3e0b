"""The tokenizer for multi-turn rows, loaded inside the Locust (gevent-patched) process.

Later turns are re-templated with the prepared set's own tokenizer (``transformers``). Locust
patches the process with gevent on import, which removes ``select.epoll``; ``transformers``
imports ``huggingface_hub``, whose HTTP stack imports ``trio``, which defines its epoll I/O
manager at import time and fails without it. The original ``epoll`` is put back for the import
only: nothing here runs trio's event loop, so gevent's cooperative I/O is unaffected. Loading
takes seconds, so it runs on gevent's thread pool: a distributed worker's greenlets keep sending
heartbeats meanwhile (the master drops a worker that is quiet for 3 s). trio itself is imported
first on the hub's thread, because its import runs ``ldconfig`` through ``subprocess``, which
gevent does not allow from another thread (~0.1 s).
"""

from __future__ import annotations

import importlib
import importlib.util
import select
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import gevent
from gevent import monkey

from loadgen.client.conversation import Templating, needs_templating, templating_for
from loadgen.data.prepared import PreparedPrompt


@contextmanager
def original_epoll() -> Iterator[None]:
    patched = not hasattr(select, "epoll") and monkey.is_module_patched("select")
    if patched:
        select.epoll = monkey.get_original("select", "epoll")  # type: ignore[misc]
    try:
        yield
    finally:
        if patched:
            del select.epoll


def load_templating(data_dir: Path, prompts: Sequence[PreparedPrompt]) -> Templating:
    """``Templating()`` (no tokenizer) when every prompt has one turn."""
    if not needs_templating(prompts):
        return Templating()
    if importlib.util.find_spec("trio") is not None:
        with original_epoll():
            importlib.import_module("trio")
    templating: Templating = gevent.get_hub().threadpool.apply(_load, (data_dir, prompts))
    return templating


def _load(data_dir: Path, prompts: Sequence[PreparedPrompt]) -> Templating:
    with original_epoll():
        return templating_for(data_dir, prompts)
