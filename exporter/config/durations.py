"""Durations as the configuration writes them: ``30s``, ``5m``, ``1h30m``, ``1d``."""

from __future__ import annotations

import math
import re

from exporter.config.messages import _kind, _show

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text``: ``30s``, ``5m``, ``1h30m``, ``1d``; a bare number means seconds."""
    if isinstance(text, bool):
        raise ValueError(f"{_show(text)} is not a duration: use a number with a unit, e.g. 30s, 5m, 1h")
    if isinstance(text, (int, float)):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"{text} is not a duration: it must be a finite number of seconds, 0 or more")
        return float(text)
    if not isinstance(text, str):
        raise ValueError(f"{_kind(text)} is not a duration: use a string like 30s, 5m, 1h30m")
    stripped = text.strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", stripped):
        raise ValueError(f"{_show(text)} has no unit: write {stripped}s for seconds (units: s, m, h, d)")
    parts = _DURATION_PART.findall(stripped)
    if not stripped or "".join(n + u for n, u in parts) != stripped:
        raise ValueError(f"{_show(text)} is not a duration: use numbers with a unit s, m, h or d, e.g. 30s, 5m, 1h30m")
    units = [unit for _, unit in parts]
    if units != sorted(set(units), key="dhms".index):
        raise ValueError(f"{_show(text)} is not a duration: write each unit once, largest first, e.g. 1h30m")
    return float(sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


def format_duration(seconds: float) -> str:
    """The shortest ``parse_duration`` text for ``seconds``: 3600 -> "1h", 90 -> "1m30s"."""
    if isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{seconds!r} is not a duration in seconds")
    milliseconds = round(seconds * 1000)
    whole, fraction = divmod(milliseconds, 1000)
    out = []
    for unit in "dhm":
        count, whole = divmod(whole, _UNIT_SECONDS[unit])
        if count:
            out.append(f"{count}{unit}")
    if whole or fraction or not out:
        text = f"{whole}.{fraction:03d}".rstrip("0").rstrip(".") if fraction else str(whole)
        out.append(f"{text}s")
    return "".join(out)
