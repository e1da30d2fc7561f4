"""Each finding of exporter/findings.py on typed per-account state, and its link to alerts.yml.

The cases mirror the alert rules' conditions (see prometheus/alerts.yml and the promtool tests in
tests/alerts/); the end-to-end agreement with real Prometheus is tests/e2e/test_findings_agree.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from exporter.findings import BY_ID, FINDINGS, SEVERITIES, assess, assess_all, discovery_problem, severity_counts
from exporter.root_activity import RootActivity, with_root_activity
from exporter.state import PolicyAttachment, RootPolicies, TrailCoverage, VirtualMfa
from tests.support.snapshots import INTERVALS, NOW, account, audit, failed, logins, ok, report, snapshot, summary

ALERTS = Path(__file__).resolve().parents[1] / "prometheus" / "alerts.yml"
RULES = {
    rule["alert"]: rule
    for group in yaml.safe_load(ALERTS.read_text())["groups"]
    for rule in group["rules"]
    if "alert" in rule
}
# About the target or the whole organization's event path, not an account.
TARGET_ALERTS = {"AWSRootExporterDown", "AWSRootExporterTargetMissing", "AWSRootEventStreamSilent"}


def found(state, snap=None) -> dict[str, str]:
    snap = snap or snapshot(state)
    return {hit.finding.id: hit.detail for hit in assess(state, snap, NOW, INTERVALS).hits}


# ------------------------------------------------------------------ the link to alerts.yml


def test_every_per_account_alert_is_a_finding_and_every_finding_alert_exists():
    carried = {finding.alert for finding in FINDINGS if finding.alert}
    assert carried <= set(RULES), f"findings name alerts alerts.yml lacks: {carried - set(RULES)}"
    assert set(RULES) - TARGET_ALERTS <= carried, f"alerts without a finding: {set(RULES) - TARGET_ALERTS - carried}"


@pytest.mark.parametrize("finding", [f for f in FINDINGS if f.alert], ids=lambda f: f.id)
def test_alert_carries_the_findings_severity_and_controls(finding):
    labels = RULES[finding.alert]["labels"]
    assert labels["severity"] == finding.severity
    assert labels.get("cis_control") == finding.cis_control
    assert labels.get("securityhub_control") == finding.securityhub_control


def test_controls_are_the_documented_ones():
    assert (BY_ID["root_without_mfa"].cis_control, BY_ID["root_without_mfa"].securityhub_control) == ("1.5", "IAM.9")
    assert (BY_ID["mfa_virtual_only"].cis_control, BY_ID["mfa_virtual_only"].securityhub_control) == ("1.6", "IAM.6")
    assert BY_ID["access_key_present"].alert == "AWSRootAccessKeyPresent"
    assert (BY_ID["access_key_present"].cis_control, BY_ID["access_key_present"].securityhub_control) == (
        "1.4",
        "IAM.4",
    )
    assert BY_ID["console_sign_in_recent"].cis_control == "1.7"
    assert BY_ID["root_activity"].cis_control == "1.7"
    assert all(f.severity in SEVERITIES for f in FINDINGS)
    assert len({f.view for f in FINDINGS}) == len(FINDINGS)


# ------------------------------------------------------------------------------ MFA


def test_credentials_without_mfa():
    assert "root_without_mfa" in found(account("333333333333", "pay", account_summary=summary(mfa=False)))


def test_root_without_credentials_needs_no_mfa():
    state = account("222222222222", "logs", account_summary=summary(mfa=False, password=False))
    assert "root_without_mfa" not in found(state)


def test_unknown_credentials_are_not_without_mfa_unless_evidence_shows_one():
    """The old page listed this root "without MFA" while no alert fired: the report says no MFA,
    and nothing says whether root has a password (not_supported) or any credential."""
    unknown = account("444444444444", "web", credential_report=report(mfa=False))
    assert "root_without_mfa" not in found(unknown)
    with_key = account("444444444444", "web", credential_report=report(keys=(True,), mfa=False))
    assert "active access key" in found(with_key)["root_without_mfa"]


def test_virtual_only_mfa():
    state = account("444444444444", "web", account_summary=summary(), mfa_devices=VirtualMfa(True))
    assert set(found(state)) == {"mfa_virtual_only", "password_with_centralized_root_access"}
    hardware = account("444444444444", "web", account_summary=summary(), mfa_devices=VirtualMfa(False))
    assert "mfa_virtual_only" not in found(hardware)


# ------------------------------------------------------------------------------ keys


def test_an_inactive_key_is_present_not_active():
    state = account("888888888888", "billing", credential_report=report(keys=(False,)))
    hits = found(state)
    assert "access_key_active" not in hits
    assert hits["access_key_present"] == "root access key exists: key 1 inactive"


def test_a_key_the_live_summary_reports_before_the_report_does():
    state = account("888888888888", "billing", account_summary=summary(keys=1), credential_report=report())
    hits = found(state)
    assert "access_key_active" in hits and "access_key_present" in hits


def test_an_inactive_key_seen_only_by_the_root_audit_is_present():
    state = account("888888888888", "billing", root_audit=audit(keys=(False,), mfa=("hardware",)))
    assert "access_key_present" in found(state)
    assert "access_key_active" not in found(state)


def test_deleted_keys_are_neither_active_nor_present():
    state = account("888888888888", "billing", account_summary=summary(keys=0), credential_report=report(keys=(True,)))
    assert not {"access_key_active", "access_key_present"} & set(found(state))


def test_key_used_two_hours_ago_is_recent_thirty_days_ago_is_not():
    recent = account("333333333333", "pay", credential_report=report(keys=(True,), key_last_used=timedelta(hours=2)))
    assert found(recent)["access_key_used_recently"] == "access key 1 used 2 hours ago"
    old = account("333333333333", "pay", credential_report=report(keys=(True,), key_last_used=timedelta(days=30)))
    assert "access_key_used_recently" not in found(old)


def test_active_signing_certificate():
    state = account("555555555555", "dev", credential_report=report(certs=(True,)))
    assert found(state)["signing_certificate_active"] == "signing certificate 1 active"


# ------------------------------------------------------------------------------ sign-ins


def test_sign_in_thirty_minutes_ago_is_recent_forty_days_ago_is_not():
    recent = account("666666666666", "lake", console_logins=logins(success_ago=timedelta(minutes=30)))
    assert found(recent)["console_sign_in_recent"] == "console sign-in 30 minutes ago from 203.0.113.9 (MFA used)"
    old = account("123456789012", "management", credential_report=report(last_login=timedelta(days=40)))
    assert "console_sign_in_recent" not in found(old)


def test_failed_sign_ins_are_a_finding():
    state = account("666666666666", "lake", console_logins=logins(failures=2))
    assert found(state)["console_sign_in_failures"] == "2 failed sign-in attempts seen"
    assert "console_sign_in_failures" not in found(account("666666666666", "lake", console_logins=logins()))


# ------------------------------------------------------------------ root activity (counters)


def with_events(state, *events, at=NOW):
    """A snapshot of ``state`` in which the exporter counted ``events`` ((event name, session)) at ``at``."""
    activities = [
        RootActivity(f"ev-{n}", state.account.id, name, session, at - 30) for n, (name, session) in enumerate(events)
    ]
    return with_root_activity(snapshot(state), activities, at)


def test_root_credential_activity_counted_within_the_hour():
    state = account("444444444444", "prod-web", account_summary=summary())
    snap = with_events(state, ("CreateAccessKey", "root_credentials"), ("other", "root_credentials"), at=NOW - 20 * 60)
    hits = found(state, snap)
    assert hits["root_activity"] == "CreateAccessKey, other, counted 20 minutes ago"
    assert hits["access_key_created"] == "CreateAccessKey (root_credentials), counted 20 minutes ago"
    assert not {"password_recovery", "mfa_removed"} & set(hits)


def test_root_activity_an_hour_old_no_longer_holds_as_the_alert_stops():
    state = account("444444444444", "prod-web", account_summary=summary())
    snap = with_events(state, ("CreateAccessKey", "root_credentials"), at=NOW - 3600)
    assert not {"root_activity", "access_key_created"} & set(found(state, snap))


def test_an_assume_root_task_is_not_root_credential_use_but_its_events_still_alert():
    """AWSRootActivity counts session="root_credentials" only; the event alerts count any session."""
    state = account("222222222222", "logs", account_summary=summary(password=False))
    snap = with_events(state, ("DeactivateMFADevice", "assumed_root"), ("PasswordRecoveryCompleted", "assumed_root"))
    hits = found(state, snap)
    assert "root_activity" not in hits
    assert hits["mfa_removed"] == "DeactivateMFADevice (assumed_root), counted just now"
    assert hits["password_recovery"] == "PasswordRecoveryCompleted, counted just now"


def test_activity_of_another_account_is_not_this_ones():
    mine = account("444444444444", "prod-web", account_summary=summary())
    other = account("555555555555", "dev", account_summary=summary())
    snap = with_root_activity(
        snapshot(mine, other), [RootActivity("ev", "555555555555", "CreateAccessKey", "root_credentials", NOW)], NOW
    )
    assert "root_activity" not in found(mine, snap)
    assert "root_activity" in found(other, snap)


def test_the_same_event_counted_again_does_not_refresh_the_window():
    """A redelivered event (same id) does not grow the counter, so the alert's hour does not restart."""
    state = account("444444444444", "prod-web", account_summary=summary())
    event = RootActivity("ev-1", state.account.id, "CreateAccessKey", "root_credentials", NOW - 4000)
    snap = with_root_activity(snapshot(state), [event], NOW - 3700)
    snap = with_root_activity(snap, [event], NOW - 60)
    assert "access_key_created" not in found(state, snap)


