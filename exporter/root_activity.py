"""Root activity in CloudTrail records: which records count, under which name and session kind.

Pure: no AWS calls. A record counts as root activity by the rules of the CIS AWS Foundations
"monitor root usage" filter: ``userIdentity.type`` is ``Root`` (compared case-insensitively),
``userIdentity.invokedBy`` does not exist and ``eventType`` is not ``AwsServiceEvent``.

The session kind tells centrally issued privileged tasks (``sts:AssumeRoot``) from use of the
root user's own credentials. A temporary ``ASIA…`` key and a ``sessionContext`` prove nothing:
the API calls of a root password console session carry them too. So a record is ``assumed_root``
only on evidence:

* its access key was issued by an ``AssumeRoot`` call seen on the stream (the call is recorded in
  the calling account, with ``responseElements.credentials.accessKeyId`` and
  ``requestParameters.targetPrincipal``);
* or it carries ``userIdentity.sessionContext.assumedRoot == "true"``, the marker CloudTrail
  documents for these sessions (IAM User Guide, "Track privileged tasks in AWS CloudTrail",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-track-privileged-tasks.html).

Everything else is ``root_credentials``: the exporter never hides real root use. Records made
with the access keys of the exporter's own audit sessions (``OWN_AUDIT_SESSIONS``, filled from its
``AssumeRoot`` responses) are not activity at all.

Parsing is defensive: a field of the wrong type raises ``MalformedRecord``, never anything else.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Container, Iterable, Mapping, Optional, Union

from exporter.state import DelayHistogram, RootEvents, Snapshot

ROOT_CREDENTIALS = "root_credentials"
ASSUMED_ROOT = "assumed_root"
SESSIONS = (ROOT_CREDENTIALS, ASSUMED_ROOT)
OTHER = "other"

# The eventName values kept as they are; every other name becomes "other", so the label stays
# bounded whatever CloudTrail sends. Sign-in events (signin.amazonaws.com), root credential
# changes (iam.amazonaws.com) and account settings only root (or the account API) may change.
NOTABLE_EVENTS = frozenset(
    {
        # console sign-in and password
        "ConsoleLogin",
        "CheckMfa",
        "PasswordRecoveryRequested",
        "PasswordRecoveryCompleted",
        "ChangePassword",
        # MFA devices
        "CreateVirtualMFADevice",
        "EnableMFADevice",
        "DeactivateMFADevice",
        "DeleteVirtualMFADevice",
        "ResyncMFADevice",
        # access keys and signing certificates
        "CreateAccessKey",
        "UpdateAccessKey",
        "DeleteAccessKey",
        "UploadSigningCertificate",
        "UpdateSigningCertificate",
        "DeleteSigningCertificate",
        # login profile (console password) via IAM and root-task sessions
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "DeleteLoginProfile",
        # the account itself
        "CloseAccount",
        "PutContactInformation",
        "PutAlternateContact",
        "DeleteAlternateContact",
        "PutAccountName",
        "StartPrimaryEmailUpdate",
        "AcceptPrimaryEmailUpdate",
        "EnableRegion",
        "DisableRegion",
    }
)

ASSUME_ROOT_SECONDS = 900  # the longest session AssumeRoot issues
CLOCK_SKEW = 60.0  # seconds a record's time may lie past its session's end
DELIVERY_MARGIN = 1800.0  # CloudTrail delivers within ~15 minutes; keep keys this long after expiry
MAX_KEYS = 10_000  # cap on remembered AssumeRoot access keys (own and seen)
SEEN_WINDOW = 25 * 3600.0  # the polling path looks back up to 24 h on its first run
MAX_SEEN = 20_000  # cap on remembered event ids
DELAY_BOUNDS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_SURROGATES = re.compile("[\ud800-\udfff]")


class MalformedRecord(ValueError):
    """A CloudTrail record (or the event around it) this exporter cannot read."""


def clean_text(value: str) -> str:
    """``value`` with lone surrogates (which JSON can carry, UTF-8 cannot) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", value)


# ---------------------------------------------------------------- parsed values


