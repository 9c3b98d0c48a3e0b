"""A thread that polls engine endpoints while the load runs (gauges, drained JSON stats).

The first poll of each target happens in ``start()``, before the load, and is the window's
reference; the last happens in ``stop()``, after it. Every poll is appended to a JSON-lines file
as it arrives, so a crash mid-cell keeps what was polled.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from loadgen.metrics.adapter import Poll

POLLS_JSONL = "polls.jsonl"


class Sampler:
    def __init__(
        self,
        urls: Sequence[str],
        interval_s: float = 1.0,
        log_path: Path | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"poll interval must be > 0 s, got {interval_s}")
        self.urls = list(urls)
        self.interval_s = interval_s
        self.log_path = log_path
        self.timeout_s = timeout_s
        self.polls: list[list[Poll]] = [[] for _ in self.urls]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="speedbench-sampler", daemon=True)
        self._session = requests.Session()
        self._lock = threading.Lock()

    def start(self) -> Sampler:
        self._poll_all()
        self._thread.start()
        return self

    def stop(self) -> list[list[Poll]]:
        """Ends the thread, takes the closing poll, returns every target's polls in time order."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._poll_all()
        self._session.close()
        return self.polls

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._poll_all()

    def _poll_all(self) -> None:
        with self._lock:
            for index, url in enumerate(self.urls):
                poll = self._poll(url)
                self.polls[index].append(poll)
                self._log(index, url, poll)

    def _poll(self, url: str) -> Poll:
        wall = time.time()
        try:
            response = self._session.get(url, timeout=self.timeout_s)
            response.raise_for_status()
            return Poll(wall, response.text)
        except requests.RequestException as exc:
            return Poll(wall, "", error=f"{type(exc).__name__}: {exc}")

    def _log(self, index: int, url: str, poll: Poll) -> None:
        if self.log_path is None:
            return
        row = {"target": index, "url": url, "wall": poll.wall, "error": poll.error}
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({**row, "body": poll.body}) + "\n")
