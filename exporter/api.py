"""``/api/roots.json``: the landing page's rows, machine-readable.

The same query parameters as ``/`` (``view``, ``ou``, ``q``), the same rows in the same order,
each with its findings (severity, alert, controls), the merged root facts and every source's
status with its error. Times are ISO 8601 in UTC; unknown facts are ``null``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from exporter.findings import FINDINGS, Assessment, Finding
from exporter.landing import SUMMARY, Page, Query, count, respond_with, select
from exporter.root_facts import RootFacts
from exporter.sources import root_policies
from exporter.state import AccountState, SourceStatus


def _iso(value: Optional[datetime]) -> Optional[str]:
    return None if value is None else value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _unix_iso(value: Optional[float]) -> Optional[str]:
    return None if value is None else _iso(datetime.fromtimestamp(value, timezone.utc))


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "title": finding.title,
        "severity": finding.severity,
        "alert": finding.alert,
        "cis_control": finding.cis_control,
        "securityhub_control": finding.securityhub_control,
        "description": finding.description,
        "view": finding.view,
    }


def _status(status: SourceStatus) -> dict[str, Any]:
    return {
        "success": status.success,
        "last_success": _unix_iso(status.last_success),
        "last_attempt": _unix_iso(status.last_attempt),
        "error": status.error,
        "stale_since": _unix_iso(status.stale_since),
    }


def facts_json(facts: RootFacts) -> dict[str, Any]:
    def slot(value) -> dict[str, Any]:
        return {"active": value.active, "last_used": _iso(value.last_used), "last_rotated": _iso(value.last_rotated)}

    event = facts.last_console_login_event
    return {
        "mfa_active": facts.mfa_active,
        "mfa_hardware": facts.mfa_hardware,
        "mfa_devices": dict(facts.mfa_devices) if facts.mfa_devices is not None else None,
        "password_enabled": facts.password_enabled,
        "access_keys": [slot(key) for key in facts.access_keys],
        "certificates": [slot(cert) for cert in facts.certificates],
        "credentials_present": facts.credentials_present,
        "last_console_login": _iso(facts.last_console_login),
        "last_console_login_event": None
        if event is None
        else {"time": _iso(event.time), "source_ip": event.source_ip, "mfa_used": event.mfa_used},
        "credential_report_generated": _iso(facts.report_generated),
    }


def policies_json(state: AccountState) -> Optional[dict[str, Any]]:
    """The SCPs that restrict the member's root, with where each is attached; null where the
    source has not run or does not apply (management account, static discovery)."""
    value = state.value(root_policies.NAME)
    if value is None:
        return None
    return {
        "scps_enabled": value.scps_enabled,
        "denies_all": value.denies_all,
        "restricted_by": [
            {"policy_name": name, "policy_id": policy_id, "target_name": target, "target_type": kind}
            for name, policy_id, target, kind in root_policies.describe(state)
        ],
    }


def row_json(item: Assessment) -> dict[str, Any]:
    account = item.state.account
    return {
        "account": {
            "id": account.id,
            "name": account.name,
            "email": account.email,
            "ou_path": account.ou_path,
            "state": account.state,
            "management": account.management,
        },
        "worst_severity": item.worst,
        "findings": [{**finding_json(hit.finding), "detail": hit.detail} for hit in item.hits],
        # What stale values (past collection.stale_after) last showed: not current, no alert.
        "last_known_findings": [{**finding_json(hit.finding), "detail": hit.detail} for hit in item.stale_hits],
        "facts": facts_json(item.facts),
        "root_policies": policies_json(item.state),
        "sources": {name: _status(status) for name, status in sorted(item.state.sources.items())},
    }


def document(snapshot, page: Page, ready: bool) -> dict[str, Any]:
    discovery = snapshot.discovery
    return {
        "generated_at": _unix_iso(page.now),
        "ready": ready,
        "query": {"view": page.query.view.key, "ou": page.query.ou, "q": page.query.q},
        "discovery": None if discovery is None else {**_status(discovery), "problem": page.problem},
        "summary": {"accounts": len(page.scope), **{key: count(page, key) for _, key in SUMMARY}},
        "findings": [finding_json(finding) for finding in FINDINGS],
        "accounts": [row_json(item) for item in page.rows],
    }


def render(snapshot, query: Query, ready: bool, intervals: Mapping[str, float], now: Optional[float] = None) -> str:
    page = select(snapshot, query, intervals, now)
    return json.dumps(document(snapshot, page, ready), indent=1, sort_keys=False) + "\n"


def respond(
    query_string: str, snapshot, ready: bool, intervals: Mapping[str, float], now: Optional[float] = None
) -> tuple[str, str, str]:
    """(HTTP status, body, content type) for ``/api/roots.json``."""
    return respond_with(render, "application/json", query_string, snapshot, ready, intervals, now)
