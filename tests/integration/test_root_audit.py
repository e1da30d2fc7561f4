"""Centralized root access: the root_audit source through sts:AssumeRoot (issue 3)."""

from __future__ import annotations

import pytest

from fakeaws import FakeAccessKey, FakeCertificate, FakeMfaDevice, FakeRoot
from tests.integration.conftest import MGMT, Harness, new_account, only

AUDIT_POLICY = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"


@pytest.fixture
def features(fake):
    """Sets the organization's features for one test and turns them off afterwards."""
    yield fake.set_organization_features
    fake.set_organization_features(False, False)
    fake.clear_failures()


def test_auto_with_root_credentials_management_audits_members_only(fake, features):
    features(root_credentials_management=True, root_sessions=False)
    first = new_account(fake, root=FakeRoot.with_password("virtual"))
    second = new_account(fake, root=FakeRoot.without_credentials())
    harness = Harness(accounts=only(MGMT, first, second))
    fake.clear_calls()

    assert harness.run("discovery", "root_audit")

    assert harness.snapshot.organization_features.root_credentials_management is True
    assert harness.snapshot.organization_features.root_sessions is False
    assert harness.status(first, "root_audit").success is True
    assert harness.status(second, "root_audit").success is True
    assert "root_audit" not in harness.state(MGMT).sources
    assume_root = fake.calls_to("AssumeRoot")
    assert len(assume_root) == 2
    assert sorted(call.params["TargetPrincipal"] for call in assume_root) == sorted([first, second])
    for call in assume_root:
        assert call.account_id == MGMT  # from the management account, for the member it names
        assert call.target_account == call.params["TargetPrincipal"]
        assert call.params["TaskPolicyArn.arn"] == AUDIT_POLICY  # the audit task policy, nothing broader
        assert 0 < int(call.params["DurationSeconds"]) <= 900
    audited = {call.account_id for call in fake.calls if call.root_session}
    assert audited == {first, second}


def test_auto_without_the_feature_does_not_audit(fake, features):
    member = new_account(fake, root=FakeRoot.with_password("virtual"))
    harness = Harness(accounts=only(MGMT, member))
    fake.clear_calls()

    assert harness.run("discovery", "root_audit")

    assert harness.snapshot.organization_features.root_credentials_management is False
    assert "root_audit" not in harness.state(member).sources
    assert fake.calls_to("AssumeRoot") == []


def test_mode_on_without_the_feature_runs_and_reports_the_denial(fake, features):
    member = new_account(fake, root=FakeRoot.with_password("virtual"))
    harness = Harness(accounts=only(MGMT, member, root_audit="on"))

    assert harness.run("discovery", "root_audit") is False

    status = harness.status(member, "root_audit")
    assert status.success is False
    assert "AccessDenied" in status.error
    assert "root_audit" not in harness.state(MGMT).sources


def test_mode_off_never_audits(fake, features):
    features(root_credentials_management=True, root_sessions=True)
    member = new_account(fake, root=FakeRoot.with_password("virtual"))
    harness = Harness(accounts=only(member, root_audit="off"))
    fake.clear_calls()

    assert harness.run("discovery", "root_audit")

    assert "root_audit" not in harness.state(member).sources
    assert fake.calls_to("AssumeRoot") == []


def test_member_without_root_credentials_is_not_without_mfa(fake, features):
    features(root_credentials_management=True, root_sessions=False)
    member = new_account(fake, root=FakeRoot.without_credentials())
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "root_audit")

    audit = harness.value(member, "root_audit")
    assert (audit.password, audit.access_keys_active, audit.signing_certificates_active, audit.mfa_devices) == (
        False,
        (),
        (),
        (),
    )
    facts = harness.facts(member)
    assert facts.credentials_present is False
    assert facts.mfa_active is False
    assert facts.without_mfa is False
    assert facts.mfa_devices == {"virtual": 0, "fido": 0, "hardware": 0}


