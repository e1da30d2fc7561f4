"""Real headless Chromium (Debian ``chromium``) for page tests, and a small reader for its DOM.

``dump_dom(url)`` returns the DOM as Chromium rendered it (``--dump-dom``); ``screenshot`` saves a
PNG. Each call runs a fresh browser with its own throw-away profile. ``parse_html`` turns markup
into a tree of ``Element``s using only the standard library's ``html.parser``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, Optional

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_binary() -> str:
    """Path of Debian's chromium; an AssertionError (a failure, never a skip) when it is missing."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not path:
        raise AssertionError(f"{CHROMIUM} not found: `make test` installs Debian's chromium package")
    return path


def _run(args: list[str], timeout: float) -> str:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        result = subprocess.run(
            [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if result.returncode != 0:
        raise AssertionError(f"chromium exited with {result.returncode}:\n{result.stderr[-3000:]}")
    return result.stdout


def dump_dom(url: str, timeout: float = 60.0) -> str:
    """The serialized DOM of ``url`` after Chromium loaded it."""
    dom = _run(["--dump-dom", url], timeout)
    if "<html" not in dom:
        raise AssertionError(f"chromium printed no DOM for {url}: {dom[:500]!r}")
    return dom


def screenshot(url: str, path: Path, width: int = 1600, height: int = 1000, timeout: float = 60.0) -> Path:
    """A PNG of ``url`` at ``width`` x ``height`` CSS pixels, written to ``path``."""
    _run([f"--screenshot={path}", f"--window-size={width},{height}", "--hide-scrollbars", url], timeout)
    if not path.exists() or path.stat().st_size == 0:
        raise AssertionError(f"chromium wrote no screenshot to {path}")
    return path


# ---------------------------------------------------------------- reading the DOM


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list["Element | str"] = field(default_factory=list)

    def text(self) -> str:
        """The element's text, whitespace collapsed."""
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else child.text())
        return " ".join(" ".join(parts).split())

    def iter(self) -> Iterator["Element"]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str, **attrs: Optional[str]) -> list["Element"]:
        """Descendants (and self) with ``tag``; an attr given as None only has to be present.
        Attribute names use ``_`` for ``-`` (``data_account_id``)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            element
            for element in self.iter()
            if element.tag == tag
            and all(
                name in element.attrs and (value is None or element.attrs[name] == value)
                for name, value in wanted.items()
            )
        ]

    def find(self, tag: str, **attrs: Optional[str]) -> "Element":
        found = self.find_all(tag, **attrs)
        if len(found) != 1:
            raise AssertionError(f"expected one <{tag} {attrs}>, found {len(found)}")
        return found[0]

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.stack[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(markup: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root
