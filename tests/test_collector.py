"""The collector renders a hand-built snapshot; every metric of docs/architecture.md is checked."""

from __future__ import annotations

import importlib.metadata
from datetime import datetime, timezone
from types import MappingProxyType

import boto3
import botocore.client
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collector import RootCollector
from exporter.state import (
    Account,
    AccountState,
    AccountSummary,
    ConsoleLoginEvent,
    ConsoleLogins,
    CredentialReport,
    OrganizationFeatures,
    ReportAccessKey,
    ReportCertificate,
    RootAudit,
    Snapshot,
    SourceStatus,
    VirtualMfa,
)

T0 = 1_800_000_000.0  # Unix seconds of the runs below


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def ok(value, at: float = T0) -> SourceStatus:
    return SourceStatus(value=value, success=True, last_success=at, last_attempt=at)


def failed(value, last_success, at: float = T0) -> SourceStatus:
    return SourceStatus(
        value=value,
        success=False,
        last_success=last_success,
        last_attempt=at,
        error="Throttling (GetAccountSummary): Rate exceeded",
    )


MGMT = Account(
    id="111111111111",
    name="management",
    email="aws+mgmt@example.com",
    ou_path="Root",
    ou_ids=("r-ab12",),
    state="ACTIVE",
    management=True,
)
PROD = Account(
    id="222222222222",
    name="prod",
    email="aws+prod@example.com",
    ou_path="Root/Workloads/Prod",
    ou_ids=("r-ab12", "ou-ab12-workload", "ou-ab12-prod0001"),
)
NOCREDS = Account(
    id="333333333333",
    name="sandbox",
    email="aws+sandbox@example.com",
    ou_path="Root/Sandbox",
    ou_ids=("r-ab12", "ou-ab12-sandbox1"),
)
FLAKY = Account(id="444444444444", name="flaky", email="aws+flaky@example.com", ou_path="Root")
NEW = Account(id="555555555555", name="new", email="aws+new@example.com", ou_path="Root")

REPORT_GENERATED = utc(2026, 11, 27, 8, 0)
KEY1_ROTATED = utc(2024, 2, 10, 9, 30)
KEY1_USED = utc(2026, 11, 26, 23, 5)
REPORT_LOGIN = utc(2026, 11, 20, 7, 45, 13)
CLOUDTRAIL_LOGIN = utc(2026, 11, 27, 9, 30)

PROD_REPORT = CredentialReport(
    generated=REPORT_GENERATED,
    password_enabled=None,
    password_last_used=REPORT_LOGIN,
    mfa_active=True,
    access_keys=(ReportAccessKey(True, KEY1_ROTATED, KEY1_USED), ReportAccessKey(False, None, None)),
    certificates=(ReportCertificate(True, utc(2023, 6, 1, 12)), ReportCertificate(False, None)),
)
PROD_LOGINS = ConsoleLogins(
    counts=MappingProxyType({(True, True): 3, (False, False): 2}),
    newest_success=ConsoleLoginEvent("ev-3", CLOUDTRAIL_LOGIN, True, True, "198.51.100.7"),
    malformed=1,
    seen=MappingProxyType({"ev-3": CLOUDTRAIL_LOGIN.timestamp()}),
    resume_from=CLOUDTRAIL_LOGIN,
)


def snapshot() -> Snapshot:
    states = {
        MGMT.id: AccountState(
            MGMT,
            MappingProxyType(
                {
                    "account_summary": ok(AccountSummary(True, 0, 0, True)),
                    "mfa_devices": ok(VirtualMfa(root_has_virtual=True)),
                }
            ),
        ),
        PROD.id: AccountState(
            PROD,
            MappingProxyType(
                {
                    "account_summary": ok(AccountSummary(True, 1, 1, True)),
                    "credential_report": ok(PROD_REPORT, at=T0 - 1800),
                    "mfa_devices": ok(VirtualMfa(root_has_virtual=False)),
                    "console_logins": ok(PROD_LOGINS),
                }
            ),
        ),
        NOCREDS.id: AccountState(
            NOCREDS,
            MappingProxyType(
                {
                    "root_audit": ok(
                        RootAudit(password=False, access_keys_active=(), signing_certificates_active=(), mfa_devices=())
                    ),
                }
            ),
        ),
        FLAKY.id: AccountState(
            FLAKY,
            MappingProxyType(
                {
                    "account_summary": failed(AccountSummary(False, 0, 0, True), last_success=T0 - 3600),
                }
            ),
        ),
        NEW.id: AccountState(NEW),
    }
    return Snapshot(
        accounts=MappingProxyType(states),
        home_account_id=MGMT.id,
        discovery=ok(None, at=T0 - 60),
        org_features=ok(OrganizationFeatures(root_credentials_management=True, root_sessions=False), at=T0 - 60),
        run_durations=MappingProxyType({"discovery": 1.5, "org_features": 0.5, "account_summary": 4.25}),
        completed_sources=frozenset({"discovery", "account_summary"}),
    )


