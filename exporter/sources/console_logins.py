"""CloudTrail ``LookupEvents``: every root event within minutes; console sign-ins with outcome, MFA and IP.

One query per account and region, ``LookupAttributes`` ``Username=root``, returns every root
event (LookupEvents items name root ``root``), not only sign-ins. ``ConsoleLogin`` records feed
the sign-in counters as before; every record, sign-ins included, goes through
``root_activity.classify`` (the CIS filter, ``assumed_root`` sessions, the exporter's own audit
left out), and the activities of a run travel in ``ConsoleLogins.activities`` to the snapshot
update that records the run (``SOURCE.merge``), which counts them in the organization-wide root
activity state the event stream fills, each event id once across both paths.
Root sign-ins are recorded in us-east-1 (``collection.cloudtrail_regions`` may add others).
The first run looks back ``collection.console_login_lookback``; later runs continue from where the
last one ended, less an overlap for CloudTrail's delivery delay, and count each ``EventId``
once. Malformed records are counted and skipped, never fatal. Sign-ins through ``sts:AssumeRoot``
sessions are counted apart from sign-ins with the root user's own credentials. A ``NextToken``
that comes back a second time ends the look-up with ``NextTokenRepeated`` instead of paging forever.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from dataclasses import replace
from typing import Any, Iterator, Mapping, Optional

from exporter.aws.errors import SourceError
from exporter.aws.rate_limit import RateLimiter
from exporter.aws.sessions import acting_account_id
from exporter.aws.untrusted import clean
from exporter.root_activity import MalformedRecord, RootActivity, classify, with_root_activity
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import MEMBER_ROLE, AwsCall, SourceSpec
from exporter.state import EMPTY, Account, ConsoleLoginEvent, ConsoleLogins, Snapshot

NAME = "console_logins"
SPEC = SourceSpec(
    NAME,
    "root ConsoleLogin events from CloudTrail in collection.cloudtrail_regions, at most 2 requests/s "
    "per account and region",
    calls=(AwsCall("cloudtrail:LookupEvents", MEMBER_ROLE),),
    interval=300.0,
)
OVERLAP = timedelta(minutes=20)  # CloudTrail usually delivers within 15 minutes
MAX_SEEN = 1_000  # hard cap on remembered event ids per account (root sign-ins within the overlap)
PAGE_SIZE = 50
LOOKUP_RATE = RateLimiter(rate=2.0)  # LookupEvents: 2 requests/s per account and region
log = logging.getLogger(__name__)


class MalformedEvent(ValueError):
    """A ConsoleLogin record this exporter cannot read."""


def _text(value: Any, what: str, default: Optional[str] = None) -> str:
    """``value`` if it is a string (``default`` for a missing one); else the event is malformed."""
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise MalformedEvent(f"{what} is {type(value).__name__}, not a string")
    return value


def _object(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object; null or missing reads as empty."""
    if value is None:
        return EMPTY
    if not isinstance(value, dict):
        raise MalformedEvent(f"{what} is {type(value).__name__}, not an object")
    return value


def _time(value: Any) -> datetime:
    """An aware datetime that converts to UTC (boto3 parses ``EventTime``; the record's is text)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedEvent(f"eventTime {value!r} is not ISO 8601") from None
    if not isinstance(value, datetime):
        raise MalformedEvent(f"event time is {type(value).__name__}, not a time")
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        value.astimezone(timezone.utc)
    except OverflowError:
        raise MalformedEvent(f"event time {value.isoformat()} lies outside years 1-9999 in UTC") from None
    return value


def _through_assume_root(identity: Mapping[str, Any]) -> bool:
    """Whether a root-typed identity is an ``sts:AssumeRoot`` session, beyond doubt.

    Such a session signs in with its temporary ``ASIA…`` key and a ``sessionContext`` marked
    ``assumedRoot``; a password sign-in has an empty ``accessKeyId`` and no session. Anything in
    between counts as the root user's own credentials: the exporter never hides real root use.
    """
    key = identity.get("accessKeyId")
    context = identity.get("sessionContext")
    if not (isinstance(key, str) and key.startswith("ASIA") and isinstance(context, dict)):
        return False
    return str(context.get("assumedRoot")).lower() == "true"


def cloudtrail_record(item: Mapping[str, Any]) -> dict:
    """The CloudTrail record inside one ``LookupEvents`` item, with a ``userIdentity`` object."""
    if not isinstance(item, Mapping):
        raise MalformedEvent(f"LookupEvents item is {type(item).__name__}, not an object")
    raw = item.get("CloudTrailEvent")
    if not isinstance(raw, str):
        raise MalformedEvent("CloudTrailEvent is missing or not a string")
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise MalformedEvent(f"CloudTrailEvent is not JSON: {error}") from None
    if not isinstance(record, dict) or not isinstance(record.get("userIdentity"), dict):
        raise MalformedEvent("record has no userIdentity object")
    return record


def is_console_login(item: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """The item's ``EventName`` (what the look-up matched on before it asked for every root
    event), else the record's."""
    name = item.get("EventName") if item.get("EventName") is not None else record.get("eventName")
    return name == "ConsoleLogin"


