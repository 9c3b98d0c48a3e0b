"""The engine's acceptance over a Locust run, for the web UI's chart: the metrics endpoints are
scraped every few seconds and reduced from the window's opening scrape, as the final figure is."""

from __future__ import annotations

import logging
import time

import gevent
import requests

from loadgen.metrics.collect import MetricsWindow
from loadgen.metrics.exposition import scrape
from loadgen.metrics.window import text_deltas
from loadgen.swarm.live_tokens import LiveTokens

INTERVAL_S = 3.0


class LiveAcceptance:
    def __init__(self, window: MetricsWindow, live: LiveTokens) -> None:
        self.window = window
        self.live = live
        self.opened = time.monotonic()
        self._before: list[str] = []
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> LiveAcceptance:
        try:
            self._before = self._scrape()
        except requests.RequestException as exc:
            logging.warning("speedbench: no live acceptance: %s", exc)
            return self
        self._greenlet = gevent.spawn(self._loop)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def _scrape(self) -> list[str]:
        return [scrape(url, self.window.scrape_timeout_s) for url in self.window.metrics_urls]

    def _loop(self) -> None:
        adapter = self.window.adapter
        while True:
            gevent.sleep(INTERVAL_S)
            try:
                deltas = text_deltas(self._before, self._scrape(), adapter.counters)
                acceptance = adapter.reduce(deltas, [])
            except (requests.RequestException, ValueError, KeyError) as exc:
                logging.debug("speedbench: live acceptance scrape failed: %s", exc)
                continue
            if acceptance.acceptance_length is None:
                continue
            self.live.positions = len(acceptance.per_position)
            self.live.acceptance.append(
                {
                    "t": round(time.monotonic() - self.opened, 1),
                    "length": round(acceptance.acceptance_length, 3),
                    "rate": acceptance.acceptance_rate,
                }
            )
