"""The YAML loader: PyYAML's safe loader, minus two of YAML 1.1's pitfalls.

YAML 1.1 (what PyYAML reads) turns some plain values into surprises: ``off`` is a boolean,
``1:30`` is the number 90, ``011111111111`` is an octal number. This loader keeps the text of
every integer it reads (``_YamlInt.text``) so such cases are reported in the user's own words,
and it notes every key written twice (PyYAML would silently keep the last).
"""

from __future__ import annotations

import json

import yaml

from exporter.config.schema import ConfigError


class _YamlInt(int):
    """An int read from YAML that remembers how it was written (``011111111111``, ``1:30``)."""

    text: str

    def __new__(cls, value: int, text: str) -> "_YamlInt":
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps number texts and notes keys written twice (PyYAML keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    self.duplicates.append(
                        f"line {line}: key {json.dumps(key_node.value, ensure_ascii=False)} is repeated (first on line {seen[key]}); "
                        "only one may stay"
                    )
                else:
                    seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> _YamlInt:
    return _YamlInt(yaml.SafeLoader.construct_yaml_int(loader, node), node.value)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def read_yaml(path: str) -> tuple[object, list[str]]:
    """The YAML document at ``path`` and the problems found while reading it (keys written twice).

    Raises ``ConfigError`` naming ``path`` when the file cannot be read or is not YAML.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a YAML file"]) from None
    except PermissionError:
        raise ConfigError([f"{path}: permission denied"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text (byte {error.start})"]) from None
    loader = None
    try:
        loader = _Loader(text)  # its reader refuses control characters here already
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        raise ConfigError([_yaml_error(path, error)]) from None
    except yaml.reader.ReaderError as error:
        before = text[: error.position]
        where = f"line {before.count(chr(10)) + 1}, column {len(before) - before.rfind(chr(10))}"
        code = error.character if isinstance(error.character, int) else ord(error.character)
        raise ConfigError(
            [
                f"{path}: {where}: invalid YAML: character U+{code:04X} is not allowed in YAML "
                "(control characters and lone surrogates are refused)"
            ]
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{path}: invalid YAML: {error}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, [f"{path}: {problem}" for problem in loader.duplicates]


def _yaml_error(path: str, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = error.problem or "syntax error"
    context = ""
    if error.context and error.context_mark and error.context_mark is not mark:
        context = f" ({error.context} on line {error.context_mark.line + 1})"
    return f"{path}: {where}invalid YAML: {problem}{context}"
