"""The root_policies source against the fake organization over HTTP: SCPs attached at the root,
an OU, a nested OU and the account; an account moved between OUs; SCPs disabled; a denied
ListPolicies; and what /metrics shows for each account."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exporter.collector import exposition
from exporter.sources.root_policies import describe
from tests.integration.conftest import MGMT, Harness, new_account, running_fake
from tests.support.exposition import parse

SCP_FIXTURES = Path(__file__).parent.parent / "fixtures" / "scp"


def scp(name: str) -> str:
    return (SCP_FIXTURES / f"{name}.json").read_text()


def metric(harness: Harness, name: str, account_id: str):
    """The value of ``name`` for ``account_id`` in the exporter's /metrics text, None when absent."""
    body, _ = exposition(harness.snapshot, harness.config.collection.intervals)
    found = list(parse(body.decode()).series(name, account_id=account_id).values())
    assert len(found) <= 1
    return found[0] if found else None


@pytest.fixture(scope="module")
def fake():
    # Its own organization: these tests attach policies at the root, which would reach the
    # accounts of other test modules.
    with running_fake() as running:
        running.set_scps_enabled(True)
        yield running


@pytest.fixture(scope="module")
def org(fake):
    """Accounts under every kind of attachment, collected once."""
    accounts = {
        "plain": new_account(fake, ou="Plain"),
        "ou": new_account(fake, ou="Guarded"),
        "nested": new_account(fake, ou="Parent/Child"),
        "account": new_account(fake, ou="Plain"),
        "partial": new_account(fake, ou="Partial"),
        "not_action": new_account(fake, ou="Partial/S3"),
        "conditional": new_account(fake, ou="Conditional"),
        "allow_list": new_account(fake, ou="AllowList"),
    }
    fake.create_scp("DenyLeaveOrganization", scp("deny-leave-organization"), [fake.root_id])
    fake.create_scp("DenyRootGuarded", scp("deny-root-all"), [fake.create_ou("Guarded")])
    fake.create_scp("DenyRootParent", scp("deny-root-except-assumed-root"), [fake.create_ou("Parent")])
    fake.create_scp("DenyRootAccount", scp("deny-root-stringlike-list"), [accounts["account"]])
    fake.create_scp("DenyRootAccessKeys", scp("deny-root-access-keys"), [fake.create_ou("Partial")])
    fake.create_scp("DenyRootButBucketPolicy", scp("deny-root-except-bucket-policy"), [fake.create_ou("Partial/S3")])
    fake.create_scp("DenyRootOutsideOffice", scp("deny-root-from-outside-network"), [fake.create_ou("Conditional")])
    fake.create_scp("AllowListOnly", scp("allow-list"), [fake.create_ou("AllowList")])
    harness = Harness()
    assert harness.run("discovery", "root_policies")
    return accounts, harness


@pytest.mark.parametrize(
    "key, denies, actions",
    [
        ("plain", 0.0, 1.0),  # only DenyLeaveOrganization at the root applies to root
        ("ou", 1.0, math.inf),
        ("nested", 1.0, math.inf),  # attached at the parent OU, exempting AssumeRoot sessions
        ("account", 1.0, math.inf),
        ("partial", 0.0, 2.0),  # iam:CreateAccessKey, plus LeaveOrganization from the root
        ("not_action", 0.0, math.inf),  # every action but three
        ("conditional", 0.0, 1.0),  # the root deny holds only outside a network: not counted
        ("allow_list", 0.0, 1.0),
    ],
)
def test_each_account_shows_what_its_scps_deny_root(org, key, denies, actions):
    accounts, harness = org
    account_id = accounts[key]
    assert metric(harness, "root_scp_denies_root", account_id) == denies
    assert metric(harness, "root_scp_denied_root_actions", account_id) == actions
    assert harness.status(account_id, "root_policies").success is True


def test_management_account_has_no_value(org):
    _, harness = org
    assert metric(harness, "root_scp_denies_root", MGMT) is None
    assert "root_policies" not in harness.state(MGMT).sources


