"""One account's failure stays inside that account; slow accounts do not hold the others back;
optional organization facts never fail discovery."""

from __future__ import annotations

import threading
import time

from fakeaws import FakeAccessKey, FakeMfaDevice, FakeRoot
from tests.integration.conftest import MGMT, Harness, new_account, only

MEMBER_SOURCES = ("account_summary", "credential_report", "mfa_devices", "console_logins")


def test_assume_role_denied_fails_only_that_member(fake):
    denied = new_account(fake, root=FakeRoot(password=True, access_keys=[FakeAccessKey()]))
    healthy = [new_account(fake, root=FakeRoot.with_password("virtual")) for _ in range(3)]
    fake.fail(denied, "AssumeRole", "AccessDenied")
    harness = Harness(accounts=only(MGMT, denied, *healthy))

    assert harness.collection.run_once() is False

    for source in MEMBER_SOURCES:
        status = harness.status(denied, source)
        assert status.success is False
        assert "AccessDenied" in status.error
        assert denied in status.error  # the role's ARN names the account
        assert status.value is None
        for account_id in (MGMT, *healthy):
            if source == "mfa_devices" and account_id == MGMT:
                # The management root has no MFA (its live summary says so): nothing to list.
                assert source not in harness.state(MGMT).sources
                continue
            assert harness.status(account_id, source).success is True, (account_id, source)
            assert harness.value(account_id, source) is not None
    for account_id in healthy:
        assert harness.facts(account_id).mfa_active is True
        assert harness.facts(account_id).mfa_hardware is False
    assert harness.snapshot.discovery.success is True
    fake.clear_failures(denied)


def test_account_recovers_when_the_role_can_be_assumed_again(fake):
    member = new_account(fake, root=FakeRoot(password=True, access_keys=[FakeAccessKey()]))
    fake.fail(member, "AssumeRole", "AccessDenied")
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "account_summary") is False

    fake.clear_failures(member)
    assert harness.run("account_summary")

    assert harness.status(member, "account_summary").success is True
    assert harness.value(member, "account_summary").access_keys_present == 1


def test_failing_call_keeps_the_last_good_value_of_that_account_only(fake):
    flaky = new_account(fake, root=FakeRoot(mfa_devices=[FakeMfaDevice("hardware")]))
    other = new_account(fake)
    harness = Harness(accounts=only(flaky, other))
    assert harness.run("discovery", "account_summary")
    good = harness.status(flaky, "account_summary")

    fake.fail(flaky, "GetAccountSummary", "AccessDenied")
    fake.set_root(other, FakeRoot(password=True))
    assert harness.run("account_summary") is False

    status = harness.status(flaky, "account_summary")
    assert (status.success, status.value, status.last_success) == (False, good.value, good.last_success)
    assert "AccessDenied" in status.error
    assert harness.value(other, "account_summary").password_present is True
    fake.clear_failures(flaky)


def test_account_answering_slowly_does_not_hold_back_the_others(fake):
    """Every request for the slow member takes 2 s (its AssumeRole as well); with two workers one
    waits on it while the other reads every quick account."""
    slow = new_account(fake, root=FakeRoot(password=True, access_keys=[FakeAccessKey()]))
    quick = [new_account(fake, root=FakeRoot.with_password("virtual")) for _ in range(3)]
    harness = Harness(accounts=only(slow, *quick), collection={"concurrency": 2})
    assert harness.run("discovery")
    fake.set_latency(2.0, account_id=slow)
    outcome: list[bool] = []
    runner = threading.Thread(target=lambda: outcome.append(harness.run("account_summary")))
    started = time.monotonic()
    runner.start()
    try:
        while True:
            snapshot = harness.snapshot
            waited = time.monotonic() - started
            if waited > 5 or all("account_summary" in snapshot.accounts[a].sources for a in quick):
                break
            time.sleep(0.02)
        # Every quick account is in the snapshot before the slow one's first request is answered.
        assert waited < 2.0, f"the quick accounts took {waited:.2f} s"
        for account_id in quick:
            status = snapshot.accounts[account_id].sources["account_summary"]
            assert status.success is True
            assert (status.value.mfa_enabled, status.value.password_present) == (True, True)
        assert "account_summary" not in snapshot.accounts[slow].sources
        assert runner.is_alive()
    finally:
        runner.join(timeout=30)
        fake.clear_latency()
    # AssumeRole and GetAccountSummary for the slow account, 2 s each, one after the other
    assert time.monotonic() - started >= 4.0
    assert outcome == [True]
    assert harness.status(slow, "account_summary").success is True
    assert harness.value(slow, "account_summary").access_keys_present == 1


