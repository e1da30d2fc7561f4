"""Sessions: the home account directly, members through sts:AssumeRole with the configured role
name, session name and ExternalId, and credentials reused across runs.

The role ARN, session name and ExternalId are read from the AssumeRole requests as the fake
received them (``FakeCall.params``).
"""

from __future__ import annotations

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
    harness = Harness(accounts=only(MGMT, member, role_name="AuditReader", external_id="ext-4f9a-2207",
                                    session_name="root-exporter-it"))

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
    identity = harness.access.client(Account(id=member, name=""), "sts").get_caller_identity()
    assert identity["Account"] == member
    assert identity["Arn"].endswith(":assumed-role/AuditReader/root-exporter-it")


def test_no_external_id_is_sent_when_none_is_configured(fake):
    member = new_account(fake)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "account_summary")

    issued = assume_role_into(fake, member)
    assert [call.params["RoleArn"] for call in issued] == [
        f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
    ]
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
