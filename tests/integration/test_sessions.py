"""Sessions: the home account directly, members through sts:AssumeRole with the configured role
name, session name and ExternalId, and credentials reused across runs.

The role ARN, session name and ExternalId are read from the AssumeRole requests as the fake
received them (``FakeCall.params``).
"""

from __future__ import annotations

import threading
import time
import types

import botocore.endpoint
import pytest

from exporter.aws.sessions import NoAccountSelected
from fakeaws import FakeAccessKey, FakeCall, FakeRoot
from exporter.state import Account
from tests.integration.conftest import MGMT, Harness, new_account, only


def assume_role_into(fake, account_id: str) -> list[FakeCall]:
    """The AssumeRole requests for roles in ``account_id``, oldest first."""
    return [call for call in fake.calls_to("AssumeRole") if call.target_account == account_id]


def test_home_account_is_read_without_assume_role(fake):
    fake.clear_calls()
    harness = Harness(accounts=only(MGMT))

    assert harness.run("discovery", "account_summary", "mfa_devices")

    assert fake.calls_to("AssumeRole") == []
    assert assume_role_into(fake, MGMT) == []
    assert [call.account_id for call in fake.calls_to("GetAccountSummary")] == [MGMT]
    assert harness.status(MGMT, "account_summary").success is True


def test_member_is_read_through_the_configured_role_and_external_id(fake):
    member = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey()]))
    fake.clear_calls()
    harness = Harness(
        accounts=only(
            MGMT, member, role_name="AuditReader", external_id="ext-4f9a-2207", session_name="root-exporter-it"
        )
    )

    assert harness.run("discovery", "account_summary")

    issued = assume_role_into(fake, member)
    assert len(issued) == 1
    assert issued == fake.calls_to("AssumeRole")  # and no session into any other account
    assert issued[0].account_id == MGMT  # asked for with the exporter's own credentials
    assert issued[0].params["RoleArn"] == f"arn:aws:iam::{member}:role/AuditReader"
    assert issued[0].params["ExternalId"] == "ext-4f9a-2207"
    assert issued[0].params["RoleSessionName"] == "root-exporter-it"
    # The summary really came from the member: its own root key, read as the member.
    assert harness.value(member, "account_summary").access_keys_present == 1
    assert sorted(call.account_id for call in fake.calls_to("GetAccountSummary")) == sorted([MGMT, member])
    with harness.access.acting_for(Account(id=member, name="")):
        identity = harness.access.client(Account(id=member, name=""), "sts").get_caller_identity()
    assert identity["Account"] == member
    assert identity["Arn"].endswith(":assumed-role/AuditReader/root-exporter-it")


def test_no_external_id_is_sent_when_none_is_configured(fake):
    member = new_account(fake)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "account_summary")

    issued = assume_role_into(fake, member)
    assert [call.params["RoleArn"] for call in issued] == [f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole"]
    assert "ExternalId" not in issued[0].params


def test_credentials_are_reused_across_sources_and_runs(fake):
    first, second = new_account(fake), new_account(fake)
    harness = Harness(accounts=only(first, second))
    fake.clear_calls()

    assert harness.run("discovery", "account_summary", "mfa_devices", "account_summary", "mfa_devices")

    assert len(fake.calls_to("AssumeRole")) == 2  # one per member, not one per call or run
    assert len(assume_role_into(fake, first)) == 1 and len(assume_role_into(fake, second)) == 1
    assert len([c for c in fake.calls_to("GetAccountSummary") if c.account_id in (first, second)]) == 4


def test_static_account_with_its_own_role_arn(fake):
    member = new_account(fake)
    role_arn = f"arn:aws:iam::{member}:role/security/RootReader"
    harness = Harness(accounts={"discovery": "static", "static": [{"id": member, "name": "x", "role_arn": role_arn}]})

    assert harness.run("discovery", "account_summary")

    assert [call.params["RoleArn"] for call in assume_role_into(fake, member)] == [role_arn]


def test_max_attempts_bounds_the_attempts_of_one_call(fake):
    """``aws.max_attempts`` is "up to N attempts per call" (config.describe): the first try counts."""
    member = new_account(fake)
    fake.fail(member, "GetAccountSummary", "Throttling", status=400)
    harness = Harness(accounts=only(member), aws={"max_attempts": 1})
    harness.run("discovery")
    fake.clear_calls()

    assert harness.run("account_summary") is False

    assert "Throttling" in harness.status(member, "account_summary").error
    assert len(fake.calls_to("GetAccountSummary", member)) == 1


def test_one_client_per_service_signs_each_member_with_its_own_credentials(fake):
    first, second = new_account(fake), new_account(fake)
    harness = Harness(accounts=only(first, second))
    a, b = Account(id=first, name=""), Account(id=second, name="")

    with harness.access.acting_for(a):
        client_a = harness.access.client(a, "sts")
        seen_a = client_a.get_caller_identity()["Account"]
    with harness.access.acting_for(b):
        client_b = harness.access.client(b, "sts")
        seen_b = client_b.get_caller_identity()["Account"]

    assert client_a is client_b  # one client, not one per account
    assert (seen_a, seen_b) == (first, second)


def test_a_member_client_cannot_be_used_outside_acting_for_its_account(fake):
    first, second = new_account(fake), new_account(fake)
    harness = Harness(accounts=only(first, second))
    a, b = Account(id=first, name=""), Account(id=second, name="")
    with harness.access.acting_for(a):
        client = harness.access.client(a, "sts")
        with pytest.raises(NoAccountSelected):
            harness.access.client(b, "sts")  # asked for another account than the one acted for
    with pytest.raises(NoAccountSelected):
        client.get_caller_identity()  # no account selected: no request is signed
    with pytest.raises(NoAccountSelected):
        harness.access.client(a, "sts")


def test_threads_acting_for_different_members_at_once_each_sign_as_their_own(fake):
    members = [new_account(fake) for _ in range(6)]
    harness = Harness(accounts=only(*members))
    seen: dict[str, list[str]] = {}

    def work(account_id: str) -> None:
        account = Account(id=account_id, name="")
        with harness.access.acting_for(account):
            client = harness.access.client(account, "sts")
            seen[account_id] = [client.get_caller_identity()["Account"] for _ in range(5)]

    threads = [threading.Thread(target=work, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == {m: [m] * 5 for m in members}


def test_a_throttled_member_does_not_use_up_the_retries_of_the_others(fake, monkeypatch):
    """botocore's standard mode keeps one retry quota per client (500 tokens, 5 per throttled
    retry); the member clients are shared, so they retry without it. (botocore's backoff sleeps
    are skipped here to keep the test short; the retries themselves are real requests.)"""
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=lambda seconds: None, time=time.time))
    throttled, healthy = new_account(fake), new_account(fake)
    fake.fail(throttled, "GetAccountSummary", "Throttling", status=400)
    harness = Harness(accounts=only(throttled, healthy), aws={"max_attempts": 11})
    harness.run("discovery")
    fake.clear_calls()
    for _ in range(12):  # 12 x 10 throttled retries = 600 tokens, more than a whole quota
        harness.run("account_summary")
    assert len(fake.calls_to("GetAccountSummary", throttled)) == 12 * 11
    fake.fail(healthy, "GetAccountSummary", "Throttling", status=400, times=1)
    fake.clear_calls()

    harness.run("account_summary")

    assert harness.status(healthy, "account_summary").success is True  # throttled once, retried, read
    assert len(fake.calls_to("GetAccountSummary", healthy)) == 2
