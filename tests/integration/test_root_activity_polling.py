"""The polling path sees every root action (issue 12): CloudTrail ``LookupEvents`` with
``Username=root`` through the fake AWS over HTTP, counted in the same root activity state as the
event stream, each event id once across both paths."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from exporter.collector import exposition
from exporter.root_activity import ASSUMED_ROOT, ROOT_CREDENTIALS
from tests.integration.conftest import MGMT, Harness, new_account, only
from tests.integration.test_root_events import Stream, activity, record
from tests.support.exposition import parse

SUCCESS_MFA = (True, True)


def ago(**delta) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**delta)


def in_cloudtrail(fake, account: str, detail: dict, when: datetime, username: str = "root") -> str:
    """``detail`` as a record of the account's CloudTrail (us-east-1), as LookupEvents returns it."""
    detail = {**detail, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return fake.add_raw_cloudtrail_event(
        account,
        time=when,
        cloudtrail_event=json.dumps(detail),
        event_name=detail["eventName"],
        event_id=detail["eventID"],
        username=username,
    )


def polled(fake, *names: str):
    harness = Harness(accounts=only(MGMT, *names))
    assert harness.run("discovery")
    return harness


def test_the_look_up_asks_for_every_root_event(fake):
    member = new_account(fake)
    harness = polled(fake, member)
    fake.clear_calls()
    assert harness.run("console_logins")
    calls = fake.calls_to("LookupEvents", member)
    assert calls and all(
        json.loads(call.params["LookupAttributes"]) == [{"AttributeKey": "Username", "AttributeValue": "root"}]
        for call in calls
    ), [c.params for c in calls]


def test_a_root_access_key_created_seen_by_polling_is_root_activity(fake):
    member = new_account(fake)
    harness = polled(fake, member)
    in_cloudtrail(fake, member, record(member, "CreateAccessKey"), ago(minutes=3))
    assert harness.run("console_logins")
    assert activity(harness, member) == {(member, "CreateAccessKey", ROOT_CREDENTIALS): 1}
    metrics = parse(exposition(harness.snapshot, {})[0].decode())
    assert (
        metrics.value(
            "root_activity_events_total",
            account_id=member,
            account_name=harness.state(member).account.name,
            event_name="CreateAccessKey",
            session=ROOT_CREDENTIALS,
        )
        == 1.0
    )
    assert (
        metrics.value(
            "root_last_activity_timestamp",
            account_id=member,
            account_name=harness.state(member).account.name,
            session=ROOT_CREDENTIALS,
        )
        > 0
    )
    # The next run reads the overlap again: still one.
    assert harness.run("console_logins")
    assert activity(harness, member) == {(member, "CreateAccessKey", ROOT_CREDENTIALS): 1}


def test_root_sign_ins_keep_their_sign_in_counters_and_count_as_activity_too(fake):
    member = new_account(fake)
    harness = polled(fake, member)
    fake.add_console_login(member, time=ago(minutes=4), success=True, mfa_used=True)
    assert harness.run("console_logins")
    assert dict(harness.value(member, "console_logins").counts) == {SUCCESS_MFA: 1}
    assert activity(harness, member) == {(member, "ConsoleLogin", ROOT_CREDENTIALS): 1}


def test_the_same_event_on_the_stream_and_by_polling_counts_once(fake):
    member = new_account(fake)
    harness = polled(fake, member)
    stream = Stream()
    first, second = record(member, "DeactivateMFADevice"), record(member, "CreateAccessKey")
    # first: the stream delivers it, then polling finds it; second: the other way round.
    stream.put(first)
    consumer = stream.consumer(harness, wait_seconds=1)
    while consumer.poll_once():
        pass
    in_cloudtrail(fake, member, first, ago(minutes=2))
    in_cloudtrail(fake, member, second, ago(minutes=1))
    assert harness.run("console_logins")
    stream.put(second)
    while consumer.poll_once():
        pass
    assert activity(harness, member) == {
        (member, "DeactivateMFADevice", ROOT_CREDENTIALS): 1,
        (member, "CreateAccessKey", ROOT_CREDENTIALS): 1,
    }


def test_the_exporters_own_audit_is_not_counted_and_an_assume_root_task_is_assumed_root(fake):
    fake.set_organization_features(True, False)
    try:
        member = new_account(fake)
        harness = polled(fake, member)
        assert harness.run("root_audit")
    finally:
        fake.set_organization_features(False, False)
    own_key = fake.root_session_keys(member)[-1]
    for name in ("GetLoginProfile", "ListAccessKeys", "ListMFADevices", "ListSigningCertificates"):
        in_cloudtrail(fake, member, record(member, name, key=own_key), ago(minutes=2))
    task = record(member, "DeleteLoginProfile", key="ASIA" + uuid.uuid4().hex[:16].upper())
    task["userIdentity"]["sessionContext"]["assumedRoot"] = "true"  # as CloudTrail marks AssumeRoot sessions
    in_cloudtrail(fake, member, task, ago(minutes=1))
    assert harness.run("console_logins")
    assert activity(harness, member) == {(member, "DeleteLoginProfile", ASSUMED_ROOT): 1}


def test_iam_users_are_ignored_even_one_named_root(fake):
    member = new_account(fake)
    harness = polled(fake, member)
    # LookupEvents matches Username, so an IAM user called "root" comes back too: its record says IAMUser.
    in_cloudtrail(fake, member, record(member, "CreateAccessKey", kind="IAMUser"), ago(minutes=2))
    fake.add_console_login(member, time=ago(minutes=1), user_type="IAMUser", user_name="root")
    fake.add_console_login(member, time=ago(minutes=1), user_type="IAMUser", user_name="alice")
    assert harness.run("console_logins")
    assert activity(harness, member) == {}
    assert dict(harness.value(member, "console_logins").counts) == {}


def test_a_malformed_root_record_is_counted_and_the_others_still_count(fake):
    member = new_account(fake)
    harness = polled(fake, member)
    broken = record(member, "CreateAccessKey")
    broken["eventName"] = 7
    fake.add_raw_cloudtrail_event(
        member, time=ago(minutes=2), cloudtrail_event=json.dumps(broken), event_name="CreateAccessKey"
    )
    in_cloudtrail(fake, member, record(member, "DeleteAccessKey"), ago(minutes=1))
    assert harness.run("console_logins")
    assert harness.value(member, "console_logins").malformed == 1
    assert activity(harness, member) == {(member, "DeleteAccessKey", ROOT_CREDENTIALS): 1}
