"""``/api/roots.json``: the page's rows, in the page's order, machine-readable."""

from __future__ import annotations

import json

import pytest

from exporter.api import respond
from exporter.web import ExporterApp
from tests.support.snapshots import INTERVALS, NOW, account, failed, snapshot, summary
from tests.test_landing import DENIED, SNAPSHOT, ids, page


def document(query_string: str = "", snap=SNAPSHOT) -> dict:
    status, body, content_type = respond(query_string, snap, True, INTERVALS, now=NOW)
    assert status == "200 OK" and content_type == "application/json"
    return json.loads(body)


@pytest.mark.parametrize(
    "query", ["", "view=no-mfa", "view=console", "ou=Root/Workloads", "q=prod", "view=attention&ou=Root/Workloads/Dev"]
)
def test_same_rows_in_the_same_order_as_the_page(query):
    assert [row["account"]["id"] for row in document(query)["accounts"]] == ids(page(query))


def test_summary_matches_the_page():
    assert document()["summary"] == {
        "accounts": 7,
        "no-mfa": 1,
        "access-keys": 1,
        "signed-in-24h": 1,
        "failed-sign-ins": 1,
        "root-activity": 0,
        "not-restricted-by-scp": 0,
        "collection-failing": 1,
    }


def test_a_row_carries_findings_with_controls_facts_and_source_errors():
    rows = {row["account"]["id"]: row for row in document()["accounts"]}
    payments = rows["333333333333"]
    assert payments["worst_severity"] == "critical"
    without_mfa = next(f for f in payments["findings"] if f["id"] == "root_without_mfa")
    assert without_mfa == {
        **without_mfa,
        "severity": "critical",
        "alert": "AWSRootCredentialsWithoutMFA",
        "cis_control": "1.5",
        "securityhub_control": "IAM.9",
    }
    assert without_mfa["detail"].startswith("no MFA device")
    assert payments["facts"]["mfa_active"] is False
    assert payments["facts"]["access_keys"][0]["active"] is True
    assert payments["account"]["ou_path"] == "Root/Workloads/Prod"
    staging = rows["999999999999"]["sources"]["account_summary"]
    assert staging["success"] is False and staging["error"] == DENIED
    assert rows["666666666666"]["facts"]["last_console_login_event"]["source_ip"] == "203.0.113.9"
    assert rows["444444444444"]["facts"]["credentials_present"] is None  # unknown stays null


def test_catalogue_of_findings_and_discovery_problem():
    doc = document(snap=snapshot(discovery=failed("NoCredentialsError: Unable to locate credentials")))
    assert doc["discovery"]["success"] is False and "never succeeded" in doc["discovery"]["problem"]
    assert {f["alert"] for f in doc["findings"]} >= {"AWSRootAccessKeyPresent", "AWSRootCredentialsWithoutMFA"}


def test_served_by_the_app_and_unknown_view_is_404():
    app = ExporterApp(lambda: SNAPSHOT, INTERVALS, lambda: True)
    replies = []
    body = b"".join(
        app(
            {"PATH_INFO": "/api/roots.json", "QUERY_STRING": "q=staging"},
            lambda status, headers: replies.append((status, dict(headers))),
        )
    )
    assert replies[0][0] == "200 OK" and replies[0][1]["Content-Type"] == "application/json"
    assert [row["account"]["name"] for row in json.loads(body)["accounts"]] == ["staging"]
    app(
        {"PATH_INFO": "/api/roots.json", "QUERY_STRING": "view=unknown"},
        lambda status, headers: replies.append((status, headers)),
    )
    assert replies[1][0] == "404 Not Found"


def test_stale_sources_say_since_when_and_their_findings_are_last_known():
    from exporter.snapshot import with_staleness

    old = account(
        "777777777777",
        "dormant",
        account_summary=failed(DENIED, summary(mfa=False, keys=1), last_success=NOW - 3 * 3600),
    )
    snap = with_staleness(snapshot(old), NOW, {"account_summary": 900.0})
    row = document(snap=snap)["accounts"][0]
    assert row["sources"]["account_summary"]["stale_since"] == "2027-01-15T05:15:00Z"
    assert "root_without_mfa" not in {f["id"] for f in row["findings"]}
    assert "root_without_mfa" in {f["id"] for f in row["last_known_findings"]}
    assert row["facts"]["mfa_active"] is None  # the stale value is not a current fact


def test_a_row_says_which_scp_restricts_root():
    from tests.test_landing import _policies_snapshot

    rows = {row["account"]["id"]: row for row in document(snap=_policies_snapshot())["accounts"]}
    assert rows["444444444444"]["root_policies"] == {
        "scps_enabled": True,
        "denies_all": True,
        "restricted_by": [
            {
                "policy_name": "DenyRootUser",
                "policy_id": "p-1",
                "target_name": "Prod",
                "target_type": "ORGANIZATIONAL_UNIT",
            },
            {"policy_name": "DenyRootEverywhere", "policy_id": "p-3", "target_name": "Root", "target_type": "ROOT"},
        ],
    }
    assert rows["777777777777"]["root_policies"] == {"scps_enabled": True, "denies_all": False, "restricted_by": []}
    assert rows["123456789012"]["root_policies"] is None
    assert "not_restricted_by_scp" in [f["id"] for f in rows["777777777777"]["findings"]]
