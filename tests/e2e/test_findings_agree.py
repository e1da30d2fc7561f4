"""One verdict: on the demo organization, the page lists exactly the accounts for which real
Prometheus fires each finding's alert.

``aws-root-exporter --demo`` serves the page; real Prometheus scrapes it every second and
evaluates the shipped expressions of prometheus/alerts.yml (only ``for:`` shortened, see
tests/e2e/conftest.py). For every finding of exporter/findings.py that has an alert, the accounts
of the page's view for that finding (``/?view=<view>``) and of ``/api/roots.json`` must equal
the accounts of that alert's firing instances. The exporter runs with the root e-mail policy of
tests/fixtures/demo-config.yaml, so that the e-mail finding is compared too.
"""

from __future__ import annotations

import json
import time

import pytest

from exporter.findings import FINDINGS
from tests.support.chromium import parse_html
from tests.support.net import http_get

pytestmark = pytest.mark.e2e

ALERTING = [finding for finding in FINDINGS if finding.alert]
AGREE_TIMEOUT = 60.0  # seconds for pending alerts to fire after their shortened for:


def page_accounts(url: str) -> dict[str, set[str]]:
    """finding id → account ids the page's view for that finding lists."""
    listed = {}
    for finding in ALERTING:
        status, body = http_get(f"{url}/?view={finding.view}")
        assert status == 200, body
        table = parse_html(body).find("table", id="root-users").find("tbody")
        listed[finding.id] = {row.attrs["data-account-id"] for row in table.find_all("tr", data_account_id=None)}
    return listed


def api_accounts(url: str) -> dict[str, set[str]]:
    status, body = http_get(f"{url}/api/roots.json")
    assert status == 200, body
    listed = {finding.id: set() for finding in ALERTING}
    for row in json.loads(body)["accounts"]:
        for finding in row["findings"]:
            if finding["id"] in listed:
                listed[finding["id"]].add(row["account"]["id"])
    return listed


def firing_accounts(demo) -> dict[str, set[str]]:
    by_alert = {finding.alert: finding.id for finding in ALERTING}
    firing = {finding.id: set() for finding in ALERTING}
    for alert in demo.alerts():
        finding = by_alert.get(alert["labels"]["alertname"])
        if finding is not None and alert["state"] == "firing":
            firing[finding].add(alert["labels"].get("account_id", ""))
    return firing


def differences(page: dict[str, set[str]], prometheus: dict[str, set[str]]) -> list[str]:
    return [
        f"  {finding.alert} ({finding.id}): page {sorted(page[finding.id])}, Prometheus {sorted(prometheus[finding.id])}"
        for finding in ALERTING
        if page[finding.id] != prometheus[finding.id]
    ]


def test_page_and_prometheus_name_the_same_accounts_for_every_finding(prometheus_demo):
    url = prometheus_demo.exporter.url
    deadline = time.monotonic() + AGREE_TIMEOUT
    while True:
        page, api, fired = page_accounts(url), api_accounts(url), firing_accounts(prometheus_demo)
        diff = differences(page, fired)
        if not diff or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not diff, "the page and the alerts disagree:\n" + "\n".join(diff) + "\n" + prometheus_demo.logs()[-5000:]
    assert api == page, "/api/roots.json and the page disagree"
    # The scenario exercises most findings; an empty comparison would prove nothing.
    shown = {finding_id for finding_id, accounts in page.items() if accounts}
    assert shown >= {
        "root_without_mfa",
        "access_key_active",
        "access_key_present",
        "access_key_used_recently",
        "console_sign_in_recent",
        "console_sign_in_failures",
        "mfa_virtual_only",
        "signing_certificate_active",
        "password_with_centralized_root_access",
        "collection_failing",
        "root_activity",
        "password_recovery",
        "mfa_removed",
        "access_key_created",
        "not_restricted_by_scp",
        "email_not_allowed",
    }
    # The demo's organization trail covers every reachable account: detection is on everywhere,
    # and both sides agree on that too (checked above with the empty sets).
    assert not page["activity_detection_off"]
