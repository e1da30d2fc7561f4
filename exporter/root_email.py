"""The root e-mail policy (``accounts.root_email.allowed``): does a root's address match it?

Each entry is a regular expression matched against the whole address, ignoring case, e.g.
``aws\\+[a-z0-9-]+@example\\.com`` for plus-addressed group mailboxes. The configuration is
checked at start (``config.py``); the patterns are compiled once here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


def email_allowed(patterns: tuple[str, ...], email: str) -> Optional[bool]:
    """True/False when a policy is configured and the address is known; None otherwise."""
    if not patterns or not email:
        return None
    return any(pattern.fullmatch(email) for pattern in _compiled(patterns))
