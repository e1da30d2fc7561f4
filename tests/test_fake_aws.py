"""The fake AWS organization answers like AWS, over HTTP, to real boto3 clients.

One fake runs for the whole module with the demo organization in it. Tests that need an account
of their own get a fresh member (``member`` fixture) that leaves the organization afterwards, so
the demo organization is what ListAccounts shows again.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from fakeaws import (
    FakeAccessKey,
    FakeAws,
    FakeCertificate,
    FakeMfaDevice,
)
from fakeaws.demo import DEMO_ACCOUNTS, build_organization

MGMT = FakeAws.MANAGEMENT_ACCOUNT_ID
AUDIT = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
ROLE = "arn:aws:iam::{}:role/OrganizationAccountAccessRole"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
_fresh_ids = itertools.count(1)


@pytest.fixture(scope="module")
def fake():
    fake = FakeAws()
    fake.start()
    try:
        build_organization(fake, NOW)
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def member(fake):
    """A fresh member account (no root credentials) that leaves the organization afterwards."""
    account_id = f"20000000{next(_fresh_ids):04d}"
    fake.create_account(account_id, f"test-{account_id}", ou="Tests")
    yield account_id
    fake.clear_failures(account_id)
    fake.remove_account(account_id)


def client(fake, service, credentials=None, region="us-east-1"):
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if credentials:
        keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    return boto3.client(service, endpoint_url=fake.endpoint_url, region_name=region, config=NO_RETRIES, **keys)


def assume_role(fake, account_id):
    return client(fake, "sts").assume_role(RoleArn=ROLE.format(account_id), RoleSessionName="root-exporter")[
        "Credentials"
    ]


def member_client(fake, service, account_id, region="us-east-1"):
    return client(fake, service, assume_role(fake, account_id), region)


def assume_root(fake, account_id, **kwargs):
    return client(fake, "sts").assume_root(
        TargetPrincipal=account_id, TaskPolicyArn={"arn": kwargs.pop("policy", AUDIT)}, **kwargs
    )["Credentials"]


def error_of(excinfo):
    error = excinfo.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


def report_rows(iam):
    for _ in range(10):
        if iam.generate_credential_report()["State"] == "COMPLETE":
            break
    report = iam.get_credential_report()
    return report, list(csv.DictReader(io.StringIO(report["Content"].decode("utf-8"))))


# ---------------------------------------------------------------- organization


def test_demo_organization_lists_every_account_with_state_and_status(fake):
    org = client(fake, "organizations")
    accounts = [
        account
        for page in org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 4})
        for account in page["Accounts"]
    ]
    by_id = {account["Id"]: account for account in accounts}
    assert len(accounts) == 11
    assert set(by_id) == {demo.id for demo in DEMO_ACCOUNTS}
    assert by_id["101010101010"]["State"] == "SUSPENDED"
    assert by_id["101010101010"]["Status"] == "SUSPENDED"
    assert by_id["333333333333"]["State"] == by_id["333333333333"]["Status"] == "ACTIVE"
    assert by_id[MGMT]["Name"] == "management"
    assert by_id["666666666666"]["Email"] == "data-lake@example.com"


def test_demo_accounts_sit_in_their_ou_paths(fake):
    org = client(fake, "organizations")

    def ou_path(child):
        names = []
        while True:
            parent = org.list_parents(ChildId=child)["Parents"][0]
            if parent["Type"] == "ROOT":
                return "/".join(["Root"] + names[::-1])
            names.append(
                org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])["OrganizationalUnit"]["Name"]
            )
            child = parent["Id"]

    assert ou_path("333333333333") == "Root/Workloads/Prod"
    assert ou_path("555555555555") == "Root/Workloads/Dev"
    assert ou_path("111111111111") == "Root/Security"
    assert ou_path(MGMT) == "Root"


def test_account_leaves_the_organization(fake, member):
    org = client(fake, "organizations")
    fake.remove_account(member)
    ids = [a["Id"] for p in org.get_paginator("list_accounts").paginate() for a in p["Accounts"]]
    assert member not in ids
    fake.create_account(member, "rejoined", ou="Tests")  # so the fixture can remove it again


# ---------------------------------------------------------------- account summary


def test_assume_role_into_member_and_read_its_account_summary(fake):
    payments = member_client(fake, "iam", "333333333333").get_account_summary()["SummaryMap"]
    assert payments["AccountMFAEnabled"] == 0
    assert payments["AccountAccessKeysPresent"] == 1
    assert payments["AccountPasswordPresent"] == 1
    assert payments["AccountSigningCertificatesPresent"] == 0
    assert "Users" in payments  # moto's own counts stay

    sandbox = member_client(fake, "iam", "555555555555").get_account_summary()["SummaryMap"]
    assert (sandbox["AccountMFAEnabled"], sandbox["AccountSigningCertificatesPresent"]) == (1, 1)

    archive = member_client(fake, "iam", "222222222222").get_account_summary()["SummaryMap"]
    root_keys = (
        "AccountMFAEnabled",
        "AccountAccessKeysPresent",
        "AccountSigningCertificatesPresent",
        "AccountPasswordPresent",
    )
    assert [archive[key] for key in root_keys] == [0, 0, 0, 0]


def test_account_summary_follows_root_changes_live(fake, member):
    iam = member_client(fake, "iam", member)
    assert iam.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"] == 0
    fake.root(member).access_keys.append(FakeAccessKey(active=False))
    fake.root(member).mfa_devices.append(FakeMfaDevice("hardware"))
    summary = iam.get_account_summary()["SummaryMap"]
    assert (summary["AccountAccessKeysPresent"], summary["AccountMFAEnabled"]) == (1, 1)


def test_assume_role_into_staging_is_denied(fake):
    with pytest.raises(ClientError) as excinfo:
        assume_role(fake, "999999999999")
    assert error_of(excinfo) == ("AccessDenied", 403)
    assert "OrganizationAccountAccessRole" in excinfo.value.response["Error"]["Message"]


# ---------------------------------------------------------------- credential report


def test_report_not_present_before_generation(fake, member):
    with pytest.raises(ClientError) as excinfo:
        member_client(fake, "iam", member).get_credential_report()
    assert error_of(excinfo) == ("ReportNotPresent", 410)


def test_credential_report_has_root_row_first(fake):
    report, rows = report_rows(member_client(fake, "iam", "333333333333"))
    assert report["ReportFormat"] == "text/csv"
    assert abs((report["GeneratedTime"] - datetime.now(timezone.utc)).total_seconds()) < 60
    root = rows[0]
    assert len(root) == 22
    assert root["user"] == "<root_account>"
    assert root["arn"] == "arn:aws:iam::333333333333:root"
    assert root["password_enabled"] == "not_supported"
    assert root["password_last_changed"] == root["password_next_rotation"] == "not_supported"
    assert root["mfa_active"] == "false"
    assert root["access_key_1_active"] == "true"
    rotated = datetime.fromisoformat(root["access_key_1_last_rotated"])
    assert rotated == NOW - timedelta(days=400)
    assert datetime.fromisoformat(root["access_key_1_last_used_date"]) == NOW - timedelta(hours=2)
    assert root["access_key_1_last_used_service"] == "s3"
    assert root["access_key_1_last_used_region"] == "us-east-1"
    assert (root["access_key_2_active"], root["access_key_2_last_rotated"]) == ("false", "N/A")
    assert root["cert_1_active"] == "false"


def test_credential_report_of_data_lake_and_legacy_billing(fake):
    _, rows = report_rows(member_client(fake, "iam", "666666666666"))
    lake = rows[0]
    assert datetime.fromisoformat(lake["password_last_used"]) == NOW - timedelta(minutes=30)
    assert lake["mfa_active"] == "true"
    _, rows = report_rows(member_client(fake, "iam", "888888888888"))
    billing = rows[0]
    assert (billing["access_key_1_active"], billing["access_key_2_active"]) == ("false", "true")
    assert billing["access_key_2_last_used_date"] == "N/A"
    assert billing["password_last_used"] == "no_information"


def test_credential_report_keeps_moto_user_rows_after_root(fake, member):
    iam = member_client(fake, "iam", member)
    iam.create_user(UserName="deployer")
    _, rows = report_rows(iam)
    assert [row["user"] for row in rows] == ["<root_account>", "deployer"]
    assert rows[1]["arn"] == f"arn:aws:iam::{member}:user/deployer"


def test_report_in_progress_while_generation_runs(fake, member):
    iam = member_client(fake, "iam", member)
    fake.set_report_generation_delay(member, 2)
    assert iam.generate_credential_report()["State"] == "STARTED"
    with pytest.raises(ClientError) as excinfo:
        iam.get_credential_report()
    assert error_of(excinfo) == ("ReportInProgress", 404)
    assert iam.generate_credential_report()["State"] == "INPROGRESS"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    assert iam.get_credential_report()["Content"].startswith(b"user,arn,")


def test_report_is_reused_for_hours_until_expired(fake, member):
    iam = member_client(fake, "iam", member)
    _, rows = report_rows(iam)
    assert rows[0]["cert_1_active"] == "false"
    fake.root(member).certificates.append(FakeCertificate())
    _, rows = report_rows(iam)
    assert rows[0]["cert_1_active"] == "false"  # AWS hands out the cached report
    fake.expire_report(member)
    assert iam.generate_credential_report()["State"] == "STARTED"
    _, rows = report_rows(iam)
    assert rows[0]["cert_1_active"] == "true"


def test_old_report_expires(fake, member):
    iam = member_client(fake, "iam", member)
    report_rows(iam)
    fake.report_expiry = -1  # every report is now older than its expiry
    try:
        with pytest.raises(ClientError) as excinfo:
            iam.get_credential_report()
        assert error_of(excinfo) == ("ReportExpired", 410)
    finally:
        fake.report_expiry = 4 * 3600
    assert iam.get_credential_report()["Content"].startswith(b"user,arn,")


def test_report_override_is_returned_verbatim(fake, member):
    iam = member_client(fake, "iam", member)
    old = b"user,arn,mfa_active\n<root_account>,arn:aws:iam::x:root,TRUE\n"
    fake.set_report_override(member, old)
    report, _ = report_rows(iam)
    assert report["Content"] == old


# ---------------------------------------------------------------- virtual MFA


def test_root_virtual_mfa_is_listed_with_root_arn(fake):
    devices = member_client(fake, "iam", "444444444444").list_virtual_mfa_devices(AssignmentStatus="Assigned")[
        "VirtualMFADevices"
    ]
    assert len(devices) == 1
    assert devices[0]["User"]["Arn"] == "arn:aws:iam::444444444444:root"
    assert devices[0]["SerialNumber"] == "arn:aws:iam::444444444444:mfa/root-account-mfa-device"

    hardware = member_client(fake, "iam", "555555555555")
    assert hardware.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"] == []
    assert hardware.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 1


def test_iam_user_virtual_mfa_is_not_root(fake, member):
    iam = member_client(fake, "iam", member)
    iam.create_user(UserName="root-account-mfa-device")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="root-account-mfa-device")["VirtualMFADevice"][
        "SerialNumber"
    ]
    iam.enable_mfa_device(
        UserName="root-account-mfa-device",
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    fake.root(member).mfa_devices.append(FakeMfaDevice("virtual"))
    devices = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    arns = sorted(device["User"]["Arn"] for device in devices)
    assert arns == [f"arn:aws:iam::{member}:root", f"arn:aws:iam::{member}:user/root-account-mfa-device"]


# ---------------------------------------------------------------- AssumeRoot


def test_assume_root_session_reads_root_credentials(fake):
    credentials = assume_root(fake, "666666666666", DurationSeconds=900)
    assert credentials["Expiration"] > datetime.now(timezone.utc)
    iam = client(fake, "iam", credentials)
    assert iam.get_login_profile()["LoginProfile"]["CreateDate"] < datetime.now(timezone.utc)
    serials = sorted(d["SerialNumber"] for d in iam.list_mfa_devices()["MFADevices"])
    assert serials[0] == "arn:aws:iam::666666666666:mfa/root-account-mfa-device"
    assert serials[1].startswith("arn:aws:iam::666666666666:u2f/root-account-mfa-device/")
    assert iam.list_access_keys()["AccessKeyMetadata"] == []
    assert iam.get_user()["User"]["Arn"] == "arn:aws:iam::666666666666:root"
    assert iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 1
    identity = client(fake, "sts", credentials).get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == ("666666666666", "arn:aws:iam::666666666666:root")

    payments = client(fake, "iam", assume_root(fake, "333333333333"))
    [key] = payments.list_access_keys()["AccessKeyMetadata"]
    assert key["Status"] == "Active"
    last_used = payments.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert (last_used["ServiceName"], last_used["Region"]) == ("s3", "us-east-1")
    assert payments.list_mfa_devices()["MFADevices"] == []

    sandbox = client(fake, "iam", assume_root(fake, "555555555555"))
    [cert] = sandbox.list_signing_certificates()["Certificates"]
    assert cert["Status"] == "Active"
    [device] = sandbox.list_mfa_devices()["MFADevices"]
    assert device["SerialNumber"].startswith("GAHT") and len(device["SerialNumber"]) == 12


def test_assume_root_session_without_password_and_its_denials(fake):
    iam = client(fake, "iam", assume_root(fake, "222222222222"))
    with pytest.raises(ClientError) as excinfo:
        iam.get_login_profile()
    assert error_of(excinfo) == ("NoSuchEntity", 404)
    for call in (
        lambda: iam.list_virtual_mfa_devices(),
        lambda: iam.list_users(),
        lambda: iam.list_mfa_devices(UserName="someone"),
        lambda: iam.generate_credential_report(),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as excinfo:
        client(
            fake,
            "iam",
            assume_root(fake, "222222222222", policy=("arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy")),
        ).list_access_keys()
    assert error_of(excinfo) == ("AccessDenied", 403)


def test_assume_root_works_where_assume_role_is_denied(fake):
    iam = client(fake, "iam", assume_root(fake, "999999999999"))
    assert iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 1


def test_assume_root_rules(fake, member):
    with pytest.raises(ClientError) as excinfo:
        assume_root(fake, member, DurationSeconds=3600)
    assert error_of(excinfo) == ("ValidationError", 400)
    with pytest.raises(ClientError) as excinfo:
        assume_root(fake, member, policy="arn:aws:iam::aws:policy/AdministratorAccess")
    assert error_of(excinfo) == ("ValidationError", 400)
    with pytest.raises(ClientError) as excinfo:  # only the management account may call it
        client(fake, "sts", assume_role(fake, member)).assume_root(
            TargetPrincipal="333333333333", TaskPolicyArn={"arn": AUDIT}
        )
    assert error_of(excinfo) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as excinfo:  # not a member of the organization
        assume_root(fake, "300000000003")
    assert error_of(excinfo) == ("AccessDenied", 403)
    fake.set_organization_features(False, False)
    try:
        with pytest.raises(ClientError) as excinfo:
            assume_root(fake, member)
        assert error_of(excinfo) == ("AccessDenied", 403)
        fake.set_organization_features(False, True)
        assert assume_root(fake, member)["AccessKeyId"].startswith("ASIA")
    finally:
        fake.set_organization_features(True, True)
    fake.fail(member, "AssumeRoot", times=1)
    with pytest.raises(ClientError) as excinfo:
        assume_root(fake, member)
    assert error_of(excinfo) == ("AccessDenied", 403)
    assert assume_root(fake, member)["SessionToken"]


# ---------------------------------------------------------------- organization features


def test_list_organizations_features(fake, member):
    iam = client(fake, "iam")
    answer = iam.list_organizations_features()
    assert sorted(answer["EnabledFeatures"]) == ["RootCredentialsManagement", "RootSessions"]
    assert answer["OrganizationId"].startswith("o-")
    with pytest.raises(ClientError) as excinfo:
        member_client(fake, "iam", member).list_organizations_features()
    assert error_of(excinfo) == ("AccountNotManagementOrDelegatedAdministratorException", 400)
    fake.set_organization_features(False, False)
    try:
        assert iam.list_organizations_features()["EnabledFeatures"] == []
    finally:
        fake.set_organization_features(True, True)


# ---------------------------------------------------------------- CloudTrail


def lookup_all(cloudtrail, **kwargs):
    pages = list(cloudtrail.get_paginator("lookup_events").paginate(**kwargs))
    return pages, [event for page in pages for event in page["Events"]]


def test_lookup_events_pages_newest_first(fake, member):
    base = NOW - timedelta(days=2)
    for minute in range(120):
        fake.add_console_login(member, time=base + timedelta(minutes=minute))
    fake.add_raw_cloudtrail_event(member, time=NOW, cloudtrail_event="{}", event_name="GetCallerIdentity")
    cloudtrail = member_client(fake, "cloudtrail", member)
    pages, events = lookup_all(
        cloudtrail, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}]
    )
    assert [len(page["Events"]) for page in pages] == [50, 50, 20]
    assert "NextToken" not in pages[-1]
    times = [event["EventTime"] for event in events]
    assert times == sorted(times, reverse=True)
    assert len({event["EventId"] for event in events}) == 120
    assert times[0] == base + timedelta(minutes=119)

    _, window = lookup_all(
        cloudtrail,
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
        StartTime=base + timedelta(minutes=10),
        EndTime=base + timedelta(minutes=19, seconds=30),
    )
    assert len(window) == 10
    assert len(cloudtrail.lookup_events(MaxResults=5)["Events"]) == 5
    _, everything = lookup_all(cloudtrail)
    assert len(everything) == 121

    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(StartTime=NOW, EndTime=NOW - timedelta(hours=1))
    assert error_of(excinfo)[0] == "InvalidTimeRangeException"
    assert member_client(fake, "cloudtrail", member, region="eu-west-1").lookup_events()["Events"] == []


def test_lookup_events_carry_faithful_console_login_records(fake):
    response = member_client(fake, "cloudtrail", "666666666666").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
        StartTime=NOW - timedelta(hours=1),
    )
    events = response["Events"]
    assert [event["Username"] for event in events] == ["data-engineer", "root", "root"]
    records = [json.loads(event["CloudTrailEvent"]) for event in events]
    user, success, failure = records
    assert user["userIdentity"]["type"] == "IAMUser"
    assert success["userIdentity"] == {
        "type": "Root",
        "principalId": "666666666666",
        "arn": "arn:aws:iam::666666666666:root",
        "accountId": "666666666666",
        "accessKeyId": "",
    }
    assert success["responseElements"] == {"ConsoleLogin": "Success"}
    assert success["additionalEventData"]["MFAUsed"] == "Yes"
    assert success["sourceIPAddress"] == "203.0.113.10"
    assert success["eventID"] == events[1]["EventId"]
    assert success["eventTime"] == (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (success["eventSource"], success["eventType"], success["recipientAccountId"]) == (
        "signin.amazonaws.com",
        "AwsConsoleSignIn",
        "666666666666",
    )
    assert failure["responseElements"] == {"ConsoleLogin": "Failure"}
    assert failure["errorMessage"] == "Failed authentication"
    assert (failure["additionalEventData"]["MFAUsed"], failure["sourceIPAddress"]) == ("No", "198.51.100.7")
    assert "errorMessage" not in success


def test_malformed_cloudtrail_event_is_returned_verbatim(fake, member):
    fake.add_raw_cloudtrail_event(member, time=NOW, cloudtrail_event='{"eventName": "Console')
    [event] = member_client(fake, "cloudtrail", member).lookup_events()["Events"]
    assert event["CloudTrailEvent"] == '{"eventName": "Console'


# ---------------------------------------------------------------- injected failures and calls


def test_injected_failures_surface_as_client_errors(fake, member):
    iam = member_client(fake, "iam", member)
    fake.fail(member, "GetAccountSummary", times=1)
    with pytest.raises(ClientError) as excinfo:
        iam.get_account_summary()
    assert error_of(excinfo) == ("AccessDenied", 403)
    assert iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 0

    fake.fail(member, "GenerateCredentialReport", "LimitExceeded", "Rate exceeded", status=409)
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            iam.generate_credential_report()
        assert error_of(excinfo) == ("LimitExceeded", 409)

    cloudtrail = member_client(fake, "cloudtrail", member)
    fake.fail(member, "LookupEvents", "ThrottlingException", "Rate exceeded", status=400, times=1)
    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events()
    assert error_of(excinfo) == ("ThrottlingException", 400)
    assert cloudtrail.lookup_events()["Events"] == []

    fake.fail(MGMT, "ListAccounts", times=1)
    with pytest.raises(ClientError) as excinfo:
        client(fake, "organizations").list_accounts()
    assert error_of(excinfo) == ("AccessDeniedException", 403)

    fake.fail(member, "AssumeRole", times=1)
    with pytest.raises(ClientError) as excinfo:
        assume_role(fake, member)
    assert error_of(excinfo) == ("AccessDenied", 403)
    assert assume_role(fake, member)["AccessKeyId"]

    fake.clear_failures(member)
    iam.generate_credential_report()


def test_calls_are_recorded_per_account_and_action(fake, member):
    cloudtrail = member_client(fake, "cloudtrail", member)
    before = len(fake.calls_to("LookupEvents", member))
    for _ in range(3):
        cloudtrail.lookup_events()
    calls = fake.calls_to("LookupEvents", member)[before:]
    assert len(calls) == 3
    assert {(c.service, c.region, c.account_id) for c in calls} == {("cloudtrail", "us-east-1", member)}
    assert calls[0].time <= calls[1].time <= calls[2].time
    assert fake.calls_to("AssumeRole")[-1].account_id == MGMT


def test_calls_record_the_parameters_as_sent(fake, member):
    fake.clear_calls()
    sts = client(fake, "sts")
    credentials = sts.assume_role(
        RoleArn=ROLE.format(member), RoleSessionName="audit-7", ExternalId="ext-91c2", DurationSeconds=900
    )["Credentials"]
    [call] = fake.calls_to("AssumeRole")
    assert (call.account_id, call.target_account, call.root_session) == (MGMT, member, False)
    assert call.params["RoleArn"] == ROLE.format(member)
    assert call.params["RoleSessionName"] == "audit-7"
    assert call.params["ExternalId"] == "ext-91c2"
    assert call.params["DurationSeconds"] == "900"
    assert call.params["Action"] == "AssumeRole"
    with pytest.raises(TypeError):
        call.params["ExternalId"] = "changed"  # a record, not a handle on the request

    assume_root(fake, member, DurationSeconds=600)
    [root_call] = fake.calls_to("AssumeRoot")
    assert root_call.target_account == member
    assert root_call.params["TargetPrincipal"] == member
    assert root_call.params["TaskPolicyArn.arn"] == AUDIT
    assert root_call.params["DurationSeconds"] == "600"

    # JSON services: the body's top-level keys, non-strings as compact JSON
    cloudtrail = client(fake, "cloudtrail", credentials)
    cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}], MaxResults=5
    )
    [lookup] = fake.calls_to("LookupEvents", member)
    assert lookup.target_account is None
    assert lookup.params["MaxResults"] == "5"
    assert json.loads(lookup.params["LookupAttributes"]) == [
        {"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}
    ]
    client(fake, "organizations").list_accounts(MaxResults=2)
    assert fake.calls_to("ListAccounts")[-1].params == {"MaxResults": "2"}

    # never the credentials the request was signed with
    for recorded in fake.calls:
        for key, value in recorded.params.items():
            assert "authorization" not in key.lower() and "credential" not in key.lower()
            assert "testing" not in value and credentials["AccessKeyId"] not in value
            assert credentials["SecretAccessKey"] not in value
            assert credentials["SessionToken"] not in value


def test_presigned_signature_and_credentials_are_not_recorded(fake):
    url = client(fake, "sts").generate_presigned_url("get_caller_identity", ExpiresIn=60)
    assert "X-Amz-Signature=" in url and "X-Amz-Credential=" in url
    fake.clear_calls()
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
    [call] = fake.calls_to("GetCallerIdentity")
    assert dict(call.params) == {"Action": "GetCallerIdentity", "Version": "2011-06-15"}


def timed(call):
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_latency_delays_matching_requests_only(fake, member):
    iam = member_client(fake, "iam", member)
    management = client(fake, "iam")
    try:
        fake.set_latency(0.3, account_id=member)
        assert timed(iam.get_account_summary) >= 0.3
        assert timed(management.get_account_summary) < 0.3
        assert timed(lambda: assume_role(fake, member)) >= 0.3  # the role's account, as fail()
        assert timed(lambda: assume_role(fake, "333333333333")) < 0.3

        fake.set_latency(0, action="GetAccountSummary", account_id=member)  # the most specific wins
        assert timed(iam.get_account_summary) < 0.3
        assert timed(iam.list_users) >= 0.3

        fake.clear_latency()
        fake.set_latency(0.3, action="AssumeRoot")
        assert timed(lambda: assume_root(fake, member)) >= 0.3
        assert timed(management.get_account_summary) < 0.3
    finally:
        fake.clear_latency()
    assert timed(lambda: assume_root(fake, member)) < 0.3
    assert timed(iam.get_account_summary) < 0.3
    with pytest.raises(ValueError):
        fake.set_latency(-1)


def test_latency_lets_concurrent_requests_overlap(fake, member):
    clients = [member_client(fake, "iam", member) for _ in range(4)]
    before = len(fake.calls_to("GetAccountSummary", member))
    start = threading.Barrier(len(clients))
    durations = [0.0] * len(clients)

    def call(index):
        start.wait()
        durations[index] = timed(clients[index].get_account_summary)

    fake.set_latency(0.3, account_id=member)
    try:
        threads = [threading.Thread(target=call, args=(index,)) for index in range(len(clients))]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        wall = time.perf_counter() - started
    finally:
        fake.clear_latency()
    assert min(durations) >= 0.3
    assert wall < 0.9, f"4 requests of 0.3 s took {wall:.2f} s: they did not overlap"
    assert len(fake.calls_to("GetAccountSummary", member)) - before == 4


def test_env_lets_a_subprocess_reach_the_fake(fake):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(fake.env())
    code = (
        "import boto3; print(boto3.client('sts').get_caller_identity()['Account'],"
        " len(boto3.client('organizations').list_accounts()['Accounts']))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    assert output[0] == MGMT
    assert int(output[1]) >= 11


def test_only_one_fake_runs_per_process(fake):
    with pytest.raises(RuntimeError):
        FakeAws().start()
    assert client(fake, "sts").get_caller_identity()["Account"] == MGMT