# ------------------------------------------------------------------ detection, policies, e-mail


def test_activity_detection_off():
    off = account("444444444444", "prod-web", trail_status=TrailCoverage(False, None, "no trail records us-east-1"))
    assert found(off)["activity_detection_off"] == (
        "no trail logs management events in us-east-1: no trail records us-east-1"
    )
    on = account("444444444444", "prod-web", trail_status=TrailCoverage(True, "arn:aws:cloudtrail:x", ""))
    assert "activity_detection_off" not in found(on)
    assert "activity_detection_off" not in found(account("444444444444", "prod-web"))


def test_activity_detection_off_is_kept_while_trail_status_fails():
    """The gauge keeps the last good value of a failing source: so does the finding."""
    stale = account(
        "444444444444",
        "prod-web",
        trail_status=failed("AccessDenied", value=TrailCoverage(False, None, "x"), last_success=NOW - 60),
    )
    assert "activity_detection_off" in found(stale)


PARTIAL = PolicyAttachment("p-2", "DenyRootAccessKeys", "ou-dev", "Dev", "ORGANIZATIONAL_UNIT")


@pytest.mark.parametrize(
    "policies, credentials, expected",
    [
        (RootPolicies(True), True, "root has credentials and no SCP in effect denies it anything"),
        (
            RootPolicies(True, denied_actions=1.0, restricting=(PARTIAL,)),
            True,
            "root has credentials; the SCPs in effect deny it only some actions (DenyRootAccessKeys)",
        ),
        (RootPolicies(True, denies_all=True, denied_actions=float("inf")), True, None),
        (RootPolicies(True), False, None),  # a root without credentials cannot act
        (RootPolicies(False), True, None),  # SCPs off: the series is absent
    ],
    ids=["none", "partial", "denied", "no-credentials", "scps-off"],
)
def test_not_restricted_by_scp(policies, credentials, expected):
    state = account(
        "555555555555", "dev", root_policies=policies, account_summary=summary(mfa=credentials, password=credentials)
    )
    assert found(state).get("not_restricted_by_scp") == expected


