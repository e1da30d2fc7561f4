"""How a value read from YAML is named in an error message: its kind and its text as written."""

from __future__ import annotations

import json

from exporter.config.yaml_loader import _YamlInt


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, _YamlInt):
        return value.text
    if value is None:
        return "null"
    return str(value)


def _got(value: object) -> str:
    """``value`` as "got ..." text: the kind, and the value itself for a scalar."""
    if value is None or isinstance(value, (list, tuple, dict)):
        return _kind(value)
    return f"{_kind(value)} {_show(value)}"
