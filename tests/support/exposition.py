"""Read Prometheus exposition text (what ``/metrics`` and ``--once`` print) into a lookup.

Parsing is prometheus_client's own parser, so a line it cannot read fails the test that fetched
it. Series are keyed by their full label set; ``series(name, **labels)`` filters on a subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset  # frozenset of (label, value) pairs: a series' identity within its sample name


@dataclass(frozen=True)
class Exposition:
    types: Mapping[str, str]  # family name (counters without _total) -> "gauge", "counter", ...
    helps: Mapping[str, str]
    samples: Mapping[str, Mapping[Labels, float]]  # sample name -> labels -> value

    def value(self, name: str, **labels: str) -> Optional[float]:
        """The value of the series with exactly ``labels``; None when it is absent."""
        return self.samples.get(name, {}).get(frozenset(labels.items()))

    def series(self, name: str, **labels: str) -> dict[Labels, float]:
        """Every series of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return {key: value for key, value in self.samples.get(name, {}).items() if wanted <= key}

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(key)[label] for key in self.samples.get(name, {}) if label in dict(key)}


def parse(text: str) -> Exposition:
    types: dict[str, str] = {}
    helps: dict[str, str] = {}
    samples: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        helps[family.name] = family.documentation
        for sample in family.samples:
            key = frozenset(sample.labels.items())
            by_labels = samples.setdefault(sample.name, {})
            if key in by_labels:
                raise AssertionError(f"series {sample.name}{dict(key)} appears twice in the exposition")
            by_labels[key] = sample.value
    return Exposition(types, helps, samples)
