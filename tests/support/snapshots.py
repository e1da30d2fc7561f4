"""Typed snapshots for page and findings tests, built from the state dataclasses as the sources
would leave them (every source succeeded at ``NOW`` unless a test says otherwise)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Optional

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
)

NOW = 1_800_000_000.0
NOW_DT = datetime.fromtimestamp(NOW, timezone.utc)
INTERVALS = {
    "discovery": 3600.0,
    "account_summary": 300.0,
    "credential_report": 3600.0,
    "mfa_devices": 300.0,
    "console_logins": 300.0,
    "root_audit": 900.0,
}


def ok(value, at: float = NOW) -> SourceStatus:
    return SourceStatus(value=value, success=True, last_success=at, last_attempt=at)


def failed(error: str, value=None, last_success: Optional[float] = None) -> SourceStatus:
    return SourceStatus(value=value, success=False, last_success=last_success, last_attempt=NOW, error=error)


def report(
    keys=(),
    certs=(),
    last_login: Optional[timedelta] = None,
    generated: timedelta = timedelta(hours=1),
    key_last_used: Optional[timedelta] = None,
    mfa: Optional[bool] = True,
) -> CredentialReport:
    """``keys``/``certs``: (active,) per existing slot; a missing slot has no credential."""
    slots = []
    for index in range(2):
        if index < len(keys):
            used = NOW_DT - key_last_used if key_last_used is not None and index == 0 else None
            slots.append(ReportAccessKey(keys[index], NOW_DT - timedelta(days=100), used))
        else:
            slots.append(ReportAccessKey(False, None, None))
    certificates = tuple(
        ReportCertificate(certs[i], NOW_DT - timedelta(days=50)) if i < len(certs) else ReportCertificate(False, None)
        for i in range(2)
    )
    return CredentialReport(
        generated=NOW_DT - generated,
        password_enabled=None,
        password_last_used=NOW_DT - last_login if last_login is not None else None,
        mfa_active=mfa,
        access_keys=tuple(slots),
        certificates=certificates,
    )


def logins(success_ago: Optional[timedelta] = None, failures: int = 0, ip: str = "203.0.113.9") -> ConsoleLogins:
    counts = {}
    newest = None
    if success_ago is not None:
        newest = ConsoleLoginEvent("ev-ok", NOW_DT - success_ago, True, True, ip)
        counts[(True, True)] = 1
    if failures:
        counts[(False, False)] = failures
    return ConsoleLogins(
        counts=MappingProxyType(counts),
        newest_success=newest,
        malformed=0,
        seen=MappingProxyType({}),
        resume_from=NOW_DT,
    )


def summary(mfa: bool = True, keys: int = 0, certs: int = 0, password: Optional[bool] = True) -> AccountSummary:
    return AccountSummary(
        mfa_enabled=mfa, access_keys_present=keys, signing_certificates_present=certs, password_present=password
    )


def audit(password=False, keys=(), certs=(), mfa=()) -> RootAudit:
    from exporter.state import MfaDevice

    return RootAudit(
        password=password,
        access_keys_active=tuple(keys),
        signing_certificates_active=tuple(certs),
        mfa_devices=tuple(MfaDevice(f"arn:{kind}", kind) for kind in mfa),
    )


def account(
    id_: str, name: str, ou_path: str = "Root", management: bool = False, email: str = "", **sources
) -> AccountState:
    """``sources``: source name → value (succeeded at NOW) or a SourceStatus."""
    statuses = {k: v if isinstance(v, SourceStatus) else ok(v) for k, v in sources.items()}
    return AccountState(
        Account(id=id_, name=name, ou_path=ou_path, management=management, email=email or f"{name}@example.com"),
        MappingProxyType(statuses),
    )


def snapshot(
    *states: AccountState,
    centralized: bool = True,
    discovery: Optional[SourceStatus] = None,
    home: str = "123456789012",
) -> Snapshot:
    return Snapshot(
        accounts=MappingProxyType({s.account.id: s for s in states}),
        home_account_id=home,
        discovery=discovery if discovery is not None else ok(None),
        org_features=ok(OrganizationFeatures(centralized, centralized)),
    )
