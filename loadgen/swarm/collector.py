"""Where a record goes when its request ends, in each Locust mode.

Stand-alone (headless or web UI) the process keeps its own records. A distributed worker keeps a
copy in ``OUT/workers/worker-<index>.jsonl`` and sends every record to the master; the master keeps
them (one per request id, so a duplicate delivery is never counted twice) and ends the run when
every measured prompt of every worker is finished. A multi-turn prompt sends one request per turn
and is finished with its last turn (``RequestRecord.ends_prompt``, from the ``turn`` / ``turns``
each record carries through the worker->master message). Warm-up records go to ``warmup.jsonl``,
never into the measured ones.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_JSONL, WARMUP_JSONL, RecordSink, worker_records_path
from loadgen.swarm.live_tokens import LiveTokens

RECORD_MESSAGE = "speedbench_record"
ERROR_MESSAGE = "speedbench_error"


class Collector:
    def __init__(self, environment: Environment, out: Path, expected: int) -> None:
        self.environment = environment
        self.expected = expected  # measured prompts (conversations), not requests
        self.live = LiveTokens()
        self.measured = 0  # measured records (one per request, i.e. per turn)
        self.prompts_done = 0
        self._seen: set[str] = set()
        runner = environment.runner
        self.is_worker = isinstance(runner, WorkerRunner)
        if self.is_worker:
            assert isinstance(runner, WorkerRunner)
            self._sink = RecordSink(worker_records_path(out, runner.worker_index))
        else:
            self._sink = RecordSink(out / RECORDS_JSONL)
        self._warm_sink = RecordSink(out / WARMUP_JSONL) if not self.is_worker else None

    def record_ended(self, record: RequestRecord, warmup: bool) -> None:
        """Called in the process that sent the request."""
        runner = self.environment.runner
        if self.is_worker and runner is not None:
            if not warmup:
                self._sink.write(record)
            runner.send_message(RECORD_MESSAGE, {"warmup": warmup, "record": record.to_dict()})
            return
        self.accept(record, warmup)

    def on_message(self, environment: Environment, msg: Any, **_: Any) -> None:
        """Master: a worker's record."""
        self.accept(RequestRecord.from_dict(msg.data["record"]), bool(msg.data["warmup"]))

    def accept(self, record: RequestRecord, warmup: bool) -> None:
        if warmup:
            if self._warm_sink is not None:
                self._warm_sink.write(record)
            return
        if record.request_id in self._seen:
            logging.warning("speedbench: duplicate record %s ignored", record.request_id)
            return
        self._seen.add(record.request_id)
        self._sink.write(record)
        self.live.add(record)
        self.measured += 1
        self.prompts_done += record.ends_prompt
        if record.ends_prompt and self.prompts_done == self.expected:
            self.finish()

    def finish(self) -> None:
        """Every measured prompt is finished: headless and distributed runs end; web UI stops."""
        runner = self.environment.runner
        if runner is None:
            return
        opts = self.environment.parsed_options
        gevent.spawn(runner.quit if opts is None or opts.headless else runner.stop)

    def close(self) -> None:
        self._sink.close()
        if self._warm_sink is not None:
            self._warm_sink.close()
