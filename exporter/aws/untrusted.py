"""Strings from AWS made safe once, where they enter typed state.

Account and OU names, e-mails and CloudTrail fields are written by whoever administers an
account, and JSON lets them carry a lone UTF-16 surrogate (``\\ud800``): a Python ``str`` that
no UTF-8 encoder accepts, so one such name would make every page that prints it fail for the
whole organization. Each source passes the strings it keeps through ``clean``; nothing past the
edge (collector, landing page, JSON API, logs) needs to think about it.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
MAX_LENGTH = 512  # far above any AWS name (accounts 50, OUs 128, e-mails 64, IPv6 45 characters)
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(value: Any, limit: int = MAX_LENGTH) -> str:
    """``value`` as text that encodes to UTF-8: every lone surrogate replaced with U+FFFD, and
    cut to ``limit`` characters (with "…") so a hostile field cannot swell every scrape."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub(REPLACEMENT, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
