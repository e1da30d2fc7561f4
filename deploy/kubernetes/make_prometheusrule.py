"""Writes prometheusrule.yaml (beside this script) from prometheus/alerts.yml: the same groups
and rules, wrapped in a prometheus-operator PrometheusRule. `make prometheusrule` runs it;
tests/test_kubernetes.py fails when the file is not up to date.

    python deploy/kubernetes/make_prometheusrule.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ALERTS = HERE.parent.parent / "prometheus" / "alerts.yml"
OUTPUT = HERE / "prometheusrule.yaml"
HEADER = (
    "# Generated from prometheus/alerts.yml by deploy/kubernetes/make_prometheusrule.py "
    "(`make prometheusrule`); do not edit.\n"
)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the expressions) as literal blocks, as alerts.yml writes them."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


def render(alerts_text: str) -> str:
    rules = yaml.safe_load(alerts_text)
    resource = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "aws-root-exporter"},
        "spec": {"groups": rules["groups"]},
    }
    return HEADER + yaml.dump(resource, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


def main() -> int:
    text = render(ALERTS.read_text())
    if "--check" in sys.argv[1:]:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is out of date: run `make prometheusrule`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