def test_audit_reads_password_keys_and_certificates(fake, features):
    features(root_credentials_management=True, root_sessions=False)
    member = new_account(
        fake,
        root=FakeRoot(
            password=True,
            access_keys=[FakeAccessKey(active=False), FakeAccessKey(active=True)],
            certificates=[FakeCertificate(active=True)],
        ),
    )
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "root_audit")

    audit = harness.value(member, "root_audit")
    assert audit.password is True
    assert sorted(audit.access_keys_active) == [False, True]
    assert audit.signing_certificates_active == (True,)
    facts = harness.facts(member)
    assert facts.has_active_key
    assert facts.credentials_present is True
    assert facts.without_mfa is True  # credentials and no MFA: a real finding


def test_mfa_devices_by_kind(fake, features):
    features(root_credentials_management=True, root_sessions=False)
    fido = new_account(fake, root=FakeRoot.with_password("fido"))
    virtual = new_account(fake, root=FakeRoot.with_password("virtual"))
    hardware = new_account(fake, root=FakeRoot.with_password("hardware"))
    harness = Harness(accounts=only(fido, virtual, hardware))

    assert harness.run("discovery", "root_audit")

    assert harness.facts(fido).mfa_devices == {"virtual": 0, "fido": 1, "hardware": 0}
    assert harness.facts(fido).mfa_hardware is True
    assert harness.facts(virtual).mfa_devices == {"virtual": 1, "fido": 0, "hardware": 0}
    assert harness.facts(virtual).mfa_hardware is False
    assert harness.facts(hardware).mfa_devices == {"virtual": 0, "fido": 0, "hardware": 1}
    assert harness.facts(hardware).mfa_hardware is True


def test_root_with_virtual_and_fido_stays_hardware_after_the_summary_runs_again(fake, features):
    """The summary runs every 5 minutes, the audit every 15: the device kinds must not be lost
    when the summary is the fresher source."""
    features(root_credentials_management=True, root_sessions=False)
    member = new_account(fake, root=FakeRoot.with_password("virtual", "fido"))
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "account_summary", "mfa_devices", "root_audit")
    assert harness.facts(member).mfa_hardware is True

    assert harness.run("account_summary")  # the next summary tick, before the next audit

    facts = harness.facts(member)
    assert facts.mfa_devices == {"virtual": 1, "fido": 1, "hardware": 0}
    assert facts.mfa_hardware is True


def test_assume_root_denied_for_one_member_while_the_others_succeed(fake, features):
    features(root_credentials_management=True, root_sessions=False)
    denied = new_account(fake, root=FakeRoot.with_password("fido"))
    fine = new_account(fake, root=FakeRoot.with_password("hardware"))
    fake.fail(denied, "AssumeRoot")
    harness = Harness(accounts=only(denied, fine))

    assert harness.run("discovery", "root_audit") is False

    status = harness.status(denied, "root_audit")
    assert status.success is False
    assert "AccessDenied" in status.error
    assert harness.status(fine, "root_audit").success is True
    assert harness.facts(fine).mfa_devices == {"virtual": 0, "fido": 0, "hardware": 1}


def test_root_audit_stands_in_for_the_member_role(fake, features):
    features(root_credentials_management=True, root_sessions=False)
    member = new_account(
        fake,
        root=FakeRoot(password=True, mfa_devices=[FakeMfaDevice("fido")], access_keys=[FakeAccessKey(active=True)]),
    )
    fake.fail(member, "AssumeRole")
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "account_summary", "credential_report", "mfa_devices", "root_audit") is False

    for source in ("account_summary", "credential_report", "mfa_devices"):
        assert harness.status(member, source).success is False
    assert harness.status(member, "root_audit").success is True
    facts = harness.facts(member)
    assert facts.password_enabled is True
    assert facts.mfa_active is True
    assert facts.mfa_hardware is True
    assert facts.access_keys[0].active is True
    assert facts.credentials_present is True
    assert facts.without_mfa is False