def parse_event(item: Mapping[str, Any], record: Optional[dict] = None) -> Optional[ConsoleLoginEvent]:
    """The root sign-in in one ``LookupEvents`` item; None for other identities (IAM users…).

    Field values are compared without regard to case (AWS's own examples write ``MFAUsed`` as
    ``Yes``, ``YES`` and ``No``). A field of an unexpected type raises ``MalformedEvent``.
    """
    record = cloudtrail_record(item) if record is None else record
    identity = record["userIdentity"]
    if _text(identity.get("type"), "userIdentity.type").lower() != "root":
        return None
    outcome = _text(
        _object(record.get("responseElements"), "responseElements").get("ConsoleLogin"), "responseElements.ConsoleLogin"
    ).lower()
    if outcome not in ("success", "failure"):
        raise MalformedEvent(f"responseElements.ConsoleLogin is {outcome!r}")
    event_id = _text(item.get("EventId") if item.get("EventId") is not None else record.get("eventID"), "EventId")
    if not event_id:
        raise MalformedEvent("event has no id")
    when = item.get("EventTime") if item.get("EventTime") is not None else record.get("eventTime")
    mfa = _text(
        _object(record.get("additionalEventData"), "additionalEventData").get("MFAUsed"),
        "additionalEventData.MFAUsed",
        default="No",
    )
    return ConsoleLoginEvent(
        event_id=clean(event_id),
        time=_time(when),
        success=outcome == "success",
        mfa_used=mfa.lower() == "yes",
        source_ip=clean(_text(record.get("sourceIPAddress"), "sourceIPAddress", default="")),
        assumed_root=_through_assume_root(identity),
    )


def limit_rate(client: Any, region: str) -> None:
    """Space every LookupEvents attempt of ``client`` per account and region, botocore's own
    retries included.

    A ``before-send`` hook sees each attempt; the client is shared by every member account, so
    the hook reads the account the sending thread acts for (``acting_for``). Registering again
    under the same id is a no-op, so calling this on a cached client every run is safe.
    """
    client.meta.events.register(
        "before-send.cloudtrail.LookupEvents",
        lambda **_: LOOKUP_RATE.wait((acting_account_id(), region)),
        unique_id="aws-root-exporter-lookup-rate",
    )


def root_activity(item: Mapping[str, Any], record: Mapping[str, Any], account: Account) -> Optional[RootActivity]:
    """The root activity in one item (None: not root activity, or the exporter's own audit).

    The item's ``EventId``, ``EventTime`` and ``EventName`` stand in where the record lacks them;
    the activity belongs to the account whose CloudTrail was read. Raises ``MalformedRecord``.
    AssumeRoot sessions are told apart by CloudTrail's ``assumedRoot`` marker and the exporter's
    own session keys; the keys the stream learns from ``AssumeRoot`` calls are not known here.
    """
    filled = dict(record)
    when = item.get("EventTime")
    defaults = {
        "eventID": item.get("EventId"),
        "eventName": item.get("EventName"),
        "eventTime": when.isoformat() if isinstance(when, datetime) else when,
        "recipientAccountId": account.id,
    }
    for key, value in defaults.items():
        if key not in filled and value is not None:
            filled[key] = value
    found = classify(filled, EMPTY)
    return None if found is None else replace(found, account_id=account.id)


def read_item(item: Mapping[str, Any], account: Account) -> tuple[Optional[ConsoleLoginEvent], Optional[RootActivity]]:
    """(root sign-in or None, root activity or None) of one ``LookupEvents`` item. Raises
    ``MalformedEvent`` when nothing can be read from it; a sign-in that reads while its activity
    does not still counts as a sign-in."""
    record = cloudtrail_record(item)
    event = parse_event(item, record) if is_console_login(item, record) else None
    try:
        return event, root_activity(item, record, account)
    except MalformedRecord as error:
        if event is None:
            raise MalformedEvent(str(error)) from None
        return event, None


