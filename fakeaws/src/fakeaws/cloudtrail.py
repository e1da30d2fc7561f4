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
from fakeaws.model import _AwsError, _Event

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
    ) -> str:
        """Record a ``ConsoleLogin`` event in the account's CloudTrail; returns its EventId."""
        event_id = event_id or str(uuid.uuid4())
        record = wire.console_login_record(
            account_id=account_id, event_id=event_id, time=time, success=success,
            mfa_used=mfa_used, source_ip=source_ip, user_type=user_type, user_name=user_name,
            region=region,
        )
        self._add_event(
            account_id, region, event_id, "ConsoleLogin", time, json.dumps(record),
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
    ) -> str:
        """An event whose ``CloudTrailEvent`` is ``cloudtrail_event`` verbatim (may be malformed)."""
        event_id = event_id or str(uuid.uuid4())
        self._add_event(account_id, region, event_id, event_name, time, cloudtrail_event, "root")
        return event_id

    def _add_event(
        self, account_id: str, region: str, event_id: str, name: str, time: datetime,
        record: str, username: str,
    ) -> None:
        with self._lock:
            self._event_seq += 1
            event = _Event(
                event_id=event_id, name=name, time=wire.utc(time).replace(microsecond=0),
                source="signin.amazonaws.com", username=username, read_only="false",
                record=record, seq=self._event_seq,
            )
            self._account(account_id).events.setdefault(region, []).append(event)

    # ------------------------------------------------------------ CloudTrail

    def _lookup_events(self, request: _Request, account_id: str) -> wire.Response:
        params = request.params
        attributes = params.get("LookupAttributes") or []
        if not isinstance(attributes, list) or len(attributes) > 1:
            raise _AwsError(
                "InvalidLookupAttributesException", "You can only specify one lookup attribute."
            )
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
            raise _AwsError(
                "InvalidTimeRangeException", "Start time must be before or equal to end time."
            )
        max_results = params.get("MaxResults", 50)
        if not isinstance(max_results, int) or not 1 <= max_results <= 50:
            raise _AwsError(
                "InvalidMaxResultsException", "MaxResults must be an integer between 1 and 50."
            )
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
            event for event in events
            if (start is None or event.time >= start)
            and (end is None or event.time <= end)
            and (attribute is None or _event_matches(event, *attribute))
        ]
        matched.sort(key=lambda event: (event.time, event.seq), reverse=True)
        page = matched[offset:offset + max_results]
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
        return wire.json_response(result)


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
