"""Faults of AWS that the exporter meets in the field, against the fake over HTTP with real boto3:
throttling on most calls, a credential report still in progress past the wait, an expired
report, and AssumeRole credentials that expire between runs.

Covered elsewhere (one test each is enough): AccessDenied on one member
(test_isolation.py::test_assume_role_denied_fails_only_that_member, e2e test_metrics_e2e), a hung
account bounded by its deadline while the others keep their interval (test_deadlines.py), accounts
leaving and joining (test_discovery.py::test_account_leaving_disappears_with_its_state_and_new_one_appears,
test_discovery_retry.py::test_clients_of_accounts_that_left_are_evicted, e2e
test_accounts_joining_and_leaving_the_organization_follow_discovery), a repeating NextToken
(test_console_logins.py), hostile strings (test_hostile_input.py), stale data (test_staleness.py).
"""

from __future__ import annotations

import time
from collections import Counter

import boto3
import pytest
from botocore.exceptions import ClientError

from fakeaws import FakeAccessKey, FakeMfaDevice, FakeRoot
from exporter.sources.credential_report import REPORT_LIFETIME
from tests.integration.conftest import Harness, new_account, only

MEMBER_ACTIONS = (
    "AssumeRole",
    "GetAccountSummary",
    "GenerateCredentialReport",
    "GetCredentialReport",
    "ListVirtualMFADevices",
    "LookupEvents",
)
SOURCES = ("account_summary", "credential_report", "mfa_devices", "console_logins")


def test_throttling_on_most_calls_still_collects_every_account_within_bounded_retries(fake):
    # With MFA, so that mfa_devices reads them too (it skips a root the summary shows without MFA).
    members = [
        new_account(
            fake, root=FakeRoot(password=True, access_keys=[FakeAccessKey()], mfa_devices=[FakeMfaDevice("virtual")])
        )
        for _ in range(4)
    ]
    harness = Harness(accounts=only(*members), aws={"max_attempts": 4})
    assert harness.run("discovery")
    for member in members:  # two of every three calls of every member are throttled
        for action in MEMBER_ACTIONS:
            fake.fail(member, action, "Throttling", status=400, times=2)
    fake.clear_calls()
    try:
        assert harness.run(*SOURCES), {m: {s: harness.status(m, s).error for s in SOURCES} for m in members}
    finally:
        for member in members:
            fake.clear_failures(member)
    for member in members:
        for source in SOURCES:
            assert harness.status(member, source).success is True, (member, source)
        assert harness.facts(member).access_keys[0].active is True
    calls = Counter((call.action, call.target_account or call.account_id) for call in fake.calls)
    for member in members:
        for action in ("GetAccountSummary", "ListVirtualMFADevices", "LookupEvents"):
            assert calls[(action, member)] == 3, (action, member, calls[(action, member)])  # 2 throttled + 1


def test_throttling_that_never_ends_stops_at_max_attempts_and_is_counted(fake):
    member, other = new_account(fake), new_account(fake)
    harness = Harness(accounts=only(member, other), aws={"max_attempts": 3})
    assert harness.run("discovery", "account_summary")
    fake.fail(member, "GetAccountSummary", "Throttling", status=400)
    fake.clear_calls()
    try:
        assert harness.run("account_summary") is False
    finally:
        fake.clear_failures(member)
    assert len(fake.calls_to("GetAccountSummary", member)) == 3
    status = harness.status(member, "account_summary")
    assert status.success is False and status.error.startswith("Throttling (GetAccountSummary)")
    assert status.value is not None  # the last good value stays
    assert dict(harness.state(member).errors) == {("account_summary", "Throttling"): 1}
    assert harness.status(other, "account_summary").success is True


def test_report_still_in_progress_past_the_wait_fails_that_account_with_report_timeout(fake):
    slow, quick = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey()])), new_account(fake)
    harness = Harness(accounts=only(slow, quick))  # credential_report_timeout: 10s
    assert harness.run("discovery", "credential_report")
    good = harness.value(slow, "credential_report")
    fake.expire_report(slow)
    fake.set_report_generation_delay(slow, 1000)
    harness.later(REPORT_LIFETIME)  # the last report is old enough to ask for a new one
    started = time.monotonic()
    try:
        assert harness.run("credential_report") is False
    finally:
        fake.set_report_generation_delay(slow, 0)
    assert time.monotonic() - started < 20  # the wait is bounded by credential_report_timeout
    status = harness.status(slow, "credential_report")
    assert status.error.startswith("ReportTimeout") and "10s" in status.error
    assert status.value == good
    assert dict(harness.state(slow).errors) == {("credential_report", "ReportTimeout"): 1}
    assert harness.status(quick, "credential_report").success is True


def test_an_expired_report_is_generated_again_and_read(fake):
    member = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey()]))
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "credential_report")
    first = harness.value(member, "credential_report")
    fake.set_root(member, FakeRoot())  # the key is deleted since
    fake.expire_report(member)
    fake.fail(member, "GetCredentialReport", "ReportExpired", "The report has expired", status=410, times=1)
    time.sleep(1.1)  # a new report gets a later GeneratedTime (whole seconds)
    harness.later(REPORT_LIFETIME)  # the last report is old enough to ask for a new one
    assert harness.run("credential_report")
    report = harness.value(member, "credential_report")
    assert report.generated > first.generated
    assert report.access_keys[0].active is False
    assert harness.state(member).errors == {}  # waited out inside the run, not a failure


def test_assume_role_credentials_expiring_between_runs_are_renewed(fake):
    members = [new_account(fake, root=FakeRoot.with_password("virtual")) for _ in range(2)]
    harness = Harness(accounts=only(*members))
    assert harness.run("discovery")
    fake.set_assume_role_lifetime(3)
    try:
        assert harness.run("account_summary", "mfa_devices")
        issued = len(fake.calls_to("AssumeRole"))
        time.sleep(3.5)  # every credential the clients hold has expired now
        fake.clear_calls()
        assert harness.run("account_summary", "mfa_devices"), [
            harness.status(m, "account_summary").error for m in members
        ]
    finally:
        fake.set_assume_role_lifetime(None)
    assert issued >= 2
    assert len(fake.calls_to("AssumeRole")) >= 2  # renewed, not reused
    refused = [call for call in fake.calls if call.action in ("GetAccountSummary", "ListVirtualMFADevices")]
    assert len(refused) == 4  # one call per member and source: nothing was answered ExpiredToken and retried
    for member in members:
        assert harness.state(member).errors == {}


def test_the_fake_refuses_expired_assume_role_credentials(fake):
    """What makes the test above mean something: credentials kept past their expiry are refused."""
    member = new_account(fake)
    fake.set_assume_role_lifetime(2)
    try:
        credentials = boto3.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="test"
        )["Credentials"]
    finally:
        fake.set_assume_role_lifetime(None)
    assert (
        credentials["Expiration"] - credentials["Expiration"].now(credentials["Expiration"].tzinfo)
    ).total_seconds() < 3
    iam = boto3.client(
        "iam",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    iam.get_account_summary()
    time.sleep(2.5)
    with pytest.raises(ClientError) as caught:
        iam.get_account_summary()
    assert caught.value.response["Error"]["Code"] == "ExpiredToken"
