"""The same window deltas, read from a Prometheus server with PromQL.

``increase()`` extrapolates: it scales the difference between the first and last samples in the
range by ``range / (last - first)``. Aligning the range with two real scrapes removes that: the
window opens at the timestamp of a scrape taken after the engine went idle and before the load
starts, and closes at the timestamp of a scrape taken after the load ended, and the query is
evaluated at that closing timestamp over exactly that range. Both edge samples then sit on the
range boundaries (Prometheus 2.x ranges include both ends), the extrapolation factor is exactly 1,
and ``increase()`` equals the reset-aware difference of the two scrapes: the figures of a direct
scrape, to the token. (Several replicas scraped at different offsets cannot all be aligned; their
figures then carry the extrapolation of at most one scrape interval at each edge.)
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import requests

from loadgen.metrics.window import CounterKey, Deltas


class PromQLError(RuntimeError):
    pass


class PromQL:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def query(self, expr: str, at: float) -> list[tuple[dict[str, str], float]]:
        """Instant query at wall time ``at`` -> (labels, value) per series."""
        try:
            response = requests.get(
                f"{self.base_url}/api/v1/query",
                params={"query": expr, "time": f"{at:.3f}"},
                timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            raise PromQLError(f"Prometheus at {self.base_url} unreachable: {exc}") from exc
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code != 200 or body.get("status") != "success":
            raise PromQLError(f"PromQL {expr!r} failed ({response.status_code}): {body}")
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    def scrape_after(self, metric: str, wall: float, timeout_s: float = 30.0) -> float:
        """Timestamp of the first scrape of ``metric`` newer than ``wall`` (waits for it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.query(f"max(timestamp({metric}))", time.time())
            if found and found[0][1] > wall:
                return found[0][1]
            time.sleep(0.2)
        raise PromQLError(
            f"Prometheus at {self.base_url} has no scrape of {metric} after {wall:.3f} within "
            f"{timeout_s:.0f} s: is it scraping the engine (check its targets page)?"
        )

    def window_deltas(self, names: Collection[str], start: float, end: float) -> Deltas:
        """``sum by (position) (increase(name[end - start]))`` at ``end``, and resets()."""
        window = f"{round((end - start) * 1000)}ms"
        values: dict[CounterKey, float] = {}
        reset = False
        for name in names:
            for labels, value in self.query(f"sum by (position) (increase({name}[{window}]))", end):
                values[(name, labels.get("position"))] = value
            resets = self.query(f"sum(resets({name}[{window}]))", end)
            reset = reset or any(v > 0 for _, v in resets)
        return Deltas(values, reset)
