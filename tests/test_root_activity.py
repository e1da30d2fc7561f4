"""Root activity: the CIS filter, bounded event names, session kinds, and counting each event once."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from exporter.collector import exposition
from exporter.root_activity import (
    ASSUMED_ROOT,
    MAX_SEEN,
    ROOT_CREDENTIALS,
    MalformedRecord,
    RootActivity,
    SessionKeys,
    assume_root_issued,
    classify,
    is_root_activity,
    seen_event,
    with_root_activity,
    with_stream_started,
)
from exporter.snapshot import with_accounts
from exporter.sources.root_events import (
    HEARTBEAT_DETAIL_TYPE,
    HEARTBEAT_SOURCE,
    Heartbeat,
    Malformed,
    Record,
    parse_message,
    with_messages,
)
from exporter.state import Account, Snapshot
from tests.support.exposition import parse

MEMBER = "222222222222"
MGMT = "111111111111"
T0 = 1_790_000_000.0  # 2026-09-21
NO_KEYS: MappingProxyType = MappingProxyType({})


def iso(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def root_record(name="ConsoleLogin", event_id="e-1", when=T0, key="", account=MEMBER, **identity):
    """A CloudTrail record made by root in ``account``, shaped like AWS's published examples."""
    user = {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}
    if key:
        user["accessKeyId"] = key
        user["sessionContext"] = {"attributes": {"creationDate": iso(when - 60), "mfaAuthenticated": "false"}}
    user.update(identity)
    return {
        "eventVersion": "1.09",
        "userIdentity": user,
        "eventTime": iso(when),
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }


