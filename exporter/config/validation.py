"""Validation helpers: converters that raise ``_Invalid`` with a key path, and ``_Reader``, which
collects every problem of a document instead of stopping at the first."""

from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Optional

from exporter.config.durations import format_duration, parse_duration
from exporter.config.messages import _got, _kind, _show
from exporter.config.yaml_loader import _YamlInt


class _Invalid(Exception):
    """One or more problems with a value, each as (path suffix, message)."""

    def __init__(self, message: str = "", problems: Optional[list[tuple[str, str]]] = None):
        super().__init__(message)
        self.problems = problems if problems is not None else [("", message)]


_BAD = object()  # a value that failed validation; cross-checks skip it


def _plain_int(value: object) -> Optional[int]:
    """``value`` as an int when YAML read it as one, refusing texts whose digits YAML changed."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    written = getattr(value, "text", str(int(value))).strip().lstrip("+")
    if written != str(int(value)):
        raise _Invalid(f"YAML reads {written} as the number {int(value)}; write {int(value)} if that is what you mean")
    return int(value)


def _suggest(word: object, known) -> str:
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _expect_mapping(value: object, known: tuple[str, ...]) -> dict:
    """``value`` as a mapping with only ``known`` keys; null means empty (all defaults)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"expected a mapping with keys {', '.join(known)}, got {_kind(value)}")
    unknown = [
        (f".{key}", f"unknown key{_suggest(key, known)}; known keys: {', '.join(known)}")
        for key in value
        if key not in known
    ]
    if unknown:
        raise _Invalid(problems=unknown)
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_got(value)}")
    return value


def _matching(pattern: re.Pattern, what: str) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = _string(value)
        if not pattern.fullmatch(text):
            raise _Invalid(f"{_show(text)} is not {what}")
        return text

    return convert


def _choice(choices: tuple[str, ...]) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = _string(value)
        if text not in choices:
            raise _Invalid(f"{_show(text)} is not one of {', '.join(choices)}{_suggest(text, choices)}")
        return text

    return convert


def _integer(low: int, high: int) -> Callable[[object], int]:
    def convert(value: object) -> int:
        number = _plain_int(value)
        if number is None:
            raise _Invalid(f"expected a whole number from {low} to {high}, got {_got(value)}")
        if not low <= number <= high:
            raise _Invalid(f"{number} is out of range: it must be from {low} to {high}")
        return number

    return convert


def _duration(low: float, high: Optional[float] = None) -> Callable[[object], float]:
    def convert(value: object) -> float:
        if isinstance(value, _YamlInt) and value.text.strip().lstrip("+") != str(int(value)):
            raise _Invalid(f"YAML reads {value.text} as the number {int(value)}; write a duration like 30s, 5m, 1h30m")
        try:
            seconds = parse_duration(value)  # type: ignore[arg-type]
        except ValueError as error:
            raise _Invalid(str(error)) from None
        if seconds < low:
            raise _Invalid(f"{_show(value)} is below the minimum of {format_duration(low)}")
        if high is not None and seconds > high:
            raise _Invalid(f"{_show(value)} is above the maximum of {format_duration(high)}")
        return seconds

    return convert


def _list_of(item: Callable[[object], object], what: str) -> Callable[[object], tuple]:
    def convert(value: object) -> tuple:
        if value is None:
            return ()
        if not isinstance(value, list):
            hint = f"; write [{_show(value)}] for a list of one" if isinstance(value, (str, int)) else ""
            raise _Invalid(f"expected a list of {what}, got {_kind(value)}{hint}")
        out, problems = [], []
        for index, element in enumerate(value):
            try:
                out.append(item(element))
            except _Invalid as error:
                problems += [(f"[{index}]{suffix}", message) for suffix, message in error.problems]
        if problems:
            raise _Invalid(problems=problems)
        return tuple(out)

    return convert


class _Reader:
    """Reads keys of a mapping through converters, collecting problems instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def section(self, value: object, path: str, known: tuple[str, ...]) -> dict:
        try:
            return _expect_mapping(value, known)
        except _Invalid as error:
            self.problems += [(path + suffix, message) for suffix, message in error.problems]
            return value if isinstance(value, dict) else {}

    def get(self, mapping: dict, key: str, default: object, convert: Callable, path: str) -> Any:
        """The converted value, ``default`` when absent, ``_BAD`` (recorded as a problem) when invalid."""
        if key not in mapping:
            return default
        try:
            return convert(mapping[key])
        except _Invalid as error:
            self.problems += [(path + suffix, message) for suffix, message in error.problems]
            return _BAD

    def error(self, path: str, message: str) -> None:
        self.problems.append((path, message))


def _line(source: str, path: str, message: str) -> str:
    path = path.lstrip(".")
    return f"{source}: {path}: {message}" if path else f"{source}: {message}"
