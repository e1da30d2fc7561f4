"""Parsing one ``LookupEvents`` item into a root console sign-in (or None, or a malformed event).

The fixtures in ``fixtures/cloudtrail-console-logins.json`` are written for these tests after the
shapes AWS documents:
- CloudTrail User Guide, "AWS Management Console sign-in events"
  (awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html):
  root and IAM user ``ConsoleLogin`` records; ``MFAUsed`` appears there as ``Yes``, ``YES`` and
  ``No``; a failure carries ``errorMessage``; a password sign-in has an empty ``accessKeyId``.
- IAM User Guide, "Track privileged tasks in AWS CloudTrail"
  (IAM/latest/UserGuide/cloudtrail-track-privileged-tasks.html) and the CloudTrail
  ``userIdentity`` element reference: actions of an ``sts:AssumeRoot`` session are recorded in the
  member with ``type: Root``, the session's temporary ``ASIA…`` key and a ``sessionContext`` whose
  ``assumedRoot`` is ``"true"``; ``ConsoleLogin`` lands in the region of the STS endpoint used.
- CloudTrail API Reference, ``LookupEvents``: the item around each record (``EventId``,
  ``EventTime``, ``Username``, ``CloudTrailEvent`` as a JSON string).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from exporter.sources.console_logins import MalformedEvent, parse_event

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "cloudtrail-console-logins.json").read_text())


def item(name: str, **record_changes: Any) -> dict:
    """The fixture ``name`` as LookupEvents returns it: ``CloudTrailEvent`` a JSON string."""
    raw = copy.deepcopy(FIXTURES[name])
    raw["CloudTrailEvent"].update(record_changes)
    raw["CloudTrailEvent"] = json.dumps(raw["CloudTrailEvent"])
    raw["EventTime"] = datetime.fromisoformat(raw["EventTime"].replace("Z", "+00:00"))  # boto3 parses it
    return raw


def identity(name: str, **changes: Any) -> dict:
    return {**FIXTURES[name]["CloudTrailEvent"]["userIdentity"], **changes}


# ---------------------------------------------------------------- documented records


def test_root_password_sign_in_with_mfa():
    event = parse_event(item("root-success-mfa-yes"))
    assert event.success is True and event.mfa_used is True
    assert event.source_ip == "192.0.2.10"
    assert event.time == datetime(2026, 11, 27, 9, 30, 12, tzinfo=timezone.utc)
    assert event.event_id == "6f1f9c1e-0d47-4c1a-9a52-1b0c5d7e0a01"
    assert event.assumed_root is False


def test_upper_case_values_read_like_their_documented_spelling():
    # "MFAUsed": "YES" appears in AWS's own examples; "SUCCESS" is the same word.
    event = parse_event(item("root-success-mfa-upper"))
    assert event.success is True and event.mfa_used is True


@pytest.mark.parametrize(
    "outcome, success", [("Success", True), ("success", True), ("FAILURE", False), ("Failure", False)]
)
@pytest.mark.parametrize("mfa, used", [("Yes", True), ("YES", True), ("yes", True), ("No", False), ("NO", False)])
def test_outcome_and_mfa_compare_without_case(outcome, success, mfa, used):
    event = parse_event(
        item("root-success-mfa-yes", responseElements={"ConsoleLogin": outcome}, additionalEventData={"MFAUsed": mfa})
    )
    assert (event.success, event.mfa_used) == (success, used)


def test_root_failure_without_mfa():
    event = parse_event(item("root-failure-no-mfa"))
    assert event.success is False and event.mfa_used is False and event.assumed_root is False


def test_iam_user_sign_in_is_not_roots():
    assert parse_event(item("iam-user-success")) is None


# ---------------------------------------------------------------- AssumeRoot sessions


def test_assume_root_session_sign_in_is_told_apart():
    event = parse_event(item("assumed-root-session-success"))
    assert event.success is True
    assert event.assumed_root is True


@pytest.mark.parametrize(
    "changes",
    [
        {"accessKeyId": ""},  # a password sign-in's shape with a session context: not sure
        {"accessKeyId": "AKIAIOSFODNN7EXAMPLE"},  # a long-term key is no AssumeRoot session
        {"sessionContext": None},
        {"sessionContext": {"attributes": {"mfaAuthenticated": "false"}}},  # no assumedRoot mark
        {"sessionContext": {"assumedRoot": "false"}},
        {"sessionContext": "assumedRoot"},
        {"accessKeyId": 42},
    ],
)
def test_a_record_that_cannot_be_told_apart_counts_as_root_credentials(changes):
    ident = identity("assumed-root-session-success", **changes)
    event = parse_event(item("assumed-root-session-success", userIdentity=ident))
    assert event is not None and event.assumed_root is False


# ---------------------------------------------------------------- malformed items (issue 11)


def malformed(raw: dict) -> str:
    with pytest.raises(MalformedEvent) as caught:
        parse_event(raw)
    return str(caught.value)


@pytest.mark.parametrize("field", ["responseElements", "additionalEventData"])
def test_object_field_given_as_a_string_is_malformed(field):
    assert field in malformed(item("root-success-mfa-yes", **{field: "Success"}))


@pytest.mark.parametrize("value", [1764235812, 1764235812.5, None, ["2026-11-27T09:30:12Z"], "yesterday"])
def test_event_time_of_another_type_is_malformed(value):
    raw = item("root-success-mfa-yes", eventTime=value)
    raw["EventTime"] = value
    assert "time" in malformed(raw).lower()


def test_missing_cloudtrail_event_is_malformed():
    raw = item("root-success-mfa-yes")
    del raw["CloudTrailEvent"]
    assert "CloudTrailEvent" in malformed(raw)


@pytest.mark.parametrize("value", [None, 7, {"eventName": "ConsoleLogin"}, b"{}", "[1, 2]", "{", "[" * 100_000])
def test_cloudtrail_event_that_is_no_json_object_string_is_malformed(value):
    raw = item("root-success-mfa-yes")
    raw["CloudTrailEvent"] = value
    malformed(raw)


@pytest.mark.parametrize(
    "changes",
    [
        {"userIdentity": "Root"},
        {"userIdentity": {"type": 7}},
        {"responseElements": {"ConsoleLogin": True}},
        {"responseElements": {"ConsoleLogin": "Maybe"}},
        {"additionalEventData": {"MFAUsed": 1}},
        {"sourceIPAddress": {"ip": "192.0.2.10"}},
    ],
)
def test_fields_of_the_wrong_type_are_malformed(changes):
    malformed(item("root-success-mfa-yes", **changes))


@pytest.mark.parametrize("value", [None, 17, ""])
def test_event_id_of_the_wrong_type_is_malformed(value):
    raw = item("root-success-mfa-yes", eventID=value)
    raw["EventId"] = value
    malformed(raw)


def test_item_that_is_no_object_is_malformed():
    malformed(["EventId", "x"])  # type: ignore[arg-type]


def test_event_time_past_year_9999_in_utc_is_malformed():
    raw = item("root-success-mfa-yes")
    raw["EventTime"] = "9999-12-31T23:30:00-05:00"
    assert "UTC" in malformed(raw)