INTERVALS = {"discovery": 3600.0, "account_summary": 300.0, "credential_report": 3600.0, "mfa_devices": 300.0}


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(RootCollector(snapshot, INTERVALS))
    return registry


def of(account: Account, **labels: str) -> dict[str, str]:
    return {"account_id": account.id, "account_name": account.name, **labels}


def test_mfa_and_password(registry):
    value = registry.get_sample_value
    assert value("root_mfa_active", of(MGMT)) == 1
    assert value("root_mfa_hardware", of(MGMT)) == 0  # virtual device assigned to root
    assert value("root_mfa_active", of(PROD)) == 1
    assert value("root_mfa_hardware", of(PROD)) == 1  # MFA on, no virtual device: hardware
    assert value("root_password_enabled", of(PROD)) == 1
    assert value("root_mfa_active", of(NOCREDS)) == 0
    assert value("root_password_enabled", of(NOCREDS)) == 0


def test_access_keys_and_certificates(registry):
    value = registry.get_sample_value
    assert value("root_access_key_active", of(PROD, key="1")) == 1
    assert value("root_access_key_last_used_timestamp", of(PROD, key="1")) == KEY1_USED.timestamp()
    assert value("root_access_key_last_rotated_timestamp", of(PROD, key="1")) == KEY1_ROTATED.timestamp()
    assert value("root_access_key_active", of(PROD, key="2")) == 0
    assert value("root_access_key_last_used_timestamp", of(PROD, key="2")) is None
    assert value("root_access_key_last_rotated_timestamp", of(PROD, key="2")) is None
    assert value("root_signing_certificate_active", of(PROD, cert="1")) == 1
    assert value("root_signing_certificate_active", of(PROD, cert="2")) == 0
    assert value("root_access_key_active", of(MGMT, key="1")) == 0  # summary: no keys at all
    assert value("root_access_key_active", of(MGMT, key="2")) == 0


def test_access_keys_and_certificates_present(registry):
    value = registry.get_sample_value
    assert value("root_access_keys_present", of(PROD)) == 1  # account summary flag
    assert value("root_signing_certificates_present", of(PROD)) == 1
    assert value("root_access_keys_present", of(MGMT)) == 0
    assert value("root_access_keys_present", of(NOCREDS)) == 0  # root audit: no keys
    assert value("root_signing_certificates_present", of(NOCREDS)) == 0
    assert value("root_access_keys_present", of(NEW)) is None  # no live source yet


def test_credentials_present(registry):
    value = registry.get_sample_value
    assert value("root_credentials_present", of(PROD)) == 1
    assert value("root_credentials_present", of(MGMT)) == 1
    assert value("root_credentials_present", of(NOCREDS)) == 0


def test_mfa_devices_by_kind_only_where_root_audit_ran(registry):
    value = registry.get_sample_value
    for kind in ("virtual", "fido", "hardware"):
        assert value("root_mfa_devices", of(NOCREDS, kind=kind)) == 0
        assert value("root_mfa_devices", of(PROD, kind=kind)) is None


def test_console_logins(registry):
    value = registry.get_sample_value
    assert value("root_last_console_login_timestamp", of(PROD)) == CLOUDTRAIL_LOGIN.timestamp()
    assert value("root_last_console_login_info", of(PROD, source_ip="198.51.100.7", mfa_used="true")) == 1
    assert value("root_console_login_events_total", of(PROD, outcome="success", mfa_used="true")) == 3
    assert value("root_console_login_events_total", of(PROD, outcome="failure", mfa_used="false")) == 2
    assert value("root_console_login_events_total", of(PROD, outcome="success", mfa_used="false")) is None
    assert value("root_exporter_malformed_events_total", of(PROD, source="console_logins")) == 1
    assert value("root_last_console_login_timestamp", of(MGMT)) is None


