"""CloudTrail ``LookupEvents``: root console sign-ins within minutes, with outcome, MFA and IP.

Root sign-ins are recorded in us-east-1 (``collection.cloudtrail_regions`` may add others).
The first run looks back ``collection.console_login_lookback``; later runs continue from where the
last one ended, less an overlap for CloudTrail's delivery delay, and count each ``EventId``
once. Malformed records are counted and skipped, never fatal.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping, Optional

from exporter.aws.rate_limit import RateLimiter
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import MEMBER_ROLE, AwsCall, SourceSpec
from exporter.state import Account, ConsoleLoginEvent, ConsoleLogins

NAME = "console_logins"
SPEC = SourceSpec(
    NAME, "root ConsoleLogin events from CloudTrail in collection.cloudtrail_regions, at most 2 requests/s "
          "per account and region",
    calls=(AwsCall("cloudtrail:LookupEvents", MEMBER_ROLE),), interval=300.0)
OVERLAP = timedelta(minutes=20)  # CloudTrail usually delivers within 15 minutes
MAX_SEEN = 1_000  # hard cap on remembered event ids per account (root sign-ins within the overlap)
PAGE_SIZE = 50
LOOKUP_RATE = RateLimiter(rate=2.0)  # LookupEvents: 2 requests/s per account and region
log = logging.getLogger(__name__)


class MalformedEvent(ValueError):
    """A ConsoleLogin record this exporter cannot read."""


def parse_event(item: Mapping[str, Any]) -> Optional[ConsoleLoginEvent]:
    """The root sign-in in one ``LookupEvents`` item; None for other identities (IAM users…)."""
    try:
        record = json.loads(item["CloudTrailEvent"])
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedEvent(f"CloudTrailEvent is not JSON: {error}") from None
    if not isinstance(record, dict) or not isinstance(record.get("userIdentity"), dict):
        raise MalformedEvent("record has no userIdentity object")
    if record["userIdentity"].get("type") != "Root":
        return None
    outcome = (record.get("responseElements") or {}).get("ConsoleLogin")
    if outcome not in ("Success", "Failure"):
        raise MalformedEvent(f"responseElements.ConsoleLogin is {outcome!r}")
    event_id = item.get("EventId") or record.get("eventID")
    when = item.get("EventTime") or record.get("eventTime")
    if not event_id or not when:
        raise MalformedEvent("event has no id or time")
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedEvent(f"eventTime {when!r} is not ISO 8601") from None
    mfa = ((record.get("additionalEventData") or {}).get("MFAUsed") or "No") == "Yes"
    return ConsoleLoginEvent(
        event_id=str(event_id),
        time=when if when.tzinfo else when.replace(tzinfo=timezone.utc),
        success=outcome == "Success",
        mfa_used=mfa,
        source_ip=str(record.get("sourceIPAddress") or ""),
    )


def limit_rate(client: Any, rate_key: tuple[str, str]) -> None:
    """Space every LookupEvents attempt of ``client``, botocore's own retries included.

    A ``before-send`` hook sees each attempt; registering again under the same id is a no-op,
    so calling this on a cached client every run is safe.
    """
    client.meta.events.register("before-send.cloudtrail.LookupEvents",
                                lambda **_: LOOKUP_RATE.wait(rate_key),
                                unique_id=f"aws-root-exporter-rate-{rate_key[0]}-{rate_key[1]}")


def lookup(client: Any, start: datetime, end: datetime) -> Iterator[Mapping[str, Any]]:
    """Every ConsoleLogin item between ``start`` and ``end``, page by page."""
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
        "StartTime": start, "EndTime": end, "MaxResults": PAGE_SIZE,
    }
    while True:
        page = client.lookup_events(**params)
        yield from page.get("Events", [])
        if not page.get("NextToken"):
            return
        params["NextToken"] = page["NextToken"]


def fetch(context: Context, account: Account, previous: Optional[ConsoleLogins] = None) -> ConsoleLogins:
    config = context.config.collection
    now = datetime.fromtimestamp(context.clock(), tz=timezone.utc)
    if previous is None:
        start = now - timedelta(seconds=config.console_login_lookback)
        counts: dict[tuple[bool, bool], int] = {}
        seen: dict[str, float] = {}
        newest, malformed = None, 0
    else:
        start = min(previous.resume_from - OVERLAP, now)
        counts, seen = dict(previous.counts), dict(previous.seen)
        newest, malformed = previous.newest_success, previous.malformed

    for region in config.cloudtrail_regions:
        client = context.access.client(account, "cloudtrail", region)
        limit_rate(client, (account.id, region))
        for item in lookup(client, start, now):
            event_id = str(item.get("EventId", ""))
            if event_id and event_id in seen:
                continue
            try:
                event = parse_event(item)
            except MalformedEvent as error:
                malformed += 1
                if event_id:
                    seen[event_id] = now.timestamp()
                log.warning("skipping malformed CloudTrail event", extra={
                    "account_id": account.id, "source": NAME, "region": region,
                    "event_id": event_id, "error": str(error)})
                continue
            if event is None:  # another identity's sign-in: nothing to count, nothing to remember
                continue
            seen[event.event_id] = event.time.timestamp()
            counts[(event.success, event.mfa_used)] = counts.get((event.success, event.mfa_used), 0) + 1
            if event.success and (newest is None or event.time > newest.time):
                newest = event

    # Events older than the next look-up's start cannot come back: forget them.
    horizon = (now - OVERLAP).timestamp()
    kept = sorted(((t, i) for i, t in seen.items() if t >= horizon), reverse=True)[:MAX_SEEN]
    return ConsoleLogins(counts=counts, newest_success=newest, malformed=malformed,
                         seen={i: t for t, i in kept}, resume_from=now)


SOURCE = AccountSource(SPEC, fetch)
