"""GetAccountSummary for known root users, and the live summary overruling a stale report."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from exporter.collector import exposition
from fakeaws import FakeAccessKey, FakeCertificate, FakeMfaDevice, FakeRoot
from tests.integration.conftest import Harness, new_account, only
from tests.support.exposition import parse


def test_summary_reflects_the_root_user(fake):
    loaded = new_account(
        fake,
        root=FakeRoot(
            password=True,
            access_keys=[FakeAccessKey(active=True), FakeAccessKey(active=False)],
            certificates=[FakeCertificate()],
            mfa_devices=[FakeMfaDevice("virtual")],
        ),
    )
    empty = new_account(fake, root=FakeRoot.without_credentials())
    harness = Harness(accounts=only(loaded, empty))

    assert harness.run("discovery", "account_summary")

    summary = harness.value(loaded, "account_summary")
    assert summary.mfa_enabled is True
    assert summary.access_keys_present is True  # a 0/1 flag, two keys or one
    assert summary.signing_certificates_present is True
    assert summary.password_present is True
    facts = harness.facts(loaded)
    assert facts.mfa_active is True and facts.password_enabled is True and facts.credentials_present is True

    nothing = harness.value(empty, "account_summary")
    assert (
        nothing.mfa_enabled,
        nothing.access_keys_present,
        nothing.signing_certificates_present,
        nothing.password_present,
    ) == (False, 0, 0, False)
    facts = harness.facts(empty)
    assert facts.credentials_present is False
    assert facts.without_mfa is False  # no credentials: nothing that needs MFA
    assert not facts.has_active_key


def test_summary_follows_changes_at_the_next_run(fake):
    member = new_account(fake, root=FakeRoot(password=True))
    harness = Harness(accounts=only(member))
    harness.run("discovery", "account_summary")
    assert harness.facts(member).without_mfa is True

    fake.root(member).mfa_devices.append(FakeMfaDevice("hardware"))
    harness.run("account_summary")

    assert harness.value(member, "account_summary").mfa_enabled is True
    assert harness.facts(member).without_mfa is False


def test_deleted_key_is_not_active_although_the_cached_report_still_lists_it(fake):
    used = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    member = new_account(
        fake,
        root=FakeRoot(
            password=True,
            access_keys=[
                FakeAccessKey(active=True, last_used=used, last_used_service="s3", last_used_region="us-east-1")
            ],
        ),
    )
    harness = Harness(accounts=only(member))
    harness.run("discovery", "credential_report")
    assert harness.facts(member).access_keys[0].active is True

    fake.root(member).access_keys.clear()
    harness.run("credential_report")  # AWS hands out the same report for four hours
    report = harness.value(member, "credential_report")
    assert report.access_keys[0].active is True, "precondition: the cached report still lists the key"
    harness.run("account_summary")

    facts = harness.facts(member)
    assert facts.access_keys[0].active is False
    assert facts.access_keys[0].last_used is None
    assert not facts.has_active_key
    assert facts.credentials_present is True  # the password is still there


def test_active_key_next_to_an_inactive_one_stays_active_and_is_exposed(fake):
    # AWS reports AccountAccessKeysPresent as 1 for a root with two keys (a flag, not a count);
    # the report says key 1 active, key 2 inactive. Key 1 must stay active on /metrics, or
    # AWSRootAccessKeyActive never fires.
    member = new_account(
        fake,
        root=FakeRoot(
            password=True,
            mfa_devices=[FakeMfaDevice("virtual")],
            access_keys=[FakeAccessKey(active=True), FakeAccessKey(active=False)],
        ),
    )
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "credential_report", "account_summary")
    assert fake.calls_to("GetAccountSummary", member)

    shown = parse(exposition(harness.snapshot, {})[0].decode())
    ids = {"account_id": member, "account_name": harness.state(member).account.name}
    assert shown.value("root_access_key_active", **ids, key="1") == 1
    assert shown.value("root_access_key_active", **ids, key="2") == 0
    assert shown.value("root_access_keys_present", **ids) == 1
    assert shown.value("root_signing_certificates_present", **ids) == 0