def test_credential_report_generated(registry):
    assert (
        registry.get_sample_value("root_credential_report_generated_timestamp", of(PROD))
        == REPORT_GENERATED.timestamp()
    )
    assert registry.get_sample_value("root_credential_report_generated_timestamp", of(MGMT)) is None


def test_account_info(registry):
    value = registry.get_sample_value
    assert (
        value(
            "root_account_info",
            of(MGMT, email="aws+mgmt@example.com", ou_path="Root", state="ACTIVE", management="true"),
        )
        == 1
    )
    assert (
        value(
            "root_account_info",
            of(PROD, email="aws+prod@example.com", ou_path="Root/Workloads/Prod", state="ACTIVE", management="false"),
        )
        == 1
    )


def test_account_without_any_result_has_info_and_nothing_guessed(registry):
    value = registry.get_sample_value
    assert (
        value(
            "root_account_info",
            of(NEW, email="aws+new@example.com", ou_path="Root", state="ACTIVE", management="false"),
        )
        == 1
    )
    for name in (
        "root_mfa_active",
        "root_mfa_hardware",
        "root_password_enabled",
        "root_credentials_present",
        "root_last_console_login_timestamp",
        "root_credential_report_generated_timestamp",
    ):
        assert value(name, of(NEW)) is None, name
    for key in ("1", "2"):
        assert value("root_access_key_active", of(NEW, key=key)) is None
        assert value("root_signing_certificate_active", of(NEW, cert=key)) is None


def test_failed_source_shows_zero_and_keeps_old_last_success_and_values(registry):
    value = registry.get_sample_value
    assert value("root_exporter_collection_success", of(FLAKY, source="account_summary")) == 0
    assert value("root_exporter_last_success_timestamp", of(FLAKY, source="account_summary")) == T0 - 3600
    assert value("root_mfa_active", of(FLAKY)) == 0  # the last good value, kept
    assert value("root_password_enabled", of(FLAKY)) == 1


def test_collection_success_per_source(registry):
    value = registry.get_sample_value
    assert value("root_exporter_collection_success", of(PROD, source="credential_report")) == 1
    assert value("root_exporter_last_success_timestamp", of(PROD, source="credential_report")) == T0 - 1800
    assert value("root_exporter_collection_success", of(PROD, source="console_logins")) == 1
    assert value("root_exporter_collection_success", of(NEW, source="account_summary")) is None


def test_discovery_status_on_the_home_account(registry):
    value = registry.get_sample_value
    assert value("root_exporter_collection_success", of(MGMT, source="discovery")) == 1
    assert value("root_exporter_last_success_timestamp", of(MGMT, source="discovery")) == T0 - 60
    assert value("root_exporter_collection_success", of(PROD, source="discovery")) is None


def test_discovery_also_reported_organization_wide(registry):
    value = registry.get_sample_value
    assert value("root_exporter_discovery_success") == 1
    assert value("root_exporter_discovery_last_success_timestamp") == T0 - 60


def _samples(snap: Snapshot) -> list:
    registry = CollectorRegistry()
    registry.register(RootCollector(lambda: snap, INTERVALS))
    return [sample for family in registry.collect() for sample in family.samples]


def test_discovery_failing_before_the_home_account_is_known_has_no_empty_account_labels():
    blind = Snapshot(discovery=failed(None, last_success=None))
    samples = _samples(blind)
    assert [s for s in samples if s.labels.get("account_id") == "" or s.labels.get("account_name") == ""] == []
    org = {s.name: s for s in samples if s.name.startswith("root_exporter_discovery")}
    assert org["root_exporter_discovery_success"].value == 0 and org["root_exporter_discovery_success"].labels == {}
    assert "root_exporter_discovery_last_success_timestamp" not in org  # never succeeded


def test_discovery_of_a_home_account_not_collected_has_no_empty_account_name():
    # The home account is known but excluded from collection (include/exclude or a static list).
    snap = Snapshot(
        accounts=MappingProxyType({PROD.id: AccountState(PROD)}), home_account_id=MGMT.id, discovery=ok(None, at=T0)
    )
    samples = _samples(snap)
    assert [s for s in samples if s.labels.get("account_name") == ""] == []
    assert [s.value for s in samples if s.name == "root_exporter_discovery_success"] == [1.0]


