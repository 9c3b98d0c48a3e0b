"""Prometheus text exposition -> flat samples, and fetching it over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


def parse_exposition(text: str) -> list[Sample]:
    samples = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.append(Sample(s.name, tuple(sorted(s.labels.items())), float(s.value)))
    return samples


def scrape(url: str, timeout_s: float = 10.0) -> str:
    """One GET of a metrics endpoint; the raw text is kept as evidence next to the results."""
    response = requests.get(url, timeout=timeout_s)
    response.raise_for_status()
    return response.text
