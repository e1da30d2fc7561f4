"""Sessions: the home account directly, members through sts:AssumeRole with the configured role
name, session name and ExternalId, and credentials reused across runs.

``FakeAws.calls`` records the action and the calling account but not the request parameters, so
the role ARN and ExternalId are read from moto's own record of the sessions it handed out.
"""

from __future__ import annotations

from moto.sts.models import sts_backends

from exporter.demo.fake_aws import FakeAccessKey, FakeRoot
from exporter.state import Account
from tests.integration.conftest import MGMT, Harness, new_account, only


def sessions_into(account_id: str) -> list:
    """The sessions moto issued for roles in ``account_id``, oldest first."""
    return list(sts_backends[account_id]["aws"].assumed_roles)


def test_home_account_is_read_without_assume_role(fake):
    fake.clear_calls()
    before = len(sessions_into(MGMT))
    harness = Harness(accounts=only(MGMT))

    assert harness.run("discovery", "account_summary", "mfa_devices")

    assert fake.calls_to("AssumeRole") == []
    assert len(sessions_into(MGMT)) == before
    assert [call.account_id for call in fake.calls_to("GetAccountSummary")] == [MGMT]
    assert harness.status(MGMT, "account_summary").success is True


def test_member_is_read_through_the_configured_role_and_external_id(fake):
    member = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey()]))
    fake.clear_calls()
    harness = Harness(accounts=only(MGMT, member, role_name="AuditReader", external_id="ext-4f9a-2207",
                                    session_name="root-exporter-it"))

    assert harness.run("discovery", "account_summary")

    issued = sessions_into(member)
    assert len(issued) == 1
    assert issued[0].role_arn == f"arn:aws:iam::{member}:role/AuditReader"
    assert issued[0].external_id == "ext-4f9a-2207"
    assert issued[0].session_name == "root-exporter-it"
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

    issued = sessions_into(member)
    assert [session.role_arn for session in issued] == [f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole"]
    assert issued[0].external_id is None


def test_credentials_are_reused_across_sources_and_runs(fake):
    first, second = new_account(fake), new_account(fake)
    harness = Harness(accounts=only(first, second))
    fake.clear_calls()

    assert harness.run("discovery", "account_summary", "mfa_devices", "account_summary", "mfa_devices")

    assert len(fake.calls_to("AssumeRole")) == 2  # one per member, not one per call or run
    assert len(sessions_into(first)) == 1 and len(sessions_into(second)) == 1
    assert len([c for c in fake.calls_to("GetAccountSummary") if c.account_id in (first, second)]) == 4


def test_static_account_with_its_own_role_arn(fake):
    member = new_account(fake)
    role_arn = f"arn:aws:iam::{member}:role/security/RootReader"
    harness = Harness(accounts={"discovery": "static", "static": [{"id": member, "name": "x", "role_arn": role_arn}]})

    assert harness.run("discovery", "account_summary")

    assert [session.role_arn for session in sessions_into(member)] == [role_arn]


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
