"""Multi-turn rows through the real Locust file, stand-alone and ``--master``/``--worker``: a
prompt is finished when its last turn is, so the run ends by itself with every turn of every
measured prompt recorded once. The wire is the FAKE server (tests/fakes; it replies ``x`` * osl
and sends vLLM-shaped per-request SD metrics); the tokenizer re-templating the conversation is the
demo model's real one. The real-engine version is tests/engine/test_conversation.py."""

import json
from collections import Counter
from pathlib import Path

import pytest

from loadgen.analysis.categories import CLIENT_SOURCE, SERVER_SOURCE, category_acceptance
from loadgen.cell import locust_options
from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_JSONL, WARMUP_JSONL, read_jsonl, worker_records_path
from loadgen.data.prepare import prepare_to_disk
from loadgen.data.prepared import PreparedSet
from loadgen.data.tokenize import load_tokenizer
from loadgen.swarm.collector import Collector
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.locust_cluster import run_distributed
from tests.test_speed import cell, run_locust

FIXTURE = Path(__file__).parents[2] / "datasets" / "qualitative_fixture.jsonl"
OSL = 7  # 1 + 2 chunks of 3: every decode chunk full
FAKE = Behaviour(ttft_s=0.01, step_s=0.002, tokens_per_chunk=3, per_request_spec_metrics=True)


@pytest.fixture(scope="module")
def qualitative(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> PreparedSet:
    out = tmp_path_factory.mktemp("qualitative")
    prepare_to_disk(str(FIXTURE), ["qualitative"], str(tiny_model), out)
    return PreparedSet.read(out)


def check_every_turn_once(
    records: list[RequestRecord], prompts: PreparedSet, ids: list[str]
) -> None:
    """Each measured prompt's turns 0..n-1 exactly once, nothing else, all ending the prompt."""
    turns = {p.question_id: max(1, len(p.turns)) for p in prompts.prompts}
    got = Counter((r.question_id, r.turn) for r in records)
    assert got == Counter((q, t) for q in ids for t in range(turns[q]))
    assert all(r.ok and r.turns == turns[r.question_id] for r in records)
    assert sum(r.ends_prompt for r in records) == len(ids)
    assert len({r.request_id for r in records}) == len(records)


def check_second_turns(sent: list[list[int]], tokenizer: object, prompts: PreparedSet) -> None:
    """Every later turn re-templates the whole conversation with the model's own reply."""
    first_ids = {tuple(p.prompt_token_ids): p for p in prompts.prompts}
    later = [tokenizer.decode(ids) for ids in sent if tuple(ids) not in first_ids]  # type: ignore[attr-defined]
    assert later, "some multi-turn prompt sent its second turn"
    for text in later:
        prompt = next(p for p in prompts.prompts if len(p.turns) > 1 and p.turns[1] in text)
        assert text.index(prompt.turns[0]) < text.index("x" * OSL) < text.index(prompt.turns[1])


def test_stand_alone_run_ends_when_every_prompts_last_turn_is_in(
    qualitative: PreparedSet, tiny_model: Path, tmp_path: Path
) -> None:
    data = tmp_path / "prepared"
    qualitative.write(data)
    measured = qualitative.bucket("qualitative")[3:11]
    assert {len(p.turns) for p in measured} == {1, 2}
    with FakeStreamingServer(FAKE) as server:
        proc = run_locust(
            server.url, data, tmp_path / "out", 3, 8, start=3, osl=OSL, bucket="qualitative"
        )
        sent = [body["prompt"] for body in server.counters.requests]
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-2000:]
    assert "--run-time limit reached" not in log  # ended by the collector, not by -t
    records = read_jsonl(tmp_path / "out" / RECORDS_JSONL)
    check_every_turn_once(records, qualitative, [p.question_id for p in measured])
    assert len(sent) == len(records)  # no request left unrecorded
    check_second_turns(sent, load_tokenizer(str(tiny_model)), qualitative)
    table = category_acceptance(records)
    assert {row.category for row in table} == {p.category for p in measured}
    for row in table:  # 2 decode chunks of 3 tokens per request: AL 3 from either source
        assert row.client.source == CLIENT_SOURCE and row.client.acceptance_length == 3.0
        assert row.server is not None and row.server.source == SERVER_SOURCE
        assert row.server.acceptance_length == 3.0 and row.server.acceptance_rate == 1.0


def test_distributed_master_ends_on_the_last_turns_and_counts_each_once(
    qualitative: PreparedSet, tmp_path: Path
) -> None:
    data, out = tmp_path / "prepared", tmp_path / "out"
    qualitative.write(data)
    bucket = qualitative.bucket("qualitative")
    with FakeStreamingServer(FAKE) as server:
        spec = cell(server.url, data, 4, 10, osl=OSL, bucket="qualitative")
        run = run_distributed([*locust_options(spec, out), "--warmup", "2", "-t", "90s"], workers=2)
        sent = len(server.counters.requests)
    log = run.master.stdout + run.master.stderr
    assert run.master.returncode == 0, log[-2000:]
    assert "--run-time limit reached" not in log, log[-3000:] + "\n".join(
        w[-3000:] for w in run.worker_logs
    )
    master = read_jsonl(out / RECORDS_JSONL)
    workers = [read_jsonl(worker_records_path(out, i)) for i in range(2)]
    assert all(workers), "both workers sent requests"
    check_every_turn_once(master, qualitative, [p.question_id for p in bucket[2:12]])
    as_dicts = sorted(json.dumps(r.to_dict(), sort_keys=True) for r in master)
    assert as_dicts == sorted(json.dumps(r.to_dict(), sort_keys=True) for w in workers for r in w)
    warm = read_jsonl(out / WARMUP_JSONL)
    check_every_turn_once(warm, qualitative, [p.question_id for p in bucket[:2]])
    assert sent == len(master) + len(warm)


def test_the_run_is_realtime_only_if_every_sender_was(tmp_path: Path) -> None:
    """A distributed run's master does not send: its own priority says nothing of the reads.
    What counts is what each worker's messages say of the worker."""

    class Message:
        def __init__(self, i: int, realtime: bool | None) -> None:
            row = RequestRecord(f"r{i}", str(i), "1k", "c", 10, 4, 0, 0.0)
            self.data = {"record": row.to_dict(), "realtime": realtime}

    def seen(*flags: bool | None) -> bool | None:
        out = tmp_path / f"m{len(flags)}-{flags}"
        out.mkdir()
        master = Collector(out, len(flags), lambda: None)
        for i, flag in enumerate(flags):
            master.on_message(Message(i, flag))
        master.close()
        return master.senders_realtime()

    assert seen(True, True) is True
    assert seen(True, False, True) is False
    assert seen(True, None) is None  # a worker that could not say
    assert seen() is None  # nothing sent