def assume_root_record(key="ASIAISSUEDBYASSUMEROOT", target=MEMBER, when=T0, event_id="ar-1"):
    """The AssumeRoot call as the calling account records it (IAM guide, Track privileged tasks)."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{MGMT}:assumed-role/Admin/alice",
            "accountId": MGMT,
            "accessKeyId": "ASIACALLER",
            "sessionContext": {"assumedRoot": "true"},
        },
        "eventTime": iso(when),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRoot",
        "awsRegion": "us-east-1",
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": MGMT,
        "requestParameters": {
            "targetPrincipal": target,
            "taskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"},
        },
        "responseElements": {
            "credentials": {"accessKeyId": key, "sessionToken": "<redacted>", "expiration": "Sep 21, 2026, 10:15:00 PM"}
        },
    }


def envelope(detail, detail_type="AWS API Call via CloudTrail", when=T0, **extra):
    event = {
        "version": "0",
        "id": "eb-1",
        "detail-type": detail_type,
        "source": "aws.iam",
        "account": detail.get("recipientAccountId", MEMBER) if isinstance(detail, dict) else MEMBER,
        "time": iso(when),
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    event.update(extra)
    return json.dumps(event)


def collected(*ids: str) -> Snapshot:
    return with_stream_started(with_accounts(Snapshot(), [Account(i, f"name-{i}") for i in ids], MGMT), T0)


# ---------------------------------------------------------------- the CIS filter


@pytest.mark.parametrize(
    "record, expected",
    [
        (root_record(), True),
        (root_record(type="root"), True),  # compared case-insensitively
        (root_record(invokedBy="cloudformation.amazonaws.com"), False),  # a service acting for root
        ({**root_record(), "eventType": "AwsServiceEvent"}, False),
        ({**root_record(), "userIdentity": {"type": "IAMUser", "userName": "alice"}}, False),
        ({**root_record(), "userIdentity": {"type": "AssumedRole"}}, False),
    ],
)
def test_cis_filter(record, expected):
    assert is_root_activity(record) is expected


def test_notable_names_are_kept_and_every_other_name_is_other():
    for name in ("ConsoleLogin", "PasswordRecoveryRequested", "CreateAccessKey", "DeactivateMFADevice", "CloseAccount"):
        assert classify(root_record(name), NO_KEYS).event_name == name
    assert classify(root_record("ListBuckets"), NO_KEYS).event_name == "other"
    assert classify(root_record("Made\ud800Up"), NO_KEYS).event_name == "other"


# ---------------------------------------------------------------- session kinds


def test_a_temporary_key_and_session_context_alone_mean_root_credentials():
    # The API calls of a root password console session carry an ASIA key and a sessionContext too.
    activity = classify(root_record("CreateAccessKey", key="ASIACONSOLESESSION1"), NO_KEYS)
    assert activity.session == ROOT_CREDENTIALS


def test_a_key_issued_by_assume_root_means_assumed_root_while_the_session_lasts():
    issued = assume_root_issued(assume_root_record(key="ASIAISSUED0000000001"))
    assert (issued.access_key_id, issued.target_account, issued.expires) == ("ASIAISSUED0000000001", MEMBER, T0 + 900)
    keys = {issued.access_key_id: issued.expires}
    assert (
        classify(root_record("DeleteLoginProfile", key="ASIAISSUED0000000001", when=T0 + 300), keys).session
        == ASSUMED_ROOT
    )
    # the same key id long after its session ended proves nothing
    assert (
        classify(root_record("DeleteLoginProfile", key="ASIAISSUED0000000001", when=T0 + 7200), keys).session
        == ROOT_CREDENTIALS
    )


def test_the_documented_assumed_root_marker_means_assumed_root():
    record = root_record("DeleteLoginProfile", key="ASIAUNSEEN0000000001")
    record["userIdentity"]["sessionContext"]["assumedRoot"] = "true"
    assert classify(record, NO_KEYS).session == ASSUMED_ROOT


def test_the_exporters_own_audit_is_not_activity():
    own = SessionKeys()
    own.record("ASIAOWNAUDIT00000001", T0 + 900, now=T0)
    assert classify(root_record("ListAccessKeys", key="ASIAOWNAUDIT00000001", when=T0 + 10), NO_KEYS, own) is None
    assert classify(root_record("ListAccessKeys", key="ASIASOMEONEELSE00001", when=T0 + 10), NO_KEYS, own) is not None


def test_session_keys_stay_bounded():
    keys = SessionKeys(cap=100)
    for n in range(1000):
        keys.record(f"ASIA{n:016d}", T0 + n, now=T0)
    assert len(keys) <= 100
    assert keys.issued(f"ASIA{999:016d}", T0)


def test_a_failed_assume_root_issued_nothing():
    record = assume_root_record()
    record["errorCode"] = "AccessDenied"
    del record["responseElements"]
    assert assume_root_issued(record) is None


# ---------------------------------------------------------------- defensive parsing


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(userIdentity="Root"),
        lambda r: r["userIdentity"].update(type=["Root"]),
        lambda r: r.update(eventTime="yesterday"),
        lambda r: r.update(eventTime=1790000000),
        lambda r: r.pop("eventID"),
        lambda r: r.update(eventName={"x": 1}),
        lambda r: r.update(recipientAccountId="12345"),
        lambda r: r["userIdentity"].update(accessKeyId=7),
        lambda r: r["userIdentity"].update(sessionContext="yes"),
    ],
)
def test_malformed_fields_raise_malformed_record(change):
    record = root_record(key="ASIAX")
    change(record)
    with pytest.raises(MalformedRecord):
        classify(record, NO_KEYS)


def test_lone_surrogates_never_reach_the_exposition():
    snapshot = collected(MEMBER)
    body = envelope(root_record("Console\ud800Login", event_id="id-\udc00"))
    snapshot = with_messages(snapshot, [parse_message(body)], T0 + 1)
    text = exposition(snapshot, {})[0].decode("utf-8")  # would raise on a lone surrogate
    assert (
        parse(text).value(
            "root_activity_events_total",
            account_id=MEMBER,
            account_name=f"name-{MEMBER}",
            event_name="other",
            session=ROOT_CREDENTIALS,
        )
        == 1.0
    )


# ---------------------------------------------------------------- messages


def test_parse_message_kinds():
    assert isinstance(parse_message(envelope(root_record())), Record)
    heartbeat = json.dumps(
        {"detail-type": HEARTBEAT_DETAIL_TYPE, "source": HEARTBEAT_SOURCE, "time": iso(T0), "detail": {}}
    )
    assert parse_message(heartbeat) == Heartbeat(T0)
    assert isinstance(parse_message("not json"), Malformed)
    assert parse_message("[1, 2]") == Malformed("the body is not a JSON object")
    assert parse_message(envelope(root_record(), detail_type="Something Else")).account_id == MEMBER
    assert parse_message(envelope("text")).account_id == MEMBER  # the envelope still names the account
    assert parse_message(json.dumps({"time": "soon", "account": MEMBER})).account_id == MEMBER
    assert parse_message(None).account_id is None


def test_a_batch_counts_root_activity_ignores_others_and_counts_foreign_and_malformed():
    snapshot = collected(MGMT, MEMBER)
    iam_user = root_record(event_id="iam-1")
    iam_user["userIdentity"] = {"type": "IAMUser", "userName": "alice", "accountId": MEMBER}
    messages = [
        parse_message(body)
        for body in (
            envelope(root_record("ConsoleLogin", event_id="a"), "AWS Console Sign In via CloudTrail"),
            envelope(iam_user),
            envelope(root_record("CreateAccessKey", event_id="b", account="999999999999")),  # not collected
            envelope({**root_record(event_id="c"), "eventTime": "garbage"}),  # malformed, names MEMBER
            "{{{",  # malformed, names nobody
        )
    ]
    after = with_messages(snapshot, messages, T0 + 2)
    events = after.root_events
    assert dict(events.counts) == {(MEMBER, "ConsoleLogin", ROOT_CREDENTIALS): 1}
    assert events.foreign == 1
    assert dict(events.malformed) == {MEMBER: 1}
    assert events.malformed_messages == 1
    assert events.last_message == T0 + 2
    assert events.delay.count == 4  # every event whose envelope reads: all but the last
    assert dict(events.last_activity) == {(MEMBER, ROOT_CREDENTIALS): T0}


def test_assume_root_later_in_the_same_batch_still_marks_the_session():
    snapshot = collected(MGMT, MEMBER)
    messages = [
        parse_message(
            envelope(root_record("DeleteLoginProfile", event_id="m-1", key="ASIABATCH00000000001", when=T0 + 5))
        ),
        parse_message(envelope(assume_root_record(key="ASIABATCH00000000001"))),
    ]
    events = with_messages(snapshot, messages, T0 + 10).root_events
    assert dict(events.counts) == {(MEMBER, "DeleteLoginProfile", ASSUMED_ROOT): 1}
    assert "ASIABATCH00000000001" in events.assumed_root_keys


def test_redelivery_counts_once():
    snapshot = collected(MEMBER)
    message = parse_message(envelope(root_record("CreateAccessKey", event_id="dup")))
    once = with_messages(snapshot, [message], T0 + 1)
    twice = with_messages(once, [message], T0 + 30)
    assert dict(twice.root_events.counts) == {(MEMBER, "CreateAccessKey", ROOT_CREDENTIALS): 1}


def test_stream_and_polling_count_an_event_once():
    """The polling path (LookupEvents) records through with_root_activity; the same event id from
    the stream, before or after, counts once."""
    snapshot = collected(MEMBER)
    polled = RootActivity(
        event_id="shared-1", account_id=MEMBER, event_name="ConsoleLogin", session=ROOT_CREDENTIALS, time=T0
    )
    after_poll = with_root_activity(snapshot, [polled], T0 + 60)
    assert seen_event(after_poll, "shared-1")
    streamed = parse_message(envelope(root_record("ConsoleLogin", event_id="shared-1")))
    both = with_messages(after_poll, [streamed], T0 + 61)
    assert sum(both.root_events.counts.values()) == 1
    stream_first = with_messages(snapshot, [streamed], T0 + 1)
    assert seen_event(stream_first, "shared-1")
    assert sum(with_root_activity(stream_first, [polled], T0 + 2).root_events.counts.values()) == 1


def test_the_seen_set_is_bounded():
    snapshot = collected(MEMBER)
    many = [RootActivity(f"id-{n}", MEMBER, "other", ROOT_CREDENTIALS, T0) for n in range(MAX_SEEN + 500)]
    after = with_root_activity(snapshot, many, T0)
    assert len(after.root_events.seen) == MAX_SEEN
    later = with_root_activity(after, [], T0 + 26 * 3600)  # past the window: forgotten
    assert len(later.root_events.seen) == 0
    assert sum(later.root_events.counts.values()) == MAX_SEEN + 500  # counts stay


def test_root_activity_of_an_account_that_left_is_forgotten():
    """Counts, newest activity and malformed records are kept per account; when discovery no
    longer finds an account, they go with it (they would only grow with churn: nothing renders
    them), and the accounts that stay keep theirs."""
    other = "333333333333"
    snapshot = collected(MGMT, MEMBER, other)
    messages = [
        parse_message(envelope(root_record("ConsoleLogin", event_id="m", account=MEMBER))),
        parse_message(envelope(root_record("ConsoleLogin", event_id="o", account=other))),
        parse_message(envelope({**root_record(event_id="bad", account=other), "eventTime": "garbage"})),
    ]
    after = with_messages(snapshot, messages, T0 + 2)
    assert {key[0] for key in after.root_events.counts} == {MEMBER, other}
    left = with_accounts(after, [Account(MGMT, "mgmt"), Account(MEMBER, "member")], MGMT).root_events
    assert dict(left.counts) == {(MEMBER, "ConsoleLogin", ROOT_CREDENTIALS): 1}
    assert set(left.counted_at) == {(MEMBER, "ConsoleLogin", ROOT_CREDENTIALS)}
    assert dict(left.last_activity) == {(MEMBER, ROOT_CREDENTIALS): T0}
    assert dict(left.malformed) == {}
    assert set(left.seen) == {"m", "o"}  # event ids stay, bounded by time: a redelivery still counts once


def test_heartbeat_keeps_the_newest_time():
    snapshot = collected(MEMBER)
    beats = [Heartbeat(T0 + 300), Heartbeat(T0)]
    events = with_messages(snapshot, beats, T0 + 301).root_events
    assert events.last_heartbeat == T0 + 300
    text = exposition(with_messages(snapshot, beats, T0 + 301), {})[0].decode()
    metrics = parse(text)
    assert metrics.value("root_events_last_heartbeat_timestamp") == T0 + 300
    assert metrics.value("root_event_delivery_delay_seconds_count") == 2.0
    assert metrics.value("root_event_delivery_delay_seconds_bucket", le="1.0") == 1.0
    assert metrics.value("root_event_delivery_delay_seconds_bucket", le="300.0") == 1.0
    assert metrics.value("root_event_delivery_delay_seconds_bucket", le="600.0") == 2.0


def test_stream_metrics_are_absent_while_the_stream_is_off():
    snapshot = with_accounts(Snapshot(), [Account(MEMBER, "m")], MGMT)
    metrics = parse(exposition(snapshot, {})[0].decode())
    assert metrics.series("root_events_foreign_events_total") == {}
    assert metrics.series("root_event_delivery_delay_seconds_count") == {}
