"""CloudTrail ``LookupEvents`` over root console sign-in events, with paging and lookup attributes."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import Any, Optional

from fakeaws import wire
from fakeaws.base import FakeBase
from fakeaws.dispatch import _Request
from fakeaws.model import MANAGEMENT_ACCOUNT_ID, _AwsError, _Event, _random_chars

_LOOKUP_KEYS = {
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
}


def _parse_time(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    text = str(value)
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return wire.utc(parsed)


class CloudTrailService(FakeBase):
    # ------------------------------------------------------------ CloudTrail

    def add_console_login(
        self,
        account_id: str,
        *,
        time: datetime,
        success: bool = True,
        mfa_used: bool = True,
        source_ip: str = "203.0.113.10",
        user_type: str = "Root",
        user_name: Optional[str] = None,
        region: str = "us-east-1",
        event_id: Optional[str] = None,
        assumed_root: bool = False,
    ) -> str:
        """Record a ``ConsoleLogin`` event in the account's CloudTrail; returns its EventId.

        ``assumed_root``: a sign-in through an ``sts:AssumeRoot`` session, recorded (IAM User
        Guide, "Track privileged tasks in AWS CloudTrail") with the session's temporary ``ASIA``
        key and a ``sessionContext`` marked ``assumedRoot``, where a password sign-in has an
        empty ``accessKeyId``.
        """
        event_id = event_id or str(uuid.uuid4())
        record = wire.console_login_record(
            account_id=account_id,
            event_id=event_id,
            time=time,
            success=success,
            mfa_used=mfa_used,
            source_ip=source_ip,
            user_type=user_type,
            user_name=user_name,
            region=region,
        )
        if assumed_root:
            record["userIdentity"]["accessKeyId"] = "ASIA" + _random_chars(16)
            record["userIdentity"]["sessionContext"] = {
                "attributes": {"creationDate": wire.cloudtrail_timestamp(time), "mfaAuthenticated": "false"},
                "assumedRoot": "true",
            }
        self._add_event(
            account_id,
            region,
            event_id,
            "ConsoleLogin",
            time,
            json.dumps(record),
            wire.lookup_username(user_type, user_name),
        )
        return event_id

    def add_raw_cloudtrail_event(
        self,
        account_id: str,
        *,
        time: datetime,
        cloudtrail_event: str,
        event_name: str = "ConsoleLogin",
        region: str = "us-east-1",
        event_id: Optional[str] = None,
        username: str = "root",
    ) -> str:
        """An event whose ``CloudTrailEvent`` is ``cloudtrail_event`` verbatim (may be malformed);
        ``username`` is the item's ``Username`` (what ``LookupAttributes`` Username matches)."""
        event_id = event_id or str(uuid.uuid4())
        self._add_event(account_id, region, event_id, event_name, time, cloudtrail_event, username)
        return event_id

    def _add_event(
        self,
        account_id: str,
        region: str,
        event_id: str,
        name: str,
        time: datetime,
        record: str,
        username: str,
    ) -> None:
        with self._lock:
            self._event_seq += 1
            event = _Event(
                event_id=event_id,
                name=name,
                time=wire.utc(time).replace(microsecond=0),
                source="signin.amazonaws.com",
                username=username,
                read_only="false",
                record=record,
                seq=self._event_seq,
            )
            self._account(account_id).events.setdefault(region, []).append(event)

    def loop_lookup_tokens(self, account_id: str, looping: bool = True) -> None:
        """LookupEvents of ``account_id`` answers every follow-up page with the NextToken it was
        given, so a client that does not notice pages forever."""
        with self._lock:
            (self._looping_tokens.add if looping else self._looping_tokens.discard)(account_id)

    # ------------------------------------------------------------ CloudTrail

    def _lookup_events(self, request: _Request, account_id: str) -> wire.Response:
        params = request.params
        attributes = params.get("LookupAttributes") or []
        if not isinstance(attributes, list) or len(attributes) > 1:
            raise _AwsError("InvalidLookupAttributesException", "You can only specify one lookup attribute.")
        attribute = None
        if attributes:
            key = attributes[0].get("AttributeKey")
            value = attributes[0].get("AttributeValue")
            if key not in _LOOKUP_KEYS or value is None:
                raise _AwsError("InvalidLookupAttributesException", f"Invalid lookup attribute {key}")
            attribute = (key, str(value))
        try:
            start = _parse_time(params["StartTime"]) if params.get("StartTime") is not None else None
            end = _parse_time(params["EndTime"]) if params.get("EndTime") is not None else None
        except (ValueError, OverflowError):
            raise _AwsError("InvalidTimeRangeException", "Invalid StartTime or EndTime") from None
        if start and end and start > end:
            raise _AwsError("InvalidTimeRangeException", "Start time must be before or equal to end time.")
        max_results = params.get("MaxResults", 50)
        if not isinstance(max_results, int) or not 1 <= max_results <= 50:
            raise _AwsError("InvalidMaxResultsException", "MaxResults must be an integer between 1 and 50.")
        category = params.get("EventCategory")
        fingerprint = hashlib.sha256(
            json.dumps([attribute, str(start), str(end), category], sort_keys=True).encode()
        ).hexdigest()[:16]
        offset = 0
        if params.get("NextToken"):
            try:
                token = json.loads(base64.urlsafe_b64decode(str(params["NextToken"]).encode()))
                offset = int(token["o"])
                if token["f"] != fingerprint or offset < 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise _AwsError(
                    "InvalidNextTokenException", "Invalid NextToken: it does not match the request."
                ) from None
        with self._lock:
            account = self._accounts.get(account_id)
            events = list(account.events.get(request.region, [])) if account else []
        if category == "insight":
            events = []
        matched = [
            event
            for event in events
            if (start is None or event.time >= start)
            and (end is None or event.time <= end)
            and (attribute is None or _event_matches(event, *attribute))
        ]
        matched.sort(key=lambda event: (event.time, event.seq), reverse=True)
        page = matched[offset : offset + max_results]
        result: dict[str, Any] = {
            "Events": [
                {
                    "EventId": event.event_id,
                    "EventName": event.name,
                    "ReadOnly": event.read_only,
                    "EventTime": event.time,
                    "EventSource": event.source,
                    "Username": event.username,
                    "Resources": [],
                    "CloudTrailEvent": event.record,
                }
                for event in page
            ]
        }
        if offset + max_results < len(matched):
            token = {"o": offset + max_results, "f": fingerprint}
            result["NextToken"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        with self._lock:
            if account_id in self._looping_tokens and params.get("NextToken"):
                result["NextToken"] = params["NextToken"]
        return wire.json_response(result)

    # ------------------------------------------------------------ CloudTrail: organization trails

    def _org_trails(self, region: str) -> list[Any]:
        """The management account's organization trails that record ``region`` (moto's objects)."""
        from moto.cloudtrail.models import cloudtrail_backends

        return [
            trail
            for backend in cloudtrail_backends[MANAGEMENT_ACCOUNT_ID].values()
            for trail in backend.trails.values()
            if trail.is_org_trail and (trail.is_multi_region or trail.region_name == region)
        ]

    def _member_org_trail(self, request: _Request, account_id: str, name: Any) -> Optional[Any]:
        """The organization trail a member names by ARN, or None (then moto answers)."""
        if account_id == MANAGEMENT_ACCOUNT_ID or account_id not in self._org_member_ids():
            return None
        return next((trail for trail in self._org_trails(request.region) if trail.arn == name), None)

    def _describe_trails(self, request: _Request, account_id: str) -> Optional[wire.Response]:
        """moto's trails plus, in members, the organization's trails as shadow trails (moto keeps
        trails per account only)."""
        from moto.cloudtrail.models import cloudtrail_backends

        if account_id == MANAGEMENT_ACCOUNT_ID or account_id not in self._org_member_ids():
            return None
        shadows = request.params.get("includeShadowTrails", True) is not False
        trails = list(cloudtrail_backends[account_id][request.region].describe_trails(shadows))
        if shadows:
            trails += self._org_trails(request.region)
        return wire.json_response({"trailList": [trail.description(include_region=True) for trail in trails]})

    def _get_trail_status(self, request: _Request, account_id: str) -> Optional[wire.Response]:
        trail = self._member_org_trail(request, account_id, request.params.get("Name"))
        return None if trail is None else wire.json_response(trail.status.description())

    def _get_event_selectors(self, request: _Request, account_id: str) -> Optional[wire.Response]:
        trail = self._member_org_trail(request, account_id, request.params.get("TrailName"))
        if trail is None:
            return None
        classic, advanced = trail.get_event_selectors()
        return wire.json_response(
            {"TrailARN": trail.arn, "EventSelectors": classic, "AdvancedEventSelectors": advanced}
        )


def _event_matches(event: _Event, key: str, value: str) -> bool:
    if key == "EventId":
        return event.event_id == value
    if key == "EventName":
        return event.name == value
    if key == "ReadOnly":
        return event.read_only == value.lower()
    if key == "Username":
        return event.username == value
    if key == "EventSource":
        return event.source == value
    return False  # AccessKeyId, ResourceType, ResourceName: sign-in events carry none
