"""The current snapshot, and the only ways it changes: whole, by atomic replacement.

Writers (scheduler jobs) build a new ``Snapshot`` from the old one under a lock and swap the
reference; readers (``/metrics``, the landing page) take the reference once and render it
without any lock, so a scrape never sees a half-written run.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Optional

from exporter.aws.errors import OTHER_CODE
from exporter.root_activity import for_accounts
from exporter.state import Account, AccountState, OrganizationFeatures, Snapshot, SourceStatus

# Distinct error codes counted per account and source (per organization for discovery); further
# codes are counted as OTHER_CODE, so a flood of odd codes cannot grow the series without bound.
MAX_ERROR_CODES = 10


def next_status(
    previous: Optional[SourceStatus],
    now: float,
    value: Any = None,
    error: Optional[str] = None,
    hint: Optional[str] = None,
) -> SourceStatus:
    """The status after one run: a success replaces the value; a failure keeps the last good one."""
    if error is None:
        return SourceStatus(value=value, success=True, last_success=now, last_attempt=now)
    return SourceStatus(
        value=previous.value if previous else None,
        success=False,
        last_success=previous.last_success if previous else None,
        last_attempt=now,
        error=error,
        hint=hint or None,
        stale_since=previous.stale_since if previous else None,
    )


def with_accounts(snapshot: Snapshot, accounts: Iterable[Account], home_account_id: str) -> Snapshot:
    """Accounts that left disappear, with their root activity; new ones appear empty; the rest
    keep their sources."""
    states = {}
    for account in accounts:
        old = snapshot.accounts.get(account.id)
        states[account.id] = replace(old, account=account) if old else AccountState(account)
    return replace(
        snapshot,
        accounts=MappingProxyType(states),
        home_account_id=home_account_id,
        root_events=for_accounts(snapshot.root_events, states),
    )


def _count_under(known: Iterable[str], code: Optional[str]) -> str:
    """The code to count a failure under: ``code``, or ``OTHER_CODE`` for a new code past
    ``MAX_ERROR_CODES`` (``known`` are the codes already counted)."""
    code = code or OTHER_CODE
    known = set(known)
    if code not in known and len(known - {OTHER_CODE}) >= MAX_ERROR_CODES:
        return OTHER_CODE
    return code


def with_result(
    snapshot: Snapshot,
    account_id: str,
    source: str,
    now: float,
    value: Any = None,
    error: Optional[str] = None,
    code: Optional[str] = None,
) -> Snapshot:
    """Record one source's outcome for one account; a failure is counted under ``code``. An
    account that left meanwhile is ignored."""
    state = snapshot.accounts.get(account_id)
    if state is None:
        return snapshot
    # MappingProxyType.copy() copies the dict behind it at C speed; dict(proxy) goes key by key.
    sources = state.sources.copy()  # type: ignore[attr-defined]  # a MappingProxyType
    sources[source] = next_status(state.sources.get(source), now, value, error)
    errors = state.errors
    if error is not None:
        key = (source, _count_under((c for s, c in errors if s == source), code))
        errors = MappingProxyType({**errors, key: errors.get(key, 0) + 1})
    accounts = snapshot.accounts.copy()  # type: ignore[attr-defined]
    accounts[account_id] = replace(state, sources=MappingProxyType(sources), errors=errors)
    return replace(snapshot, accounts=MappingProxyType(accounts))


def without_source(snapshot: Snapshot, account_id: str, source: str) -> Snapshot:
    """Forget ``source`` for one account: it no longer applies there, so its old value must not
    keep speaking for the account (e.g. the root audit after centralized root access is off)."""
    state = snapshot.accounts.get(account_id)
    if state is None or source not in state.sources:
        return snapshot
    sources = state.sources.copy()  # type: ignore[attr-defined]  # a MappingProxyType
    del sources[source]
    accounts = snapshot.accounts.copy()  # type: ignore[attr-defined]
    accounts[account_id] = replace(state, sources=MappingProxyType(sources))
    return replace(snapshot, accounts=MappingProxyType(accounts))


def _marked(status: Optional[SourceStatus], limit: Optional[float], now: float) -> Optional[SourceStatus]:
    """``status`` with ``stale_since`` set or cleared for ``now``; None when it is already right."""
    if status is None:
        return None
    since = None
    if limit is not None and status.last_success is not None and now > status.last_success + limit:
        since = status.last_success + limit
    return None if since == status.stale_since else replace(status, stale_since=since)


def with_staleness(snapshot: Snapshot, now: float, stale_after: Mapping[str, float]) -> Snapshot:
    """Mark every status whose last success is older than its source's ``stale_after`` (seconds)
    as stale, and clear the mark where it no longer holds. Returns ``snapshot`` itself when
    nothing changed, so that its encoded exposition stays valid."""
    accounts = None
    for account_id, state in snapshot.accounts.items():
        sources = None
        for source, status in state.sources.items():
            marked = _marked(status, stale_after.get(source), now)
            if marked is not None:
                sources = sources if sources is not None else state.sources.copy()  # type: ignore[attr-defined]
                sources[source] = marked
        if sources is not None:
            accounts = accounts if accounts is not None else snapshot.accounts.copy()  # type: ignore[attr-defined]
            accounts[account_id] = replace(state, sources=MappingProxyType(sources))
    discovery = _marked(snapshot.discovery, stale_after.get("discovery"), now)
    changes: dict[str, Any] = {}
    if accounts is not None:
        changes["accounts"] = MappingProxyType(accounts)
    if discovery is not None:
        changes["discovery"] = discovery
    if dict(snapshot.stale_after) != dict(stale_after):
        changes["stale_after"] = MappingProxyType(dict(stale_after))
    return replace(snapshot, **changes) if changes else snapshot


def with_run_finished(snapshot: Snapshot, source: str, duration: float) -> Snapshot:
    durations = snapshot.run_durations.copy()  # type: ignore[attr-defined]
    durations[source] = duration
    return replace(
        snapshot, run_durations=MappingProxyType(durations), completed_sources=snapshot.completed_sources | {source}
    )


def with_discovery(
    snapshot: Snapshot,
    now: float,
    error: Optional[str] = None,
    home_account_id: Optional[str] = None,
    hint: Optional[str] = None,
    code: Optional[str] = None,
) -> Snapshot:
    """Record a discovery run; on failure ``hint`` says what to do (the landing page's banner)
    and the failure is counted under ``code``."""
    errors = snapshot.discovery_errors
    if error is not None:
        key = _count_under(errors, code)
        errors = MappingProxyType({**errors, key: errors.get(key, 0) + 1})
    return replace(
        snapshot,
        discovery=next_status(snapshot.discovery, now, error=error, hint=hint),
        home_account_id=snapshot.home_account_id or home_account_id,
        discovery_errors=errors,
    )


def with_features(
    snapshot: Snapshot, now: float, features: Optional[OrganizationFeatures], error: Optional[str] = None
) -> Snapshot:
    """Record a run of org_features; on a failure ``features`` is what to keep (None: forget)."""
    previous = snapshot.org_features
    if error is None:
        status = next_status(previous, now, features)
    else:
        status = SourceStatus(
            value=features,
            success=False,
            last_attempt=now,
            error=error,
            last_success=previous.last_success if previous else None,
        )
    return replace(snapshot, org_features=status)


def ready(snapshot: Snapshot, sources: Iterable[str]) -> bool:
    """Discovery has succeeded once and each of ``sources`` has finished a run since: before
    that, the exporter has nothing true to say about the organization (``/-/ready``)."""
    discovered = snapshot.discovery is not None and snapshot.discovery.last_success is not None
    return discovered and set(sources) <= snapshot.completed_sources


class SnapshotStore:
    """Holds the current snapshot; ``update`` applies a pure change and swaps it in."""

    def __init__(self, initial: Optional[Snapshot] = None):
        self._snapshot = initial or Snapshot()
        self._lock = threading.Lock()

    @property
    def current(self) -> Snapshot:
        return self._snapshot

    def update(self, change: Callable[..., Snapshot], *args: Any, **kwargs: Any) -> Snapshot:
        with self._lock:
            self._snapshot = change(self._snapshot, *args, **kwargs)
            return self._snapshot