def test_not_restricted_by_scp_needs_known_credentials():
    """``root_credentials_present != 0`` filters out an account whose credentials are unknown."""
    state = account("555555555555", "dev", root_policies=RootPolicies(True), credential_report=report(mfa=True))
    assert "not_restricted_by_scp" not in found(state)


def test_email_not_allowed():
    def with_email(allowed):
        state = account("555555555555", "dev", email="dev@gmail.com")
        return replace(state, account=replace(state.account, root_email_allowed=allowed))

    assert found(with_email(False))["email_not_allowed"] == "dev@gmail.com matches none of accounts.root_email.allowed"
    assert "email_not_allowed" not in found(with_email(True))
    assert "email_not_allowed" not in found(with_email(None))  # no policy configured


# ------------------------------------------------------------------ centralized root access


def test_member_password_under_centralized_root_access():
    member = account("111111111111", "tooling", account_summary=summary())
    assert "password_with_centralized_root_access" in found(member)
    management = account("123456789012", "management", management=True, account_summary=summary())
    assert "password_with_centralized_root_access" not in found(management)
    assert "password_with_centralized_root_access" not in found(member, snapshot(member, centralized=False))


# ------------------------------------------------------------------------------ collection


def test_failing_sources_with_the_same_error_are_named_together():
    error = "AccessDenied (AssumeRole): not authorized to perform: sts:AssumeRole"
    state = account(
        "999999999999",
        "staging",
        account_summary=failed(error),
        mfa_devices=failed(error),
        root_audit=audit(password=True, mfa=("hardware",)),
    )
    assert found(state)["collection_failing"] == f"account_summary, mfa_devices: {error}"


