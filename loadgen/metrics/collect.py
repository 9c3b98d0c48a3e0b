"""One cell's metrics window: scrape (and/or mark a Prometheus scrape), poll, scrape, reduce.

``open()`` before the load starts, ``close()`` after it ends. Sources: a direct scrape of every
target (``metrics_urls``: one per replica), PromQL against a Prometheus server, or both; with
both, the PromQL figures are the cell's and the direct ones are kept as a cross-check. Raw scrapes
and polls are written next to the results as evidence.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from loadgen.metrics.acceptance import Acceptance
from loadgen.metrics.adapter import EngineAdapter
from loadgen.metrics.crosscheck import restart_flags
from loadgen.metrics.exposition import parse_exposition, scrape
from loadgen.metrics.promql import PromQL, PromQLError
from loadgen.metrics.sampler import POLLS_JSONL, Sampler
from loadgen.metrics.window import Deltas, WindowCounters, text_deltas

# Direct and PromQL figures of one window agree exactly when scrapes are aligned (see promql.py)
# and within this fraction otherwise (replicas scraped at different offsets).
SOURCE_AGREEMENT_TOLERANCE = 1e-6
CLOSING_SCRAPE_FAILED = "none: the closing scrape failed"  # a resumed sweep redoes such a cell


class MetricsUnavailable(RuntimeError):
    """A metrics endpoint did not answer within the scrape timeout, or answered something that is
    not Prometheus text (a proxy's HTML error page): either way the window has no engine side."""


@dataclass(frozen=True)
class WindowResult:
    acceptance: Acceptance
    counters: WindowCounters | None
    flags: list[str]
    evidence: dict[str, Any]


def poll_url(metrics_url: str, adapter: EngineAdapter) -> str:
    """The adapter's poll endpoint on the same server as its metrics endpoint."""
    assert adapter.poll_path is not None
    base = metrics_url.removesuffix(adapter.metrics_path).rstrip("/")
    return base + adapter.poll_path


def _scrape_file(out_dir: Path, stage: str, index: int) -> Path:
    return out_dir / (f"metrics_{stage}.txt" if index == 0 else f"metrics_{stage}_{index}.txt")


def saved_scrapes(out_dir: Path, stage: str) -> list[str]:
    """The texts a window kept of its ``stage`` ("before" / "after") scrape, one per target in
    target order (empty: no direct scrape was kept, e.g. PromQL only or ``--no-metrics``)."""
    texts: list[str] = []
    while (path := _scrape_file(out_dir, stage, len(texts))).is_file():
        texts.append(path.read_text())
    return texts


@dataclass
class MetricsWindow:
    adapter: EngineAdapter
    metrics_urls: tuple[str, ...] = ()
    prometheus_url: str | None = None
    poll_interval_s: float = 1.0
    scrape_timeout_s: float = 10.0  # a hung endpoint costs at most this per scrape
    _before: list[str] = field(default_factory=list)
    _prom_start: float | None = None
    _sampler: Sampler | None = None

    def open(self, out_dir: Path) -> None:
        """Before the load; an endpoint that does not answer stops the cell before it starts."""
        try:
            self._before = self._scrape(out_dir, "before")
        except MetricsUnavailable as exc:
            raise MetricsUnavailable(
                f"{exc}; is the engine up? If it is, fix --metrics-url or pass --no-metrics"
            ) from exc
        if self.prometheus_url:
            self._prom_start = self._prom().scrape_after(self._clock_metric(), time.time())
        if self.adapter.poll_path and self.metrics_urls:
            urls = [poll_url(u, self.adapter) for u in self.metrics_urls]
            log = out_dir / POLLS_JSONL
            log.unlink(missing_ok=True)
            self._sampler = Sampler(urls, self.poll_interval_s, log).start()

    def abort(self) -> None:
        """Stops the sampler when the load failed; what it polled is already on disk."""
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None

    def close(self, out_dir: Path) -> WindowResult:
        polls = self._sampler.stop() if self._sampler else []
        self._sampler = None
        flags = _poll_flags(polls)
        if self.adapter.poll_path and not self.metrics_urls:
            flags.append(
                f"{self.adapter.engine}: SD figures need polls of {self.adapter.poll_path}, "
                "which needs a direct --metrics-url (PromQL alone cannot give them)"
            )
        try:
            after = self._scrape(out_dir, "after")
        except MetricsUnavailable as exc:  # engine died or endpoint hung: records are kept
            none = Acceptance(source=CLOSING_SCRAPE_FAILED)
            flag = (
                f"engine metrics missing for this cell: {exc}. Its figures are client-side only "
                "(the engine died or restarted, or its metrics endpoint hung)"
            )
            return WindowResult(none, None, [*flags, flag], {"engine": self.adapter.engine})
        names = self.adapter.counters
        direct = text_deltas(self._before, after, names) if self.metrics_urls else None
        flags += restart_flags(self._before, after)
        promql = None
        evidence: dict[str, Any] = {"engine": self.adapter.engine, "polls": sum(map(len, polls))}
        if self.prometheus_url and self._prom_start is not None:
            try:
                end = self._prom().scrape_after(self._clock_metric(), time.time())
                promql = self._prom().window_deltas(names, self._prom_start, end)
                evidence["promql_window"] = {"start": self._prom_start, "end": end}
            except PromQLError as exc:  # the direct scrape, if any, still gives the figures
                fallback = "the direct scrape's" if direct is not None else "no"
                flags.append(f"PromQL failed at the end of the cell ({exc}): {fallback} figures")
        chosen = promql or direct
        if chosen is None:
            none = Acceptance(source="none: no metrics endpoint or Prometheus")
            return WindowResult(none, None, flags, evidence)
        acceptance = self.adapter.reduce(chosen, polls)
        if promql is not None:
            acceptance = _with_source(acceptance, acceptance.source + " via PromQL increase()")
        if promql is not None and direct is not None:
            direct_acceptance = self.adapter.reduce(direct, polls)
            evidence["direct_acceptance"] = direct_acceptance.to_dict()
            flags += _disagreement(direct, promql, names)
        return WindowResult(acceptance, self.adapter.window_counters(chosen), flags, evidence)

    def _scrape(self, out_dir: Path, stage: str) -> list[str]:
        texts = []
        for index, url in enumerate(self.metrics_urls):
            try:
                texts.append(scrape(url, self.scrape_timeout_s))
            except requests.RequestException as exc:
                raise MetricsUnavailable(
                    f"cannot scrape engine metrics at {url} ({stage} the cell): {exc}"
                ) from exc
            _scrape_file(out_dir, stage, index).write_text(texts[-1])  # evidence, readable or not
            try:
                parse_exposition(texts[-1])
            except ValueError as exc:
                raise MetricsUnavailable(
                    f"engine metrics at {url} ({stage} the cell) are not Prometheus text "
                    f"({str(exc)[:80]!r}; kept in {_scrape_file(out_dir, stage, index).name}): "
                    "a proxy's error page or the wrong path"
                ) from exc
        return texts

    def _prom(self) -> PromQL:
        assert self.prometheus_url is not None
        return PromQL(self.prometheus_url)

    def _clock_metric(self) -> str:
        """A counter every scrape of the engine carries: its scrape timestamps mark the window."""
        return self.adapter.tokens.generation or self.adapter.counters[0]


def _with_source(acceptance: Acceptance, source: str) -> Acceptance:
    return dataclasses.replace(acceptance, source=source)


def _poll_flags(polls: list[list[Any]]) -> list[str]:
    failed = sum(1 for target in polls for p in target if p.error)
    total = sum(map(len, polls))
    return [f"{failed} of {total} metric polls failed (see polls.jsonl)"] if failed else []


def _disagreement(direct: Deltas, promql: Deltas, names: tuple[str, ...]) -> list[str]:
    out = []
    for name in names:
        a, b = direct.total(name), promql.total(name)
        if a is None and b is None:
            continue
        if a is None or b is None or not math.isclose(a, b, rel_tol=SOURCE_AGREEMENT_TOLERANCE):
            out.append(f"{name}: direct scrape {a} vs PromQL {b}")
    return [f"metric sources disagree: {'; '.join(out)}"] if out else []