def test_slow_credential_report_does_not_hold_back_the_others(fake):
    """A credential report that takes several polls to generate is the slow account here."""
    slow = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey()]))
    quick = [new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey(), FakeAccessKey()])) for _ in range(3)]
    fake.set_report_generation_delay(slow, 2)  # about 1 + 2 seconds of polling
    harness = Harness(accounts=only(slow, *quick))
    harness.run("discovery")
    runner = threading.Thread(target=harness.run, args=("credential_report",))
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            snapshot = harness.snapshot
            if all("credential_report" in snapshot.accounts[a].sources for a in quick):
                break
            time.sleep(0.05)
        # The quick accounts' reports are in the snapshot while the slow one is still polling.
        for account_id in quick:
            assert harness.status(account_id, "credential_report").success is True
            assert harness.value(account_id, "credential_report").access_keys[1].active is True
        assert "credential_report" not in harness.state(slow).sources
    finally:
        runner.join(timeout=20)
    assert harness.status(slow, "credential_report").success is True


def test_organization_features_denied_leaves_them_unknown_and_discovery_succeeds(fake):
    member = new_account(fake)
    fake.fail(MGMT, "ListOrganizationsFeatures", "AccessDenied")
    harness = Harness(accounts=only(member))

    assert harness.run("discovery")

    assert harness.snapshot.organization_features is None
    assert harness.snapshot.org_features.success is False  # reported as its own source's failure
    assert "AccessDenied" in harness.snapshot.org_features.error
    assert "org_features" in harness.snapshot.run_durations
    assert harness.snapshot.discovery.success is True
    assert set(harness.snapshot.accounts) == {member}
    fake.clear_failures(MGMT)


def test_organization_features_passing_failure_keeps_the_last_answer(fake):
    member = new_account(fake)
    fake.set_organization_features(root_credentials_management=True, root_sessions=True)
    harness = Harness(accounts=only(member), aws={"max_attempts": 1})
    try:
        assert harness.run("discovery")
        assert harness.snapshot.organization_features.root_sessions is True
        assert harness.snapshot.org_features.success is True
        last_success = harness.snapshot.org_features.last_success

        fake.fail(MGMT, "ListOrganizationsFeatures", "ServiceUnavailable", status=400)
        assert harness.run("discovery")

        assert harness.snapshot.org_features.success is False
        assert harness.snapshot.org_features.last_success == last_success

        assert harness.snapshot.organization_features.root_credentials_management is True
        assert harness.snapshot.organization_features.root_sessions is True
    finally:
        fake.clear_failures(MGMT)
        fake.set_organization_features(False, False)


def test_discovery_failure_keeps_the_accounts_already_known(fake):
    member = new_account(fake)
    harness = Harness(accounts=only(member), aws={"max_attempts": 1})
    assert harness.run("discovery", "account_summary")

    fake.fail(MGMT, "ListRoots", "AccessDeniedException")
    try:
        assert harness.run("discovery") is False
    finally:
        fake.clear_failures(MGMT)

    assert harness.snapshot.discovery.success is False
    assert "AccessDeniedException" in harness.snapshot.discovery.error
    assert set(harness.snapshot.accounts) == {member}
    assert harness.status(member, "account_summary").success is True
