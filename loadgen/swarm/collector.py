"""Where a record goes when its request ends, in each Locust mode.

Stand-alone (headless or web UI) the process keeps its own records. A distributed worker keeps a
copy in ``RUN/workers/worker-<index>.jsonl`` and sends every record to the master; the master
keeps them (one per request id, so a duplicate delivery is never counted twice) and ends the run
when every measured prompt of every worker is finished. A multi-turn prompt sends one request per
turn and is finished with its last turn (``RequestRecord.ends_prompt``, from the ``turn`` /
``turns`` each record carries through the worker->master message). Warm-up requests are sent by
the master (or stand-alone process) before the run starts and never reach the collector.
Each record also says whether the process that sent it ran at real-time priority
(``loadgen.client.priority``): in a distributed run the workers send, not the master.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadgen.client.priority import is_realtime
from loadgen.client.record import RequestRecord
from loadgen.client.sink import RECORDS_JSONL, RecordSink, worker_records_path
from loadgen.swarm.live_tokens import LiveTokens

RECORD_MESSAGE = "speedbench_record"
ERROR_MESSAGE = "speedbench_error"

Send = Callable[[str, dict[str, Any]], None]  # a worker's runner.send_message


class Collector:
    def __init__(
        self,
        out: Path,
        expected: int,
        on_all_done: Callable[[], None],
        worker: tuple[int, Send] | None = None,
    ) -> None:
        self.expected = expected  # measured prompts (conversations), not requests
        self.on_all_done = on_all_done
        self.live = LiveTokens()
        self.measured = 0  # measured records (one per request, i.e. per turn)
        self.prompts_done = 0
        self._seen: set[str] = set()
        self._senders_realtime: set[bool | None] = set()  # one entry per kind of sender seen
        self._realtime = is_realtime()  # this process's, fixed before its first request
        self._send = worker[1] if worker else None
        path = worker_records_path(out, worker[0]) if worker else out / RECORDS_JSONL
        self._sink = RecordSink(path)

    def record_ended(self, record: RequestRecord) -> None:
        """Called in the process that sent the request."""
        if self._send is not None:
            self._sink.write(record)
            self._send(RECORD_MESSAGE, {"record": record.to_dict(), "realtime": self._realtime})
            return
        self.accept(record, self._realtime)

    def on_message(self, msg: Any) -> None:
        """Master: a worker's record."""
        self.accept(RequestRecord.from_dict(msg.data["record"]), msg.data.get("realtime"))

    def accept(self, record: RequestRecord, sender_realtime: bool | None) -> None:
        if record.request_id in self._seen:
            logging.warning("speedbench: duplicate record %s ignored", record.request_id)
            return
        self._seen.add(record.request_id)
        self._senders_realtime.add(sender_realtime)
        self._sink.write(record)
        self.live.add(record)
        self.measured += 1
        self.prompts_done += record.ends_prompt
        if record.ends_prompt and self.prompts_done == self.expected:
            self.on_all_done()

    def senders_realtime(self) -> bool | None:
        """Whether every process that sent a measured request ran real-time (None: some could
        not say, or none sent)."""
        seen = self._senders_realtime
        if False in seen:
            return False
        return True if seen == {True} else None

    def close(self) -> None:
        self._sink.close()