def test_describe_names_the_policies_and_where_they_are_attached(org):
    accounts, harness = org
    rows = describe(harness.state(accounts["nested"]))
    names = {(name, target, kind) for name, _id, target, kind in rows}
    assert names == {("DenyLeaveOrganization", "Root", "ROOT"), ("DenyRootParent", "Parent", "ORGANIZATIONAL_UNIT")}
    assert all(policy_id.startswith("p-") for _, policy_id, _, _ in rows)
    account_rows = describe(harness.state(accounts["account"]))
    assert ("DenyRootAccount", "ACCOUNT") in {(name, kind) for name, _, _, kind in account_rows}
    assert describe(harness.state(MGMT)) == []


def test_cost_grows_with_policies_not_accounts(fake, org):
    _, harness = org
    fake.clear_calls()
    assert harness.run("root_policies")
    policies = len(fake.calls_to("DescribePolicy"))
    assert policies >= 9  # FullAWSAccess and the eight above
    assert len(fake.calls_to("ListTargetsForPolicy")) == policies
    assert len(fake.calls_to("ListPolicies")) == 1
    assert len(fake.calls_to("ListRoots")) == 1


def test_account_moved_to_another_ou_changes_value_at_next_run(fake):
    moving = new_account(fake, ou="MoveFrom")
    fake.create_scp("DenyRootMoveTo", scp("deny-root-all"), [fake.create_ou("MoveTo")])
    harness = Harness(accounts={"include": [moving]})
    assert harness.run("discovery", "root_policies")
    assert metric(harness, "root_scp_denies_root", moving) == 0.0

    fake.move_account(moving, "MoveTo")
    assert harness.run("discovery", "root_policies")
    assert metric(harness, "root_scp_denies_root", moving) == 1.0

    fake.move_account(moving, "MoveFrom")
    assert harness.run("discovery", "root_policies")
    assert metric(harness, "root_scp_denies_root", moving) == 0.0


def test_detaching_the_policy_uncovers_the_account(fake):
    account_id = new_account(fake, ou="Detach")
    policy = fake.create_scp("DenyRootDetach", scp("deny-root-all"), [account_id])
    harness = Harness(accounts={"include": [account_id]})
    assert harness.run("discovery", "root_policies")
    assert metric(harness, "root_scp_denies_root", account_id) == 1.0
    fake.detach_scp(policy, account_id)
    assert harness.run("discovery", "root_policies")
    assert metric(harness, "root_scp_denies_root", account_id) == 0.0


def test_denied_list_policies_fails_the_source_visibly_and_nothing_else(fake):
    account_id = new_account(fake, ou="Guarded")
    harness = Harness(accounts={"include": [account_id]})
    assert harness.run("discovery", "account_summary", "root_policies")
    fake.fail(MGMT, "ListPolicies")
    try:
        assert not harness.run("root_policies")
        assert harness.run("account_summary")
    finally:
        fake.clear_failures(MGMT)
    status = harness.status(account_id, "root_policies")
    assert status.success is False
    assert "AccessDenied" in status.error and "ListPolicies" in status.error
    body = parse(exposition(harness.snapshot, harness.config.collection.intervals)[0].decode())
    success = {
        dict(labels)["source"]: value
        for labels, value in body.series("root_exporter_collection_success", account_id=account_id).items()
    }
    assert success == {"account_summary": 1.0, "root_policies": 0.0}
    # the last good value stays, stale
    assert metric(harness, "root_scp_denies_root", account_id) == 1.0


def test_unreadable_policy_counts_as_denying_nothing_and_spares_the_others(fake):
    account_id = new_account(fake, ou="Garbled")
    ou = fake.create_ou("Garbled")
    fake.create_scp("Garbled", "{not json", [ou])
    fake.create_scp("DenyRootGarbledOu", scp("deny-root-all"), [ou])
    harness = Harness(accounts={"include": [account_id]})
    assert harness.run("discovery", "root_policies")
    assert metric(harness, "root_scp_denies_root", account_id) == 1.0


def test_scps_disabled_leave_the_metrics_out(fake):
    account_id = new_account(fake, ou="Guarded")
    harness = Harness(accounts={"include": [account_id]})
    fake.set_scps_enabled(False)
    try:
        assert harness.run("discovery", "root_policies")
        assert harness.status(account_id, "root_policies").success is True
        assert metric(harness, "root_scp_denies_root", account_id) is None
        assert metric(harness, "root_scp_denied_root_actions", account_id) is None
        assert describe(harness.state(account_id)) == []
    finally:
        fake.set_scps_enabled(True)
    assert harness.run("root_policies")
    assert metric(harness, "root_scp_denies_root", account_id) == 1.0