def test_audit_values_go_when_the_organization_turns_the_feature_off(fake, features):
    features(root_credentials_management=True, root_sessions=True)
    member = new_account(fake, root=FakeRoot.with_password("fido"))
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "root_audit")
    assert harness.facts(member).mfa_devices == {"virtual": 0, "fido": 1, "hardware": 0}

    features(root_credentials_management=False, root_sessions=False)
    assert harness.run("discovery", "root_audit")

    # No stale audit left to speak for the member: the device kinds are no longer known.
    assert "root_audit" not in harness.state(member).sources
    assert harness.facts(member).mfa_devices is None


def test_readme_counts_the_root_typed_events_one_audit_leaves_in_a_member(fake, features):
    """Every call of an AssumeRoot session is a root-typed event in the member's CloudTrail;
    README tells teams how many to expect per hour with the default interval."""
    import re
    from pathlib import Path

    from exporter.config import parse_config

    features(root_credentials_management=True, root_sessions=False)
    member = new_account(
        fake,
        root=FakeRoot(
            password=True,
            access_keys=[FakeAccessKey(), FakeAccessKey(active=False)],
            certificates=[FakeCertificate(), FakeCertificate()],
            mfa_devices=[FakeMfaDevice("virtual"), FakeMfaDevice("fido"), FakeMfaDevice("hardware")],
        ),
    )
    harness = Harness(accounts=only(member))
    assert harness.run("discovery")
    fake.clear_calls()

    assert harness.run("root_audit")

    in_member = [call.action for call in fake.calls if call.root_session and call.account_id == member]
    assert sorted(in_member) == ["GetLoginProfile", "ListAccessKeys", "ListMFADevices", "ListSigningCertificates"]
    interval = parse_config({}, "defaults").collection.intervals["root_audit"]
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    per_run = re.search(r"(\d+) root-typed events per member account and audit", readme)
    per_hour = re.search(r"(\d+) root-typed events per member account per hour", readme)
    assert per_run and int(per_run.group(1)) == len(in_member)
    assert per_hour and int(per_hour.group(1)) == len(in_member) * 3600 / interval


def test_where_the_audit_succeeds_it_stands_in_for_the_summary_and_the_mfa_listing(fake, features):
    features(root_credentials_management=True, root_sessions=False)
    audited = new_account(fake, root=FakeRoot.with_password("virtual", "fido"))
    denied = new_account(fake, root=FakeRoot.with_password("virtual"))
    fake.fail(denied, "AssumeRoot", "AccessDenied")
    # The summary is left to the audit only when the audit runs at least as often.
    harness = Harness(accounts=only(audited, denied), collection={"intervals": {"account_summary": "30m"}})
    assert harness.run("discovery", "account_summary", "mfa_devices")
    harness.run("root_audit")
    fake.clear_calls()

    harness.run("account_summary", "mfa_devices")

    assert fake.calls_to("GetAccountSummary", audited) == []
    assert fake.calls_to("ListVirtualMFADevices", audited) == []
    assert "account_summary" not in harness.state(audited).sources  # the audit's answer is the live one
    facts = harness.facts(audited)
    assert (facts.mfa_active, facts.mfa_hardware, facts.password_enabled) == (True, True, True)
    # Where the audit fails, the summary and the listing go on for that account.
    assert len(fake.calls_to("GetAccountSummary", denied)) == 1
    assert len(fake.calls_to("ListVirtualMFADevices", denied)) == 1


def test_with_the_default_intervals_the_summary_stays_live_beside_the_audit(fake, features):
    """The audit runs every 30m, the summary every 5m: the summary keeps running, so a key
    deleted is seen within 5 minutes; only the MFA listing is left to the audit."""
    features(root_credentials_management=True, root_sessions=False)
    audited = new_account(fake, root=FakeRoot.with_password("virtual"))
    harness = Harness(accounts=only(audited))
    assert harness.run("discovery", "account_summary", "mfa_devices", "root_audit")
    fake.clear_calls()

    harness.run("account_summary", "mfa_devices")

    assert len(fake.calls_to("GetAccountSummary", audited)) == 1
    assert fake.calls_to("ListVirtualMFADevices", audited) == []