def test_org_features_status_on_the_home_account_like_every_source(registry):
    value = registry.get_sample_value
    assert value("root_exporter_collection_success", of(MGMT, source="org_features")) == 1
    assert value("root_exporter_last_success_timestamp", of(MGMT, source="org_features")) == T0 - 60
    assert value("root_exporter_collection_success", of(PROD, source="org_features")) is None
    assert value("root_exporter_collection_duration_seconds", {"source": "org_features"}) == 0.5


def test_organization_features(registry):
    value = registry.get_sample_value
    assert value("root_organization_feature_enabled", {"feature": "RootCredentialsManagement"}) == 1
    assert value("root_organization_feature_enabled", {"feature": "RootSessions"}) == 0


def test_exporter_metrics(registry):
    value = registry.get_sample_value
    assert value("root_exporter_collection_duration_seconds", {"source": "account_summary"}) == 4.25
    assert value("root_exporter_collection_duration_seconds", {"source": "discovery"}) == 1.5
    assert value("root_exporter_collection_duration_seconds", {"source": "credential_report"}) is None
    for source, seconds in INTERVALS.items():
        assert value("root_exporter_collection_interval_seconds", {"source": source}) == seconds
    version = importlib.metadata.version("aws-root-exporter")
    assert value("root_exporter_build_info", {"version": version}) == 1


def test_empty_snapshot_has_only_exporter_metrics():
    registry = CollectorRegistry()
    registry.register(RootCollector(Snapshot, INTERVALS))
    names = {sample.name for family in registry.collect() for sample in family.samples}
    assert names == {
        "root_exporter_collection_interval_seconds",
        "root_exporter_build_info",
        "root_exporter_shard_info",
    }


def test_exposition_is_valid_and_help_says_background():
    registry = CollectorRegistry()
    registry.register(RootCollector(snapshot, INTERVALS))
    families = list(text_string_to_metric_families(generate_latest(registry).decode()))
    assert families
    per_account = [f for f in families if f.samples and "account_id" in f.samples[0].labels]
    assert per_account
    for family in per_account:
        assert "background" in family.documentation.lower(), family.name


def test_collect_never_touches_aws(monkeypatch):
    def no_aws(*args, **kwargs):
        raise AssertionError("collect() called AWS")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_aws)
    monkeypatch.setattr(boto3, "client", no_aws)
    monkeypatch.setattr(boto3.session.Session, "client", no_aws)
    calls = []

    def counted() -> Snapshot:
        calls.append(1)
        return snapshot()

    registry = CollectorRegistry()
    registry.register(RootCollector(counted, INTERVALS))
    assert calls == []  # registering does not collect
    generate_latest(registry)
    generate_latest(registry)
    assert len(calls) == 2  # the snapshot callable is read once per scrape, and is the only input


def test_stale_values_leave_metrics_but_collection_status_and_counters_stay():
    from exporter.snapshot import with_staleness

    stale_summary = failed(
        AccountSummary(mfa_enabled=False, access_keys_present=1, signing_certificates_present=0, password_present=True),
        last_success=T0 - 1000,
    )
    state = AccountState(
        FLAKY, MappingProxyType({"account_summary": stale_summary, "console_logins": ok(PROD_LOGINS, at=T0 - 1000)})
    )
    snap = with_staleness(
        Snapshot(accounts=MappingProxyType({FLAKY.id: state})), T0, {"account_summary": 900.0, "console_logins": 900.0}
    )
    registry = CollectorRegistry()
    registry.register(RootCollector(lambda: snap, INTERVALS))
    value = registry.get_sample_value
    for name in ("root_mfa_active", "root_password_enabled", "root_access_keys_present", "root_credentials_present"):
        assert value(name, of(FLAKY)) is None, name
    assert value("root_last_console_login_info", of(FLAKY, source_ip="198.51.100.7", mfa_used="true")) is None
    assert value("root_exporter_collection_success", of(FLAKY, source="account_summary")) == 0
    assert value("root_exporter_last_success_timestamp", of(FLAKY, source="account_summary")) == T0 - 1000
    # Counters count what was seen; they stay (dropping them would make their return look new).
    assert value("root_console_login_events_total", of(FLAKY, outcome="success", mfa_used="true")) == 3
    assert (
        value("root_account_info", of(FLAKY, email=FLAKY.email, ou_path="Root", state="ACTIVE", management="false"))
        == 1
    )
    assert value("root_exporter_collection_stale_after_seconds", {"source": "account_summary"}) == 900
