"""Stable hashes of account ids: which replica collects an account (its shard), and when in
each source's interval it is fetched (its stagger offset).

Shards: which accounts one replica collects when several share an organization.

Every replica discovers every account, then keeps those whose stable hash falls in its shard:
``sha256(account id) mod count == index``. The hash depends on the account id alone, so the
shards never overlap, together cover every account, and an account moves only when the number
of shards changes.
"""

from __future__ import annotations

import hashlib


def shard_of(account_id: str, count: int) -> int:
    """The shard (0 to ``count`` - 1) that collects ``account_id``."""
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def in_shard(account_id: str, index: int, count: int) -> bool:
    return count <= 1 or shard_of(account_id, count) == index


def stagger_fraction(account_id: str) -> float:
    """A stable number in [0, 1) for ``account_id``, independent of its shard: where in a
    source's spread the account is fetched (``Collection.run_source``)."""
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return int.from_bytes(digest[8:16], "big") / 2**64
