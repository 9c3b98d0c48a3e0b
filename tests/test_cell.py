"""One cell end to end against the FAKE streaming server (its /metrics counts vLLM-named SD
counters as it streams): the engine adapter from the registry, the window, the summary."""

import os
from pathlib import Path

import pytest
import requests

from loadgen.cell import harness_flags, locust_command, run_cell
from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_PARQUET, read_parquet
from loadgen.client.stream import completion_body, send_completion
from loadgen.results.schemas import HarnessCpu
from loadgen.runspec import RunSpec
from loadgen.runspec.flags import validated
from tests.fakes.fault_server import FaultPlan, FaultServer
from tests.fakes.streaming_server import Behaviour, FakeStreamingServer
from tests.test_speed import prepared  # noqa: F401  (fixture)


def spec(url: str, data: Path, **over: object) -> RunSpec:
    base: dict = dict(
        server="fake",
        baseline=None,
        url=url,
        metrics_urls=(url + "/metrics",),
        warmup=0,
        data_dir=data,
        bucket="1k",
        concurrency=2,
        requests=4,
        prompt_start=0,
        osl=31,
        model=None,
    )
    return RunSpec(**{**base, **over})


def test_cell_reads_the_window_through_the_engine_adapter(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with FakeStreamingServer(Behaviour(ttft_s=0.02, step_s=0.005, tokens_per_chunk=3)) as server:
        summary = run_cell(spec(server.url, prepared), tmp_path / "cell", progress=False)
    acc = summary.acceptance.model_dump()
    # 4 requests x (1 prefill token + 10 chunks of 3): each chunk is one draft with 2 accepted
    assert summary.requests_ok == 4 and summary.output_tokens == 124
    assert acc["source"] == "vllm:/metrics counters" and not acc["estimate"]
    # pinned: 40 decode steps, each drafting 2 and accepting both (the FAKE's law)
    assert (acc["drafts"], acc["draft_tokens"], acc["accepted_tokens"]) == (40, 80, 80)
    assert acc["acceptance_length"] == 3.0 and acc["acceptance_rate"] == 1.0
    assert summary.client_accepted_tokens == 80 and summary.client_tokens_per_chunk == 3.0
    assert summary.tokens_per_chunk_histogram == {"3": 40}
    assert summary.server_counters["generation_tokens"] == 124
    assert summary.metrics_window["engine"] == "vllm"
    assert summary.flags == []


def test_unknown_engine_is_refused_by_the_spec() -> None:
    with pytest.raises(ValueError, match="--engine: Input should be 'vllm', 'sglang' or 'trtllm'"):
        validated({"url": "http://x", "data_dir": "d", "engine": "tgi"})


MIXED_FAULTS = ["ok", "http_500", "http_429", "reset", "stall", "malformed", "bad_shape",
                "truncate", "cut", "short", "hold", "ok"]  # fmt: skip


def test_every_request_of_a_faulty_cell_is_accounted_for_by_kind(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Real Locust against the FAKE fault server: one request per fault, three users."""
    cell = tmp_path / "cell"
    with FaultServer(FaultPlan(MIXED_FAULTS)) as server:
        summary = run_cell(
            spec(server.url, prepared, requests=12, concurrency=3, request_timeout_s=1.0),
            cell,
            progress=False,
        )
        assert server.state.arrived == 12
    assert summary.requests_ok == 2 and summary.requests_failed == 10
    assert summary.errors_by_kind == {
        "http_500": 1, "http_429": 1, "connection": 1, "stalled": 1, "malformed_sse": 2,
        "truncated": 2, "short_output": 1, "timeout": 1,
    }  # fmt: skip
    assert summary.flags[0].startswith("10 of 12 requests failed (83%, above 5%")
    records = read_parquet(cell / RECORDS_PARQUET)
    assert len(records) == 12 and len({r.request_id for r in records}) == 12
    assert all(r.error for r in records if not r.ok)  # each failure says what happened
    assert summary.output_tokens == 2 * 31  # figures come from the ok requests only


def test_engine_restart_inside_the_cell_is_flagged_end_to_end(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Counters drop to zero when the cell's third request arrives (after a busy warm-up, so the
    drop shows in the two scrapes); figures are counted from zero and the cell is flagged."""
    with FaultServer(FaultPlan(restart_at=6)) as server, requests.Session() as session:
        for i in range(4):
            body = completion_body([1, 2, i], 63, None)
            record = RequestRecord(str(i), "q", "1k", "mixed", 3, 63, 0, 0.0)
            assert send_completion(session, server.url + "/v1/completions", body, record, 5).ok
        summary = run_cell(spec(server.url, prepared, concurrency=1), tmp_path / "c", False)
    assert summary.requests_ok == 4
    assert summary.acceptance.counter_reset is True
    assert summary.server_counters["generation_tokens"] == 2 * 31  # since the restart
    assert "a server counter went down in the window: the engine restarted" in summary.flags
    assert any("client received 124: foreign traffic or lost requests" in f
               for f in summary.flags)  # fmt: skip


def test_metrics_endpoint_gone_after_the_load_keeps_client_figures_and_says_why(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    plan = FaultPlan(metrics_broken_at=0, metrics_fault="reset")
    with FaultServer(plan) as server:
        summary = run_cell(spec(server.url, prepared), tmp_path / "c", progress=False)
    assert summary.requests_ok == 4 and summary.output_tokens_per_s > 0
    assert summary.acceptance.source == "none: the closing scrape failed"
    assert summary.server_counters is None
    assert any(f.startswith("engine metrics missing for this cell") for f in summary.flags)


def test_locust_gets_the_open_loop_load_point_in_one_spec(tmp_path: Path) -> None:
    closed = locust_command(spec("http://x", tmp_path), tmp_path)
    assert closed[closed.index("-u") + 1] == "2"
    gamma = spec("http://x", tmp_path, concurrency=16, rate=2.0, arrivals="gamma", burstiness=0.5)
    command = locust_command(gamma, tmp_path)
    handed = RunSpec.model_validate_json(Path(command[command.index("--spec") + 1]).read_text())
    assert (handed.rate, handed.arrivals, handed.burstiness) == (2.0, "gamma", 0.5)
    assert handed.no_metrics and handed.metrics_urls == ()  # the cell reads the window itself
    restored = handed.model_copy(update={"no_metrics": False, "metrics_urls": gamma.metrics_urls})
    assert restored == gamma
    assert command[command.index("-u") + 1] == "16"  # the cap on requests in flight
    assert gamma.load.label == "rate=2.0/s gamma b=0.5"


def test_an_unreadable_closing_scrape_keeps_the_cell_with_client_figures(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Issue 17 item 1: a proxy's HTML page where the metrics were is a failed scrape."""
    with FaultServer(FaultPlan(metrics_broken_at=0, metrics_fault="html")) as server:
        summary = run_cell(spec(server.url, prepared), tmp_path / "c", progress=False)
    assert summary.requests_ok == 4 and (summary.output_tokens_per_s or 0) > 0
    assert summary.acceptance.source == "none: the closing scrape failed"
    (flag,) = [f for f in summary.flags if f.startswith("engine metrics missing")]
    assert "not Prometheus text" in flag and "<html>" in flag
    assert (tmp_path / "c" / "summary.json").is_file()


def test_an_unreadable_opening_scrape_refuses_the_cell_with_the_fix(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with FaultServer(FaultPlan(metrics_broken_at=-1, metrics_fault="html")) as server:
        with pytest.raises(RuntimeError, match=r"not Prometheus text.*fix --metrics-url"):
            run_cell(spec(server.url, prepared, warmup=0), tmp_path / "c", progress=False)
        assert server.state.arrived == 0  # no load sent


def test_usage_that_disagrees_with_the_stream_flags_the_cell(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Issue 17 item 8, end to end through Locust."""
    with FaultServer(FaultPlan(["usage_double"] + ["ok"] * 3)) as server:
        summary = run_cell(spec(server.url, prepared), tmp_path / "c", progress=False)
    (flag,) = [f for f in summary.flags if "usage disagreed" in f]
    assert flag.startswith("1 of 4 requests") and "usage 62 is above the 31 asked for" in flag
    records = read_parquet(tmp_path / "c" / RECORDS_PARQUET)
    # text chunks: a lower bound under SD (2 tokens a chunk), one a token without it
    assert sorted(r.stream_output_tokens for r in records) == [16, 16, 16, 31]


def test_cell_reports_tokens_per_target_step_beside_al_while_drafting(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Every other decode step drafts nothing (as ngram without a match): the FAKE server's
    counters are the truth for AL while drafting, steps, drafted share and AR_k."""
    with FakeStreamingServer(Behaviour(ttft_s=0.02, step_s=0.005, draft_every=2)) as server:
        summary = run_cell(spec(server.url, prepared), tmp_path / "cell", progress=False)
        truth = server.counters
    acc = summary.acceptance
    requests = summary.requests_ok
    assert acc.al_while_drafting == pytest.approx(1 + truth.accepted / truth.drafts)
    assert acc.target_steps == truth.steps
    assert acc.tokens_per_target_step == pytest.approx((truth.generated - requests) / truth.steps)
    assert acc.drafted_share == pytest.approx(truth.drafts / truth.steps)
    assert acc.steps_source.startswith("client chunks")
    ar_1, ar_2 = truth.per_pos[0] / truth.drafts, truth.per_pos[1] / truth.per_pos[0]
    assert acc.conditional_per_position == [pytest.approx(ar_1), pytest.approx(ar_2)]
    assert any(f.startswith("AL while drafting") for f in summary.flags), summary.flags
    cpu = summary.harness_cpu
    assert cpu is not None and cpu.cpu_s > 0 and cpu.wall_s > 0
    assert cpu.cpu_share == pytest.approx(cpu.cpu_s / cpu.wall_s)


def test_a_saturated_load_generator_is_flagged() -> None:
    assert harness_flags(HarnessCpu(cpu_s=9.7, wall_s=10.0, cpu_share=0.97))[0].startswith(
        "the load generator used 97% of a core"
    )
    assert harness_flags(HarnessCpu(cpu_s=2.0, wall_s=10.0, cpu_share=0.2)) == []


def test_the_load_generator_runs_realtime_unless_told_otherwise(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Locust's own report of its scheduling (``sched_getscheduler`` in that process): SCHED_FIFO
    by default where permitted (root here and in CI), normal when the spec says so; a stall
    under a normal-priority client names the fix."""
    permitted = os.geteuid() == 0
    with FakeStreamingServer(Behaviour(ttft_s=0.01, step_s=0.002)) as server:
        fast = run_cell(spec(server.url, prepared), tmp_path / "rt", progress=False)
        plain = run_cell(
            spec(server.url, prepared, client_priority="normal"), tmp_path / "n", progress=False
        )
    assert fast.harness_cpu is not None and fast.harness_cpu.realtime is permitted
    assert plain.harness_cpu is not None and plain.harness_cpu.realtime is False
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the harness itself stays as it was
    (flag,) = harness_flags(plain.harness_cpu, stalled=2)
    assert "normal CPU priority" in flag and "--client-priority realtime" in flag
    assert harness_flags(fast.harness_cpu, stalled=2) == [] or not permitted


def test_a_stalled_stream_is_counted_timed_and_flagged_end_to_end(
    prepared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The FAKE holds every second request's chunks 2-11 (10 steps of 20 ms) and 200 ms more,
    then writes them at once: the client sees a 400 ms gap after chunk 1 and a burst. Truth: 2
    of 4 requests stalled, each for 400 ms (+ scheduling slack); the others not at all. Steps of
    20 ms: a busy CI machine would have to stall the client 140 ms to fake a burst of 8."""
    steps = {"ttft_s": 0.02, "step_s": 0.02, "tokens_per_chunk": 1}
    with FakeStreamingServer(Behaviour(**steps, stall_every=2, stall_s=0.2)) as server:
        summary = run_cell(spec(server.url, prepared), tmp_path / "c", progress=False)
    assert summary.stalled_requests == 2
    assert 400 <= summary.max_stall_ms < 400 + 120
    (flag,) = [f for f in summary.flags if "streams stalled" in f]
    assert flag.startswith("2 of 4 requests' streams stalled for up to ")
    records = read_parquet(tmp_path / "c" / RECORDS_PARQUET)
    assert sorted(r.stall_ms > 0 for r in records) == [False, False, True, True]
    with FakeStreamingServer(Behaviour(**steps)) as server:
        clean = run_cell(spec(server.url, prepared), tmp_path / "d", progress=False)
    assert clean.stalled_requests == 0 and clean.max_stall_ms == 0.0
    assert not any("stalled" in f for f in clean.flags)
