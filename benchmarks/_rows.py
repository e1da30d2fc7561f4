"""The one line format every benchmark prints a figure of the issue's "Targets" table in.

A script prints ``#row {"figure": ..., "value": ..., "target": ..., "met": true|false|null}``
(JSON after the ``#row `` marker) for each figure it measures; ``benchmarks/targets.py`` (``make
bench``) runs the scripts and collects the rows into one table. ``met`` null = not judged.
"""

from __future__ import annotations

import json
from typing import Optional

MARK = "#row "


def row(figure: str, value: str, target: str, met: Optional[bool], note: str = "") -> None:
    print(MARK + json.dumps({"figure": figure, "value": value, "target": target, "met": met, "note": note}), flush=True)


def parse_rows(text: str) -> list[dict]:
    return [json.loads(line[len(MARK) :]) for line in text.splitlines() if line.startswith(MARK)]
