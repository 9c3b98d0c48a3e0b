"""Multi-turn replay and per-category acceptance against a REAL vLLM-CPU ngram server (slow tier,
marker ``engine``): the tiny demo model, the qualitative fixture, vLLM's per-request SD metrics;
one server for the module, small osl."""

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from loadgen.analysis.categories import CLIENT_SOURCE, SERVER_SOURCE, category_acceptance
from loadgen.client.conversation import next_prompt_ids, replay_conversation
from loadgen.client.sink import RECORDS_JSONL, read_jsonl
from loadgen.client.stream import RequestsTransport
from loadgen.client.transport import RequestSettings
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.prepared import PreparedSet
from loadgen.data.tokenize import load_tokenizer
from tests.engine.servers import vllm_cpu

pytestmark = pytest.mark.engine

FIXTURE = Path(__file__).parents[2] / "datasets" / "qualitative_fixture.jsonl"
OSL = 16


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "s.log"
    extra = ["--per-request-spec-decode-metrics", "summary"]
    with vllm_cpu("vllm-cpu-ngram", tiny_model, log, extra) as url:
        yield url


def test_qualitative_rows_replay_turn_by_turn_with_per_category_acceptance(
    server: str, tiny_model: Path, tmp_path: Path
) -> None:
    prepare_to_disk(str(FIXTURE), ["qualitative"], str(tiny_model), tmp_path / "p")
    prepared = PreparedSet.read(tmp_path / "p")
    tok = load_tokenizer(str(tiny_model))
    rows = [p for p in prepared.bucket("qualitative") if len(p.turns) == 2][:3]
    assert len({p.category for p in rows}) == 3
    results = []
    with requests.Session() as session:
        for prompt in rows:
            settings = RequestSettings(server, OSL, None, 120.0)
            turns = replay_conversation(RequestsTransport(session), settings, prompt, tok)
            assert [t.record.ok for t in turns] == [True, True], turns[-1].record.error
            first, second = turns
            # the server saw exactly the prompts we built; the second holds the model's reply
            assert first.reply
            assert first.record.usage_prompt_tokens == len(prompt.prompt_token_ids)
            second_ids = next_prompt_ids(prompt, tok, [first.reply])
            assert second.record.usage_prompt_tokens == len(second_ids) == second.record.prompt_len
            text = tok.decode(second_ids)
            assert text.index(first.reply) < text.index(prompt.turns[1])
            assert all(t.record.spec_decode is not None for t in turns)
            results += turns
    table = category_acceptance([t.record for t in results])
    assert len(table) == 3
    for row in table:
        assert row.requests == 2 and row.client.source == CLIENT_SOURCE
        assert row.server is not None and row.server.source == SERVER_SOURCE
        mine = [t.record for t in results if t.record.category == row.category]
        spec = [r.spec_decode for r in mine if r.spec_decode is not None]
        steps = sum(m["num_spec_steps"] for m in spec)
        accepted = sum(m["num_accepted_draft_tokens"] for m in spec)
        assert steps > 0 and row.server.drafts == steps
        # AL from the engine's own per-request counters, exactly
        assert row.server.acceptance_length == pytest.approx(1 + accepted / steps, abs=1e-12)
        # tokens per chunk, counted here from the chunks, against the engine's steps: each
        # chunk after the first is one step whose tokens beyond one are accepted drafts; the
        # engine may also count up to k drafts a request accepted past max_tokens
        chunk_steps = sum(len(r.chunk_tokens) - 1 for r in mine)
        chunk_accepted = sum(sum(r.chunk_tokens[1:]) - (len(r.chunk_tokens) - 1) for r in mine)
        assert row.client.acceptance_length == pytest.approx(1 + chunk_accepted / chunk_steps)
        k = max(m["num_spec_tokens"] for m in spec)
        assert chunk_accepted <= accepted <= chunk_accepted + k * len(mine)


def test_speedbench_run_on_the_qualitative_bucket_gives_per_category_acceptance(
    server: str, tiny_model: Path, tmp_path: Path
) -> None:
    """One mixed run of all 22 fixture rows (11 categories, some of two turns) through Locust."""
    prepare_to_disk(str(FIXTURE), ["qualitative"], str(tiny_model), tmp_path / "p")
    rows = PreparedSet.read(tmp_path / "p").prompts
    cell = tmp_path / "cell"
    command = [sys.executable, "-m", "loadgen.cli", "run", "--url", server, "--data"]
    command += [str(tmp_path / "p"), "--bucket", "qualitative", "--concurrency", "4"]
    command += [
        "--requests",
        str(len(rows)),
        "--warmup",
        "0",
        "--osl",
        str(OSL),
        "--out",
        str(cell),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = read_jsonl(cell / RECORDS_JSONL)
    turns = {p.question_id: len(p.turns) for p in rows}
    assert Counter((r.question_id, r.turn) for r in records) == Counter(
        (q, t) for q, n in turns.items() for t in range(n)
    )
    assert all(r.ok and r.spec_decode is not None for r in records)
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["requests_ok"] == sum(turns.values())
    assert not [f for f in summary["flags"] if "never completed" in f]
    table = summary["category_acceptance"]
    assert sorted(row["category"] for row in table) == sorted({p.category for p in rows})
    assert len(table) == 11
    for row in table:
        assert row["client"]["source"] == CLIENT_SOURCE and row["server"]["source"] == SERVER_SOURCE
        assert row["client"]["acceptance_rate"] is not None  # k from the server's own figures
    # ngram may find nothing to draft in a category's few short replies (drafts 0, AL null)
    assert sum(row["server"]["drafts"] > 0 for row in table) >= 6
    # the per-request figures add up exactly to the server's own counters over the cell's window
    for field in ("drafts", "accepted_tokens"):
        assert sum(row["server"][field] for row in table) == summary["acceptance"][field]