def test_discovery_failure_counts_on_the_home_account_only():
    home = account("123456789012", "management", management=True, account_summary=summary())
    other = account("111111111111", "tooling", account_summary=summary(password=False))
    snap = snapshot(home, other, discovery=failed("ExpiredToken (ListAccounts): token expired", last_success=NOW - 60))
    assert "ExpiredToken" in found(home, snap)["collection_failing"]
    assert "collection_failing" not in found(other, snap)
    assert discovery_problem(snap) == (
        "Discovery of the organization's accounts is failing: ExpiredToken (ListAccounts): token expired"
    )
    never = snapshot(home, discovery=failed("NoCredentials: Unable to locate credentials"))
    assert "never succeeded" in discovery_problem(never)
    assert discovery_problem(snapshot(home)) is None


def test_old_credential_report():
    state = account("111111111111", "tooling", credential_report=report(generated=timedelta(hours=9)))
    assert found(state)["credential_report_old"] == "credential report generated 9 hours ago"
    assert "credential_report_old" not in found(
        account("1", "x", credential_report=report(generated=timedelta(hours=7)))
    )


# ------------------------------------------------------------------------------ order, summary


def test_accounts_come_worst_first_and_findings_worst_first():
    critical = account("333333333333", "zulu", account_summary=summary(mfa=False))
    warning = account("444444444444", "alpha", account_summary=summary(), mfa_devices=VirtualMfa(True))
    clean = account("222222222222", "aaa", account_summary=summary(password=False))
    order = assess_all(snapshot(clean, warning, critical), NOW, INTERVALS)
    assert [item.state.account.name for item in order] == ["zulu", "alpha", "aaa"]
    severities = [hit.finding.severity for hit in order[0].hits]
    assert severities == sorted(severities, key=SEVERITIES.index)


def test_severity_counts():
    state = account("333333333333", "pay", account_summary=summary(mfa=False))
    assert severity_counts(assess_all(snapshot(state), NOW, INTERVALS)) == {"critical": 1, "warning": 1, "info": 0}


def stale(snap, limits=None):
    from exporter.snapshot import with_staleness

    return with_staleness(snap, NOW, limits or {source: 3 * seconds for source, seconds in INTERVALS.items()})


def test_data_is_stale_past_stale_after_and_says_since_when():
    state = account("111111111111", "tooling", account_summary=ok(summary(password=False), at=NOW - 901))
    snap = stale(snapshot(state))
    assert found(snap.accounts[state.account.id], snap)["data_stale"] == (
        "account_summary stale since 2027-01-15 07:59 UTC (last refreshed 15 minutes ago)"
    )
    fresh = account("111111111111", "tooling", account_summary=ok(summary(password=False), at=NOW - 899))
    snap = stale(snapshot(fresh))
    assert "data_stale" not in found(snap.accounts[fresh.account.id], snap)


def test_findings_from_stale_data_are_not_current_and_are_listed_as_last_known():
    state = account(
        "333333333333",
        "pay",
        account_summary=failed("Throttling: x", summary(mfa=False, keys=1), last_success=NOW - 7200),
    )
    snap = stale(snapshot(state))
    item = assess(snap.accounts[state.account.id], snap, NOW, INTERVALS)
    assert {hit.finding.id for hit in item.hits} == {"collection_failing", "data_stale"}
    assert item.worst == "warning"
    last_known = {hit.finding.id: hit.detail for hit in item.stale_hits}
    assert {"root_without_mfa", "access_key_present"} <= set(last_known)
    assert all("last known, from data last refreshed 2 hours ago" in detail for detail in last_known.values())