@dataclass(frozen=True)
class RootActivity:
    """One root-activity record: what ``root_activity_events_total`` counts."""

    event_id: str
    account_id: str
    event_name: str  # a NOTABLE_EVENTS member or "other"
    session: str  # ROOT_CREDENTIALS | ASSUMED_ROOT
    time: float  # Unix seconds of the event


@dataclass(frozen=True)
class AssumeRootIssued:
    """An ``sts:AssumeRoot`` call recorded in the calling account: the key it issued."""

    event_id: str
    access_key_id: str
    target_account: str
    expires: float  # Unix seconds the session ends


# ---------------------------------------------------------------- field readers


def _field(mapping: Mapping[str, Any], key: str, kind: Union[type, tuple], what: str, required: bool = True) -> Any:
    value = mapping.get(key)
    if value is None:
        if required:
            raise MalformedRecord(f"{what} is missing")
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise MalformedRecord(f"{what} is a {type(value).__name__}")
    return clean_text(value) if isinstance(value, str) else value


def parse_time(value: Any, what: str = "eventTime") -> float:
    """ISO 8601 (``2026-12-01T10:00:00Z``) to Unix seconds."""
    if not isinstance(value, str):
        raise MalformedRecord(f"{what} is not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedRecord(f"{what} {clean_text(value)[:40]!r} is not ISO 8601") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def account_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise MalformedRecord(f"{what} is not a 12-digit account id")
    return value


def _identity(record: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise MalformedRecord("the record is not an object")
    identity = record.get("userIdentity")
    if not isinstance(identity, Mapping):
        raise MalformedRecord("userIdentity is not an object")
    return identity


def is_root_activity(record: Mapping[str, Any]) -> bool:
    """The CIS filter: root identity, not invoked by a service, not an AWS service event."""
    identity = _identity(record)
    kind = _field(identity, "type", str, "userIdentity.type", required=False)
    if kind is None or kind.lower() != "root":
        return False
    if identity.get("invokedBy") is not None:
        return False
    return record.get("eventType") != "AwsServiceEvent"


def event_label(name: str) -> str:
    return name if name in NOTABLE_EVENTS else OTHER


def _assumed_root_marker(identity: Mapping[str, Any]) -> bool:
    context = identity.get("sessionContext")
    if context is None:
        return False
    if not isinstance(context, Mapping):
        raise MalformedRecord("userIdentity.sessionContext is not an object")
    marker = context.get("assumedRoot")
    return marker is True or (isinstance(marker, str) and marker.lower() == "true")


# ---------------------------------------------------------------- access keys of AssumeRoot sessions


class SessionKeys:
    """Access key ids of ``AssumeRoot`` sessions with their end; bounded, thread-safe.

    The root audit records the keys of its own sessions here the moment AWS issues them, so that
    the records those sessions leave in the members never count as root activity.
    """

    def __init__(self, cap: int = MAX_KEYS):
        self._cap = cap
        self._keys: dict[str, float] = {}
        self._lock = threading.Lock()

    def record(self, access_key_id: str, expires: float, now: Optional[float] = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._keys[access_key_id] = expires
            if len(self._keys) > self._cap:
                self._keys = _prune_keys(self._keys, now, self._cap)

    def issued(self, access_key_id: str, at: float) -> bool:
        """True if the key belongs to a session that was still valid at ``at`` (Unix seconds)."""
        with self._lock:
            expires = self._keys.get(access_key_id)
        return expires is not None and at <= expires + CLOCK_SKEW

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)


OWN_AUDIT_SESSIONS = SessionKeys()


def _prune_keys(keys: Mapping[str, float], now: float, cap: int = MAX_KEYS) -> dict[str, float]:
    """Keys whose session ended more than the delivery margin ago are dropped; then the newest ``cap``."""
    kept = {key: end for key, end in keys.items() if end + DELIVERY_MARGIN >= now}
    if len(kept) > cap:
        kept = dict(sorted(kept.items(), key=lambda item: item[1], reverse=True)[:cap])
    return kept


# ---------------------------------------------------------------- classification


def classify(
    record: Mapping[str, Any], assumed_root_keys: Mapping[str, float], own: SessionKeys = OWN_AUDIT_SESSIONS
) -> Optional[RootActivity]:
    """The root activity in ``record``; None when it is not root activity or is the exporter's own audit.

    ``assumed_root_keys`` maps access keys that ``AssumeRoot`` issued (seen on the stream) to their
    session's end. Raises ``MalformedRecord``.
    """
    if not is_root_activity(record):
        return None
    identity = _identity(record)
    event_id = _field(record, "eventID", str, "eventID")
    when = parse_time(record.get("eventTime"))
    name = _field(record, "eventName", str, "eventName")
    account = account_id(record.get("recipientAccountId") or identity.get("accountId"), "recipientAccountId")
    key = _field(identity, "accessKeyId", str, "userIdentity.accessKeyId", required=False) or ""
    if key and own.issued(key, when):
        return None
    expires = assumed_root_keys.get(key) if key else None
    assumed = (expires is not None and when <= expires + CLOCK_SKEW) or _assumed_root_marker(identity)
    return RootActivity(
        event_id=event_id,
        account_id=account,
        event_name=event_label(name),
        session=ASSUMED_ROOT if assumed else ROOT_CREDENTIALS,
        time=when,
    )


def assume_root_issued(record: Mapping[str, Any]) -> Optional[AssumeRootIssued]:
    """The key an ``sts:AssumeRoot`` record issued; None for any other record or a failed call."""
    if not isinstance(record, Mapping):
        raise MalformedRecord("the record is not an object")
    if record.get("eventSource") != "sts.amazonaws.com" or record.get("eventName") != "AssumeRoot":
        return None
    if record.get("errorCode") is not None:
        return None  # a denied call issued nothing
    event_id = _field(record, "eventID", str, "eventID")
    when = parse_time(record.get("eventTime"))
    request = _field(record, "requestParameters", Mapping, "requestParameters")
    response = _field(record, "responseElements", Mapping, "responseElements")
    credentials = _field(response, "credentials", Mapping, "responseElements.credentials")
    key = _field(credentials, "accessKeyId", str, "responseElements.credentials.accessKeyId")
    target = _field(request, "targetPrincipal", str, "requestParameters.targetPrincipal")
    if target.startswith("arn:"):  # AWS also takes the member's root ARN
        parts = target.split(":")
        target = parts[4] if len(parts) > 4 else ""
    duration = request.get("durationSeconds", ASSUME_ROOT_SECONDS)
    if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not 0 < duration <= ASSUME_ROOT_SECONDS:
        duration = ASSUME_ROOT_SECONDS
    return AssumeRootIssued(
        event_id=event_id,
        access_key_id=key,
        target_account=account_id(target, "requestParameters.targetPrincipal"),
        expires=when + duration,
    )


# ---------------------------------------------------------------- recording in the snapshot


def seen_event(snapshot: Snapshot, event_id: str) -> bool:
    """True if ``event_id`` was already counted as root activity: for the polling path, so an event
    that both the stream and ``LookupEvents`` deliver counts once."""
    return event_id in snapshot.root_events.seen


def _observe(histogram: Optional[DelayHistogram], seconds: float) -> DelayHistogram:
    histogram = histogram or DelayHistogram(DELAY_BOUNDS, (0,) * len(DELAY_BOUNDS))
    seconds = max(0.0, seconds)
    buckets = tuple(count + (seconds <= bound) for count, bound in zip(histogram.buckets, histogram.bounds))
    return replace(histogram, buckets=buckets, count=histogram.count + 1, total=histogram.total + seconds)


class RootEventsBuilder:
    """Mutable copy of a ``RootEvents`` for one batch; ``build`` freezes it again."""

    def __init__(self, events: RootEvents):
        self._base = events
        self.counts = dict(events.counts)
        self.last_activity = dict(events.last_activity)
        self.counted_at = dict(events.counted_at)
        self.seen = dict(events.seen)
        self.keys = dict(events.assumed_root_keys)
        self.malformed = dict(events.malformed)
        self.malformed_messages = events.malformed_messages
        self.foreign = events.foreign
        self.last_message = events.last_message
        self.last_heartbeat = events.last_heartbeat
        self.delay = events.delay

    def activity(self, activity: RootActivity, now: float) -> bool:
        """Count ``activity`` unless its event id was counted already; True if counted."""
        if activity.event_id in self.seen:
            return False
        self.seen[activity.event_id] = now
        key = (activity.account_id, activity.event_name, activity.session)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.counted_at[key] = now
        last = (activity.account_id, activity.session)
        self.last_activity[last] = max(self.last_activity.get(last, 0.0), activity.time)
        return True

    def issued(self, issued: AssumeRootIssued) -> None:
        self.keys[issued.access_key_id] = max(self.keys.get(issued.access_key_id, 0.0), issued.expires)

    def delivered(self, event_time: float, now: float) -> None:
        self.delay = _observe(self.delay, now - event_time)

    def build(self, now: float) -> RootEvents:
        seen = self.seen
        if len(seen) > MAX_SEEN or (seen and min(seen.values()) < now - SEEN_WINDOW):
            kept = sorted(((t, i) for i, t in seen.items() if t >= now - SEEN_WINDOW), reverse=True)[:MAX_SEEN]
            seen = {i: t for t, i in kept}
        keys = _prune_keys(self.keys, now)
        return RootEvents(
            counts=MappingProxyType(self.counts),
            last_activity=MappingProxyType(self.last_activity),
            counted_at=MappingProxyType(self.counted_at),
            seen=MappingProxyType(seen),
            assumed_root_keys=MappingProxyType(keys),
            malformed=MappingProxyType(self.malformed),
            malformed_messages=self.malformed_messages,
            foreign=self.foreign,
            last_message=self.last_message,
            last_heartbeat=self.last_heartbeat,
            started=self._base.started,
            delay=self.delay,
            errors=self._base.errors,
        )


def for_accounts(events: RootEvents, account_ids: Container[str]) -> RootEvents:
    """``events`` without the per-account entries (counts, newest activity, malformed records) of
    accounts outside ``account_ids``: what discovery calls when accounts leave. Nothing renders
    those entries, and with churn they would only grow. Event ids and AssumeRoot keys are not
    per account and stay, bounded by time."""
    counts = {key: n for key, n in events.counts.items() if key[0] in account_ids}
    last = {key: t for key, t in events.last_activity.items() if key[0] in account_ids}
    malformed = {account: n for account, n in events.malformed.items() if account in account_ids}
    if (len(counts), len(last), len(malformed)) == (
        len(events.counts),
        len(events.last_activity),
        len(events.malformed),
    ):
        return events
    return replace(
        events,
        counts=MappingProxyType(counts),
        counted_at=MappingProxyType({key: t for key, t in events.counted_at.items() if key in counts}),
        last_activity=MappingProxyType(last),
        malformed=MappingProxyType(malformed),
    )


def with_stream_started(snapshot: Snapshot, now: float) -> Snapshot:
    return replace(snapshot, root_events=replace(snapshot.root_events, started=now))


def with_stream_error(snapshot: Snapshot, operation: str, code: str) -> Snapshot:
    """Count one failed call of the stream (``operation`` and ``code`` already label-safe)."""
    errors = dict(snapshot.root_events.errors)
    errors[(operation, code)] = errors.get((operation, code), 0) + 1
    return replace(snapshot, root_events=replace(snapshot.root_events, errors=MappingProxyType(errors)))


def with_root_activity(snapshot: Snapshot, activities: Iterable[RootActivity], now: float) -> Snapshot:
    """Count root activity found by any path, each event id once; activity of accounts outside the
    collected set is ignored. The polling path (``LookupEvents`` with ``Username=root``) calls this
    too, so an event both paths deliver is counted once."""
    builder = RootEventsBuilder(snapshot.root_events)
    for activity in activities:
        if activity.account_id in snapshot.accounts:
            builder.activity(activity, now)
    return replace(snapshot, root_events=builder.build(now))
