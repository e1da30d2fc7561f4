"""Root console sign-ins from CloudTrail LookupEvents (issue 3)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from exporter.collector import exposition
from tests.integration.conftest import Harness, new_account, only
from tests.support.exposition import Exposition, parse

SUCCESS_MFA, SUCCESS_NO_MFA, FAILURE_MFA, FAILURE_NO_MFA = (True, True), (True, False), (False, True), (False, False)
JITTER = 0.05  # seconds of scheduling noise allowed in the rate check


def ago(**delta) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**delta)


def logins(harness, account_id):
    return harness.value(account_id, "console_logins")


def assert_lookup_rate(fake, account_id, region="us-east-1"):
    """No more than two LookupEvents calls for one account and region within any second."""
    times = sorted(call.time for call in fake.calls_to("LookupEvents", account_id) if call.region == region)
    for first, third in zip(times, times[2:]):
        assert third - first >= 1.0 - JITTER, f"three LookupEvents within {third - first:.3f}s"
    return times


def test_root_sign_in_appears_at_the_next_run(fake):
    member = new_account(fake)
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "console_logins")
    assert dict(logins(harness, member).counts) == {}
    assert harness.facts(member).last_console_login is None

    when = ago(minutes=2).replace(microsecond=0)
    fake.add_console_login(member, time=when, success=True, mfa_used=True, source_ip="192.0.2.44")
    assert harness.run("console_logins")

    value = logins(harness, member)
    assert dict(value.counts) == {SUCCESS_MFA: 1}
    assert value.newest_success.time == when
    assert value.newest_success.source_ip == "192.0.2.44"
    assert value.newest_success.mfa_used is True
    assert harness.facts(member).last_console_login == when


def test_outcome_and_mfa_are_counted_under_their_keys_and_iam_users_ignored(fake):
    member = new_account(fake)
    newest_success = ago(minutes=30).replace(microsecond=0)
    fake.add_console_login(member, time=ago(hours=3), success=True, mfa_used=True)
    fake.add_console_login(member, time=newest_success, success=True, mfa_used=False, source_ip="198.51.100.9")
    fake.add_console_login(member, time=ago(hours=2), success=True, mfa_used=False)
    fake.add_console_login(member, time=ago(minutes=10), success=False, mfa_used=False, source_ip="203.0.113.66")
    fake.add_console_login(
        member, time=ago(minutes=5), user_type="IAMUser", user_name="alice", source_ip="203.0.113.77"
    )
    fake.add_console_login(member, time=ago(hours=30), success=True)  # before the 24 h look-back
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "console_logins")

    value = logins(harness, member)
    assert dict(value.counts) == {SUCCESS_MFA: 1, SUCCESS_NO_MFA: 2, FAILURE_NO_MFA: 1}
    assert value.newest_success.time == newest_success  # not the later failure, not alice
    assert value.newest_success.source_ip == "198.51.100.9"
    assert value.malformed == 0


def test_events_spanning_pages_are_all_counted_within_the_rate_limit(fake):
    member = new_account(fake)
    for index in range(120):
        fake.add_console_login(member, time=ago(minutes=5 + index), success=index % 3 != 0, mfa_used=index % 2 == 0)
    harness = Harness(accounts=only(member))
    fake.clear_calls()

    assert harness.run("discovery", "console_logins", "console_logins")

    value = logins(harness, member)
    expected: dict = {}
    for index in range(120):
        key = (index % 3 != 0, index % 2 == 0)
        expected[key] = expected.get(key, 0) + 1
    assert dict(value.counts) == expected
    times = assert_lookup_rate(fake, member)
    assert len(times) >= 4  # three pages of 50, then the second run's look-up right behind them


def test_rate_limit_holds_for_each_region(fake):
    member = new_account(fake)
    for index in range(60):
        fake.add_console_login(member, time=ago(minutes=1 + index), region="eu-west-1")
        fake.add_console_login(member, time=ago(minutes=1 + index))
    harness = Harness(accounts=only(member), collection={"cloudtrail_regions": ["us-east-1", "eu-west-1"]})
    fake.clear_calls()

    assert harness.run("discovery", "console_logins", "console_logins")

    assert dict(logins(harness, member).counts) == {SUCCESS_MFA: 120}
    assert len(assert_lookup_rate(fake, member, "us-east-1")) >= 3
    assert len(assert_lookup_rate(fake, member, "eu-west-1")) >= 3


def test_event_is_counted_once_across_overlapping_runs_and_repeats(fake):
    member = new_account(fake)
    event_id = fake.add_console_login(member, time=ago(minutes=8), success=False, mfa_used=True)
    fake.add_console_login(member, time=ago(minutes=8), success=False, mfa_used=True, event_id=event_id)  # repeat
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "console_logins", "console_logins")
    assert dict(logins(harness, member).counts) == {FAILURE_MFA: 1}

    # CloudTrail delivers late: an event older than the last run's end shows up afterwards.
    late = ago(minutes=4).replace(microsecond=0)
    fake.add_console_login(member, time=late, success=True, mfa_used=True)
    assert harness.run("console_logins", "console_logins")

    value = logins(harness, member)
    assert dict(value.counts) == {FAILURE_MFA: 1, SUCCESS_MFA: 1}
    assert value.newest_success.time == late


def test_malformed_events_are_skipped_and_counted(fake):
    member = new_account(fake)
    fake.add_raw_cloudtrail_event(member, time=ago(minutes=3), cloudtrail_event='{"eventName": "ConsoleLogin", ')
    fake.add_raw_cloudtrail_event(
        member,
        time=ago(minutes=4),
        cloudtrail_event=('{"eventName": "ConsoleLogin", "userIdentity": {"type": "Root"}, "responseElements": null}'),
    )
    fake.add_console_login(member, time=ago(minutes=5), success=True, mfa_used=False)
    fake.add_console_login(member, time=ago(minutes=6), success=False, mfa_used=False)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "console_logins")

    value = logins(harness, member)
    assert harness.status(member, "console_logins").success is True
    assert value.malformed == 2
    assert dict(value.counts) == {SUCCESS_NO_MFA: 1, FAILURE_NO_MFA: 1}

    assert harness.run("console_logins")  # the same bad events again: not counted twice
    assert logins(harness, member).malformed == 2


def test_throttling_fails_that_account_only_and_the_next_run_does_not_double_count(fake):
    throttled, other = new_account(fake), new_account(fake)
    fake.add_console_login(throttled, time=ago(minutes=9))
    fake.add_console_login(other, time=ago(minutes=9), success=False)
    harness = Harness(accounts=only(throttled, other), aws={"max_attempts": 1})
    assert harness.run("discovery", "console_logins")
    before = logins(harness, throttled)

    fake.add_console_login(throttled, time=ago(minutes=2), success=True, mfa_used=False)
    fake.add_console_login(other, time=ago(minutes=2), success=True, mfa_used=False)
    fake.fail(throttled, "LookupEvents", "ThrottlingException", status=400)  # past every retry
    assert harness.run("console_logins") is False
    fake.clear_failures(throttled)

    status = harness.status(throttled, "console_logins")
    assert status.success is False
    assert "ThrottlingException" in status.error
    assert status.value == before  # the counts seen so far stay
    assert harness.status(other, "console_logins").success is True
    assert dict(logins(harness, other).counts) == {FAILURE_MFA: 1, SUCCESS_NO_MFA: 1}

    assert harness.run("console_logins")
    assert dict(logins(harness, throttled).counts) == {SUCCESS_MFA: 1, SUCCESS_NO_MFA: 1}


def test_single_throttle_is_retried_with_the_default_retry_settings(fake):
    member = new_account(fake)
    fake.add_console_login(member, time=ago(minutes=3))
    fake.fail(member, "LookupEvents", "ThrottlingException", status=400, times=1)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "console_logins")

    assert dict(logins(harness, member).counts) == {SUCCESS_MFA: 1}


def test_retry_after_a_throttle_stays_within_the_rate_limit(fake):
    """AWS counts the throttled request too: botocore's retry of it must wait its turn like any
    other LookupEvents call, or the next page follows it within the same second."""
    member = new_account(fake)
    for index in range(60):
        fake.add_console_login(member, time=ago(minutes=1 + index))
    fake.fail(member, "LookupEvents", "ThrottlingException", status=400, times=1)
    harness = Harness(accounts=only(member))
    fake.clear_calls()

    assert harness.run("discovery", "console_logins")

    assert dict(logins(harness, member).counts) == {SUCCESS_MFA: 60}
    assert len(assert_lookup_rate(fake, member)) == 3  # throttled first page, its retry, second page


# ---------------------------------------------------------------- payloads as AWS sends them (issue 8, 11)

FIXTURES = json.loads((Path(__file__).parents[1] / "fixtures" / "cloudtrail-console-logins.json").read_text())
ASSUMED_SUCCESS, ASSUMED_FAILURE = True, False


def fixture_record(name: str, **changes) -> str:
    """A record of tests/fixtures/cloudtrail-console-logins.json (see tests/test_console_logins.py
    for the AWS pages they follow) as the CloudTrailEvent string, with ``changes``."""
    return json.dumps({**FIXTURES[name]["CloudTrailEvent"], **changes})


def metrics(harness) -> Exposition:
    return parse(exposition(harness.snapshot, {})[0].decode())


def of(harness, account_id: str, **labels: str) -> dict[str, str]:
    return {"account_id": account_id, "account_name": harness.state(account_id).account.name, **labels}


def test_assume_root_session_sign_ins_are_counted_apart_and_are_no_root_credential_sign_in(fake):
    member = new_account(fake)
    password_sign_in = ago(hours=3).replace(microsecond=0)
    fake.add_console_login(member, time=password_sign_in, success=True, mfa_used=True)
    fake.add_console_login(member, time=ago(minutes=2), success=True, mfa_used=False, assumed_root=True)
    fake.add_console_login(member, time=ago(minutes=3), success=False, mfa_used=False, assumed_root=True)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "console_logins")

    value = logins(harness, member)
    assert dict(value.counts) == {SUCCESS_MFA: 1}
    assert dict(value.assumed_root_counts) == {ASSUMED_SUCCESS: 1, ASSUMED_FAILURE: 1}
    assert value.newest_success.time == password_sign_in
    assert harness.facts(member).last_console_login == password_sign_in  # not moved by the session
    shown = metrics(harness)
    assert shown.value("root_assumed_root_console_login_events_total", **of(harness, member, outcome="success")) == 1
    assert shown.value("root_assumed_root_console_login_events_total", **of(harness, member, outcome="failure")) == 1
    assert shown.series("root_console_login_events_total", **of(harness, member)) == {
        frozenset(of(harness, member, outcome="success", mfa_used="true").items()): 1
    }
    assert shown.value("root_last_console_login_timestamp", **of(harness, member)) == password_sign_in.timestamp()


def test_values_in_upper_case_are_counted_like_any_other(fake):
    member = new_account(fake)
    fake.add_raw_cloudtrail_event(
        member, time=ago(minutes=3), cloudtrail_event=fixture_record("root-success-mfa-upper")
    )
    fake.add_raw_cloudtrail_event(
        member,
        time=ago(minutes=4),
        cloudtrail_event=fixture_record(
            "root-failure-no-mfa", responseElements={"ConsoleLogin": "FAILURE"}, additionalEventData={"MFAUsed": "NO"}
        ),
    )
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "console_logins")

    value = logins(harness, member)
    assert dict(value.counts) == {SUCCESS_MFA: 1, FAILURE_NO_MFA: 1}
    assert value.malformed == 0
    assert value.newest_success.mfa_used is True


def test_fields_of_the_wrong_type_are_counted_as_malformed_and_the_window_advances(fake):
    member = new_account(fake)
    for changes in (
        {"responseElements": "Success"},
        {"additionalEventData": "MFAUsed=Yes"},
        {"userIdentity": {"type": 1}},
        {"sourceIPAddress": ["192.0.2.10"]},
    ):
        fake.add_raw_cloudtrail_event(
            member, time=ago(minutes=5), cloudtrail_event=fixture_record("root-success-mfa-yes", **changes)
        )
    fake.add_console_login(member, time=ago(minutes=6), success=True, mfa_used=False)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "console_logins")

    first = logins(harness, member)
    assert harness.status(member, "console_logins").success is True
    assert first.malformed == 4
    assert dict(first.counts) == {SUCCESS_NO_MFA: 1}

    fake.add_console_login(member, time=ago(minutes=1), success=True, mfa_used=True)
    assert harness.run("console_logins")
    second = logins(harness, member)
    assert second.resume_from > first.resume_from  # the look-up window moved on
    assert dict(second.counts) == {SUCCESS_NO_MFA: 1, SUCCESS_MFA: 1}
    assert second.malformed == 4


def test_a_repeating_next_token_stops_that_account_with_a_clear_error(fake):
    looping, other = new_account(fake), new_account(fake)
    for index in range(60):  # two pages
        fake.add_console_login(looping, time=ago(minutes=1 + index))
    fake.add_console_login(other, time=ago(minutes=2), success=False)
    harness = Harness(accounts=only(looping, other))
    assert harness.run("discovery")
    fake.loop_lookup_tokens(looping)
    fake.clear_calls()
    try:
        done = threading.Event()
        result: list[bool] = []
        worker = threading.Thread(
            target=lambda: (result.append(harness.run("console_logins")), done.set()), daemon=True
        )
        worker.start()
        assert done.wait(30), "the console_logins run did not end: it follows the repeating NextToken forever"
    finally:
        fake.loop_lookup_tokens(looping, False)

    assert result == [False]
    status = harness.status(looping, "console_logins")
    assert status.success is False
    assert "NextToken" in status.error and "repeat" in status.error.lower()
    assert len(fake.calls_to("LookupEvents", looping)) == 2  # the first page, then the one repeating its token
    assert harness.status(other, "console_logins").success is True
    assert dict(logins(harness, other).counts) == {FAILURE_MFA: 1}


def test_more_than_a_thousand_root_events_in_the_overlap_are_counted_once(fake):
    """A password-guessing run: 1,010 failed root sign-ins within ten minutes, all inside the
    overlap the next look-up reads again. Each counts once, however many ids the exporter keeps."""
    member = new_account(fake)
    for index in range(1010):
        fake.add_console_login(member, time=ago(seconds=120 + index * 0.5), success=False, mfa_used=False)
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "console_logins")
    assert dict(logins(harness, member).counts) == {FAILURE_NO_MFA: 1010}

    fake.add_console_login(member, time=ago(seconds=30), success=True, mfa_used=True)
    assert harness.run("console_logins")

    value = logins(harness, member)
    assert dict(value.counts) == {FAILURE_NO_MFA: 1010, SUCCESS_MFA: 1}
    assert len(value.seen) <= 1000  # memory stays bounded
