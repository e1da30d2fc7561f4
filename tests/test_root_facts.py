"""Merging the sources of one account into ``RootFacts``: the fresher source wins."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from exporter.root_facts import root_facts
from exporter.sources.credential_report import parse_report
from exporter.state import (
    Account,
    AccountState,
    AccountSummary,
    ConsoleLoginEvent,
    ConsoleLogins,
    CredentialReport,
    MfaDevice,
    ReportAccessKey,
    ReportCertificate,
    RootAudit,
    SourceStatus,
    VirtualMfa,
)

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = Account(id="111122223333", name="prod")
NOW = 1_800_000_000.0


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def ok(value, last_success: float = NOW) -> SourceStatus:
    return SourceStatus(value=value, success=True, last_success=last_success, last_attempt=last_success)


def state(**sources) -> AccountState:
    return AccountState(
        ACCOUNT, {name: ok(value) if not isinstance(value, SourceStatus) else value for name, value in sources.items()}
    )


def summary(mfa=False, keys=0, certs=0, password: Optional[bool] = False) -> AccountSummary:
    return AccountSummary(
        mfa_enabled=mfa, access_keys_present=keys, signing_certificates_present=certs, password_present=password
    )


NO_KEY = ReportAccessKey(active=False, last_rotated=None, last_used=None)
NO_CERT = ReportCertificate(active=False, last_rotated=None)
KEY_1 = ReportAccessKey(active=True, last_rotated=utc(2024, 2, 10, 9, 30), last_used=utc(2026, 11, 26, 23, 5))
KEY_2 = ReportAccessKey(active=True, last_rotated=utc(2025, 3, 4, 5, 6, 7), last_used=None)


def credential_report(
    keys=(NO_KEY, NO_KEY),
    certs=(NO_CERT, NO_CERT),
    mfa: Optional[bool] = False,
    password: Optional[bool] = None,
    last_used: Optional[datetime] = None,
) -> CredentialReport:
    return CredentialReport(
        generated=utc(2026, 11, 27, 8),
        password_enabled=password,
        password_last_used=last_used,
        mfa_active=mfa,
        access_keys=tuple(keys),
        certificates=tuple(certs),
    )


def audit(password=False, keys=(), certs=(), devices=()) -> RootAudit:
    return RootAudit(
        password=password,
        access_keys_active=tuple(keys),
        signing_certificates_active=tuple(certs),
        mfa_devices=tuple(devices),
    )


VIRTUAL = MfaDevice("arn:aws:iam::111122223333:mfa/root-phone", "virtual")
FIDO = MfaDevice("arn:aws:iam::111122223333:u2f/root-account-mfa-device/ABCDEFGHIJKLMNOP", "fido")
TOTP = MfaDevice("GAKT000ABCDE", "hardware")


# ---------------------------------------------------------------- access keys and certificates


def test_report_only_keys_and_dates():
    facts = root_facts(state(credential_report=credential_report(keys=(KEY_1, NO_KEY))))
    key1, key2 = facts.access_keys
    assert key1.active is True
    assert key1.last_used == utc(2026, 11, 26, 23, 5)
    assert key1.last_rotated == utc(2024, 2, 10, 9, 30)
    assert key2.active is False and key2.last_used is None and key2.last_rotated is None
    assert facts.has_active_key


def test_key_the_summary_says_is_gone_is_not_active():
    # The four-hour-old report still lists two active keys; the live summary counts none.
    facts = root_facts(state(account_summary=summary(keys=0), credential_report=credential_report(keys=(KEY_1, KEY_2))))
    assert [k.active for k in facts.access_keys] == [False, False]
    assert all(k.last_used is None and k.last_rotated is None for k in facts.access_keys)
    assert not facts.has_active_key


KEY_2_INACTIVE = ReportAccessKey(active=False, last_rotated=utc(2025, 3, 4, 5, 6, 7), last_used=None)


def test_presence_flag_of_one_keeps_the_reports_active_key():
    # AWS documents AccountAccessKeysPresent as a 0/1 flag ("1 if the root user has an access
    # key", IAM API Reference, GetAccountSummary). Key 1 active and key 2 inactive in the report,
    # flag 1: both keys still exist, and key 1 must stay active (it used to turn unknown, and
    # root_access_key_active disappeared, so AWSRootAccessKeyActive stayed silent).
    facts = root_facts(
        state(account_summary=summary(keys=1), credential_report=credential_report(keys=(KEY_1, KEY_2_INACTIVE)))
    )
    key1, key2 = facts.access_keys
    assert key1.active is True
    assert key1.last_used == utc(2026, 11, 26, 23, 5) and key1.last_rotated == utc(2024, 2, 10, 9, 30)
    assert key2.active is False and key2.last_rotated == utc(2025, 3, 4, 5, 6, 7)
    assert facts.has_active_key
    assert facts.access_keys_present is True


def test_presence_flag_of_one_infers_no_deletion():
    # Report: both keys active. Flag 1 means "at least one key", so nothing says one was deleted.
    facts = root_facts(state(account_summary=summary(keys=1), credential_report=credential_report(keys=(KEY_1, KEY_2))))
    assert [k.active for k in facts.access_keys] == [True, True]


def test_presence_tolerates_a_count():
    # Should AWS ever return a count (2), it reads as "at least one", like 1.
    for value in (1, 2):
        facts = root_facts(
            state(
                account_summary=summary(keys=value, certs=value),
                credential_report=credential_report(keys=(KEY_1, KEY_2_INACTIVE)),
            )
        )
        assert [k.active for k in facts.access_keys] == [True, False]
        assert facts.access_keys_present is True and facts.signing_certificates_present is True


def test_certificate_presence_flag_keeps_the_reports_active_certificate():
    cert1 = ReportCertificate(active=True, last_rotated=utc(2023, 6, 1, 12))
    cert2 = ReportCertificate(active=False, last_rotated=utc(2024, 1, 1))
    facts = root_facts(
        state(account_summary=summary(certs=1), credential_report=credential_report(certs=(cert1, cert2)))
    )
    assert [c.active for c in facts.certificates] == [True, False]


def test_presence_is_live_only():
    assert root_facts(state(account_summary=summary(keys=0, certs=0))).access_keys_present is False
    assert root_facts(state(account_summary=summary(keys=0, certs=0))).signing_certificates_present is False
    # The report alone is not live: presence stays unknown.
    facts = root_facts(state(credential_report=credential_report(keys=(KEY_1, NO_KEY))))
    assert facts.access_keys_present is None and facts.signing_certificates_present is None


def test_presence_from_the_fresher_root_audit():
    facts = root_facts(
        state(
            account_summary=ok(summary(keys=0, certs=1), last_success=NOW - 600),
            root_audit=ok(audit(keys=(False,), certs=()), last_success=NOW),
        )
    )
    assert facts.access_keys_present is True  # an inactive key exists: IAM.4 fails on it
    assert facts.signing_certificates_present is False
    facts = root_facts(
        state(
            account_summary=ok(summary(keys=0, certs=1), last_success=NOW),
            root_audit=ok(audit(keys=(False,), certs=()), last_success=NOW - 600),
        )
    )
    assert facts.access_keys_present is False and facts.signing_certificates_present is True


def test_key_created_after_the_report_fills_the_first_free_slot_as_active():
    # The report shows no key, the live flag says one exists: AWS creates keys active. Whether a
    # second one exists too the flag cannot tell: key 2 is unknown, not "inactive".
    facts = root_facts(
        state(account_summary=summary(keys=1), credential_report=credential_report(keys=(NO_KEY, NO_KEY)))
    )
    assert [k.active for k in facts.access_keys] == [True, None]


def test_key_created_after_the_report_is_not_reported_inactive():
    # The report (up to four hours old) predates the key: it shows no key at all. The live summary
    # counts one. Saying "inactive" would hide a brand-new root key; the honest answer is unknown
    # (or active), never False.
    facts = root_facts(
        state(account_summary=summary(keys=1), credential_report=credential_report(keys=(NO_KEY, NO_KEY)))
    )
    assert facts.access_keys[0].active is not False


def test_summary_only_key_activity_is_unknown():
    facts = root_facts(state(account_summary=summary(mfa=True, keys=1, password=True)))
    assert facts.access_keys[0].active is None
    assert facts.access_keys[0].last_used is None and facts.access_keys[0].last_rotated is None


def test_summary_only_with_no_keys_says_inactive():
    facts = root_facts(state(account_summary=summary(keys=0, certs=0)))
    assert [k.active for k in facts.access_keys] == [False, False]
    assert [c.active for c in facts.certificates] == [False, False]


def test_certificate_the_summary_says_is_gone_is_not_active():
    cert = ReportCertificate(active=True, last_rotated=utc(2023, 6, 1, 12))
    facts = root_facts(
        state(account_summary=summary(certs=0), credential_report=credential_report(certs=(cert, NO_CERT)))
    )
    assert [c.active for c in facts.certificates] == [False, False]


def test_certificate_present_in_summary_and_report():
    cert = ReportCertificate(active=True, last_rotated=utc(2023, 6, 1, 12))
    facts = root_facts(
        state(account_summary=summary(mfa=True, certs=1), credential_report=credential_report(certs=(cert, NO_CERT)))
    )
    assert facts.certificates[0].active is True
    assert facts.certificates[0].last_rotated == utc(2023, 6, 1, 12)


def test_root_audit_per_key_beats_the_report():
    facts = root_facts(state(root_audit=audit(keys=(False,)), credential_report=credential_report(keys=(KEY_1, KEY_2))))
    assert [k.active for k in facts.access_keys] == [False, False]


# ---------------------------------------------------------------- password


def test_password_from_summary_beats_report_not_supported():
    facts = root_facts(
        state(account_summary=summary(password=True), credential_report=credential_report(password=None))
    )
    assert facts.password_enabled is True


def test_password_from_live_summary_beats_stale_report():
    facts = root_facts(
        state(account_summary=summary(password=False), credential_report=credential_report(password=True))
    )
    assert facts.password_enabled is False


def test_password_falls_back_to_report_where_summary_omits_it():
    facts = root_facts(
        state(account_summary=summary(password=None), credential_report=credential_report(password=True))
    )
    assert facts.password_enabled is True


def test_password_unknown_when_no_source_can_tell():
    facts = root_facts(
        state(account_summary=summary(password=None), credential_report=credential_report(password=None))
    )
    assert facts.password_enabled is None
    assert root_facts(state()).password_enabled is None


# ---------------------------------------------------------------- root audit vs summary


def test_fresher_root_audit_beats_summary():
    facts = root_facts(
        state(
            account_summary=ok(summary(mfa=True, password=True), last_success=NOW - 600),
            root_audit=ok(audit(password=False, devices=()), last_success=NOW),
        )
    )
    assert facts.password_enabled is False
    assert facts.mfa_active is False


def test_fresher_summary_beats_root_audit():
    facts = root_facts(
        state(
            account_summary=ok(summary(mfa=True, password=True), last_success=NOW),
            root_audit=ok(audit(password=False, devices=()), last_success=NOW - 600),
        )
    )
    assert facts.password_enabled is True
    assert facts.mfa_active is True


def test_mfa_device_counts_by_kind_from_root_audit():
    facts = root_facts(state(root_audit=audit(devices=(VIRTUAL, FIDO, FIDO))))
    assert dict(facts.mfa_devices) == {"virtual": 1, "fido": 2, "hardware": 0}
    assert root_facts(state(account_summary=summary())).mfa_devices is None


# ---------------------------------------------------------------- MFA kind


def test_virtual_only_is_not_hardware():
    facts = root_facts(
        state(account_summary=summary(mfa=True, password=True), mfa_devices=VirtualMfa(root_has_virtual=True))
    )
    assert facts.mfa_active is True
    assert facts.mfa_hardware is False


def test_mfa_on_without_virtual_device_is_hardware():
    facts = root_facts(
        state(account_summary=summary(mfa=True, password=True), mfa_devices=VirtualMfa(root_has_virtual=False))
    )
    assert facts.mfa_hardware is True


def test_virtual_and_fido_from_root_audit_is_hardware():
    facts = root_facts(
        state(root_audit=audit(password=True, devices=(VIRTUAL, FIDO)), mfa_devices=VirtualMfa(root_has_virtual=True))
    )
    assert facts.mfa_hardware is True


def test_virtual_and_fido_is_hardware_even_when_the_summary_is_fresher():
    # account_summary runs every 5 minutes, root_audit every 15: the summary is usually the fresher.
    # It cannot tell device kinds; the root audit saw a FIDO key next to the virtual device.
    facts = root_facts(
        state(
            account_summary=ok(summary(mfa=True, password=True), last_success=NOW),
            root_audit=ok(audit(password=True, devices=(VIRTUAL, FIDO)), last_success=NOW - 300),
            mfa_devices=ok(VirtualMfa(root_has_virtual=True), last_success=NOW),
        )
    )
    assert facts.mfa_active is True
    assert facts.mfa_hardware is True


def test_hardware_totp_from_root_audit_is_hardware():
    facts = root_facts(state(root_audit=audit(password=True, devices=(TOTP,))))
    assert facts.mfa_hardware is True
    assert dict(facts.mfa_devices) == {"virtual": 0, "fido": 0, "hardware": 1}


def test_mfa_off_is_not_hardware():
    facts = root_facts(
        state(account_summary=summary(mfa=False, password=True), mfa_devices=VirtualMfa(root_has_virtual=False))
    )
    assert facts.mfa_active is False
    assert facts.mfa_hardware is False


def test_mfa_kind_unknown_without_sources():
    facts = root_facts(state())
    assert facts.mfa_active is None
    assert facts.mfa_hardware is None
    # MFA on, but no device listing: the kind is unknown.
    assert root_facts(state(account_summary=summary(mfa=True))).mfa_hardware is None


def test_mfa_from_report_when_no_live_source():
    assert root_facts(state(credential_report=credential_report(mfa=True))).mfa_active is True


# ---------------------------------------------------------------- credentials present / without MFA


def test_root_without_anything_has_no_credentials_and_is_not_without_mfa():
    facts = root_facts(state(account_summary=summary(mfa=False, keys=0, certs=0, password=False)))
    assert facts.credentials_present is False
    assert facts.mfa_active is False
    assert facts.without_mfa is False


def test_member_without_credentials_from_summary_and_report_fixture():
    report = parse_report((FIXTURES / "credential-report-member-no-credentials.csv").read_bytes(), utc(2026, 11, 27, 8))
    # A partition without AccountPasswordPresent: the report's FALSE tells there is no password.
    facts = root_facts(state(account_summary=summary(password=None), credential_report=report))
    assert facts.password_enabled is False
    assert facts.credentials_present is False
    assert facts.without_mfa is False


def test_root_audit_without_anything_has_no_credentials():
    facts = root_facts(state(root_audit=audit()))
    assert facts.credentials_present is False
    assert facts.without_mfa is False


def test_root_with_password_and_no_mfa_is_without_mfa():
    facts = root_facts(state(account_summary=summary(mfa=False, password=True)))
    assert facts.credentials_present is True
    assert facts.without_mfa is True


def test_root_with_key_only_is_without_mfa():
    facts = root_facts(state(account_summary=summary(mfa=False, keys=1, password=False)))
    assert facts.credentials_present is True
    assert facts.without_mfa is True


def test_root_with_mfa_is_not_without_mfa():
    facts = root_facts(state(account_summary=summary(mfa=True, password=True)))
    assert facts.credentials_present is True
    assert facts.without_mfa is False


def test_credentials_unknown_when_password_unknown_and_nothing_else():
    facts = root_facts(state(account_summary=summary(password=None)))
    assert facts.credentials_present is None


# ---------------------------------------------------------------- last console sign-in


def event(when: datetime, success=True, mfa=True, ip="198.51.100.7", event_id="e1") -> ConsoleLoginEvent:
    return ConsoleLoginEvent(event_id=event_id, time=when, success=success, mfa_used=mfa, source_ip=ip)


def logins(newest: Optional[ConsoleLoginEvent]) -> ConsoleLogins:
    return ConsoleLogins(
        counts={(True, True): 1} if newest else {},
        newest_success=newest,
        malformed=0,
        seen={newest.event_id: newest.time.timestamp()} if newest else {},
        resume_from=utc(2026, 11, 27, 9),
    )


def test_last_console_login_cloudtrail_newer_than_report():
    newest = event(utc(2026, 11, 27, 9, 30))
    facts = root_facts(
        state(
            credential_report=credential_report(last_used=utc(2026, 11, 20, 7, 45, 13)), console_logins=logins(newest)
        )
    )
    assert facts.last_console_login == utc(2026, 11, 27, 9, 30)
    assert facts.last_console_login_event == newest


def test_last_console_login_report_newer_than_cloudtrail():
    facts = root_facts(
        state(
            credential_report=credential_report(last_used=utc(2026, 11, 27, 9, 45)),
            console_logins=logins(event(utc(2026, 11, 27, 9, 30))),
        )
    )
    assert facts.last_console_login == utc(2026, 11, 27, 9, 45)


def test_last_console_login_from_either_alone_or_none():
    assert root_facts(state(credential_report=credential_report(last_used=utc(2026, 1, 1)))).last_console_login == utc(
        2026, 1, 1
    )
    assert root_facts(state(console_logins=logins(event(utc(2026, 2, 2))))).last_console_login == utc(2026, 2, 2)
    assert (
        root_facts(state(credential_report=credential_report(), console_logins=logins(None))).last_console_login is None
    )


def test_report_generated_time_is_carried():
    assert root_facts(state(credential_report=credential_report())).report_generated == utc(2026, 11, 27, 8)
    assert root_facts(state()).report_generated is None


def test_failed_source_keeps_its_last_good_value():
    stale = SourceStatus(
        value=summary(mfa=True, password=True),
        success=False,
        last_success=NOW - 900,
        last_attempt=NOW,
        error="Throttling: Rate exceeded",
    )
    facts = root_facts(state(account_summary=stale))
    assert facts.mfa_active is True
    assert facts.password_enabled is True