def lookup(client: Any, start: datetime, end: datetime) -> Iterator[Mapping[str, Any]]:
    """Every root event item between ``start`` and ``end``, page by page."""
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "root"}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": PAGE_SIZE,
    }
    tokens: set[str] = set()
    while True:
        page = client.lookup_events(**params)
        yield from page.get("Events", [])
        token = page.get("NextToken")
        if not token:
            return
        if token in tokens:  # following it would page forever
            raise SourceError(
                "NextTokenRepeated",
                f"LookupEvents returned a NextToken it had returned before, after {len(tokens) + 1} pages; stopped",
            )
        tokens.add(token)
        params["NextToken"] = token


def fetch(context: Context, account: Account, previous: Optional[ConsoleLogins] = None) -> ConsoleLogins:
    config = context.config.collection
    now = datetime.fromtimestamp(context.clock(), tz=timezone.utc)
    if previous is None:
        start = now - timedelta(seconds=config.console_login_lookback)
        counts: dict[tuple[bool, bool], int] = {}
        assumed: dict[bool, int] = {}
        seen: dict[str, float] = {}
        newest, malformed, forgotten = None, 0, None
    else:
        start = min(previous.resume_from - OVERLAP, now)
        counts, assumed, seen = dict(previous.counts), dict(previous.assumed_root_counts), dict(previous.seen)
        newest, malformed, forgotten = previous.newest_success, previous.malformed, previous.forgotten_through
        if forgotten is not None:
            start = max(start, datetime.fromtimestamp(forgotten, tz=timezone.utc))

    skipped = 0
    activities: list[RootActivity] = []
    for region in config.cloudtrail_regions:
        client = context.access.client(account, "cloudtrail", region)
        limit_rate(client, region)
        for item in lookup(client, start, now):
            event_id = item.get("EventId") if isinstance(item, Mapping) else None
            event_id = clean(event_id) if isinstance(event_id, str) else ""
            if event_id and event_id in seen:
                continue
            try:
                event, activity = read_item(item, account)
            except MalformedEvent as error:
                malformed += 1
                if event_id:
                    seen[event_id] = now.timestamp()
                log.warning(
                    "skipping malformed CloudTrail event",
                    extra={
                        "account_id": account.id,
                        "source": NAME,
                        "region": region,
                        "event_id": event_id,
                        "error": str(error),
                    },
                )
                continue
            if event is not None:
                when, key = event.time.timestamp(), event.event_id
            elif activity is not None:
                when, key = activity.time, event_id or activity.event_id
            else:  # another identity, or the exporter's own audit
                continue
            if forgotten is not None and when <= forgotten:
                skipped += 1  # its id may be one the cap forgot: it may have been counted already
                continue
            seen[key] = when
            if activity is not None:
                activities.append(activity)
            if event is None:
                continue
            if event.assumed_root:
                assumed[event.success] = assumed.get(event.success, 0) + 1
                continue
            counts[(event.success, event.mfa_used)] = counts.get((event.success, event.mfa_used), 0) + 1
            if event.success and (newest is None or event.time > newest.time):
                newest = event

    # Events older than the next look-up's start cannot come back: forget them. Past the cap the
    # oldest are forgotten too, and the next look-up starts after them instead of counting them again.
    horizon = (now - OVERLAP).timestamp()
    recent = sorted(((t, i) for i, t in seen.items() if t >= horizon), reverse=True)
    kept, dropped = recent[:MAX_SEEN], recent[MAX_SEEN:]
    if dropped:
        forgotten = max(forgotten or 0.0, dropped[0][0])
    if forgotten is not None and forgotten < horizon:
        forgotten = None
    if dropped or skipped:
        log.warning(
            "more root sign-in events within the look-up overlap than the exporter remembers",
            extra={
                "account_id": account.id,
                "source": NAME,
                "remembered": len(kept),
                "forgotten": len(dropped),
                "skipped": skipped,
            },
        )
    return ConsoleLogins(
        counts=counts,
        newest_success=newest,
        malformed=malformed,
        seen={i: t for t, i in kept},
        resume_from=now,
        assumed_root_counts=assumed,
        forgotten_through=forgotten,
        activities=tuple(activities),
    )


def merge(snapshot: Snapshot, account: Account, value: ConsoleLogins, now: float) -> Snapshot:
    """Count this run's root activities in the organization-wide root activity state, in the
    swap that records the run; an event the stream (or an earlier run) counted is not counted again."""
    return with_root_activity(snapshot, value.activities, now) if value.activities else snapshot


SOURCE = AccountSource(SPEC, fetch, merge=merge)
