"""Every query of the Grafana dashboard, sent to a real Prometheus that scrapes `aws-root-exporter --demo`.

Grafana is not available here, so the test does what Grafana would: it resolves the variables
from their own queries (job, instance, OU, account — "All" for the multi-selects), substitutes
them and Grafana's interval variables into each panel query, and runs it. Every query must parse;
the queries listed in ``MUST_RETURN_DATA`` must return series for the demo organization (the
reason says which part of the scenario feeds them), the ones in ``MAY_BE_EMPTY`` may not.
The tables are then read the way Grafana's merge transformation builds them.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

from tests.support.net import http_get, wait_for
from tests.test_dashboard import (
    load_dashboard,
    panel_by_title,
    parse_label_values,
    query_panels,
    substitute,
    variable_query,
    variables,
)

pytestmark = pytest.mark.e2e

DASHBOARD = load_dashboard()
JOB = "aws-root-exporter"
# The demo's active accounts (fakeaws/src/fakeaws/demo.py); 101010101010 is suspended, not collected.
DEMO_ACCOUNT_IDS = {"123456789012"} | {str(digit) * 12 for digit in range(1, 10)}
SUSPENDED_ACCOUNT_ID = "101010101010"
NO_CREDENTIALS = {"222222222222", "777777777777"}  # roots without any credentials in the demo
NO_MFA_WITH_CREDENTIALS = "333333333333"  # prod-payments: password and an active key, no MFA
ASSUME_ROLE_DENIED = "999999999999"  # staging

MUST_RETURN_DATA = {
    ("Accounts monitored", "A"): "a count, 0 when nothing matches",
    ("Roots without MFA", "A"): "a count, 0 when nothing matches",
    ("Roots with active access keys", "A"): "a count, 0 when nothing matches",
    ("Active signing certificates", "A"): "a count, 0 when nothing matches",
    ("Root console sign-ins", "A"): "a count, 0 when nothing matches",
    ("Accounts failing collection", "A"): "a count, 0 when nothing matches",
    ("All root users", "A"): "every collected account has root_account_info",
    ("All root users", "B"): "root_credentials_present for every account",
    ("All root users", "C"): "MFA state for every account",
    ("All root users", "D"): "MFA kind for every account",
    ("All root users", "E"): "the demo's roots have passwords, read from the summary or AssumeRoot",
    ("All root users", "F"): "the credential report has key 1 for every account",
    ("All root users", "G"): "the credential report has key 2 for every account",
    ("All root users", "H"): "the credential report has certificate 1 for every account",
    ("All root users", "I"): "the credential report has certificate 2 for every account",
    ("All root users", "J"): "data-lake signed in 30 minutes ago, management 40 days ago",
    ("All root users", "K"): "prod-payments' key was used 2 hours ago",
    ("Signed in via console", "A"): "data-lake and management have a last console sign-in",
    ("Signed in via console", "B"): "data-lake's successful CloudTrail sign-in",
    ("Root sign-in events", "A"): "data-lake's success and failure counters",
    ("Without MFA", "A"): "prod-payments has a password and no MFA",
    ("With access keys", "A"): "prod-payments and legacy-billing have an active key",
    ("With access keys", "B"): "prod-payments' active key was used",
    ("With access keys", "C"): "every active key has a rotation time",
    ("Successful collections by source", "A"): "every account has a success gauge per source",
    ("Age of the oldest last success", "A"): "every source succeeded for some account",
    ("Collection duration by source", "A"): "every source ran once before the exporter is ready",
    ("Exporter up", "A"): "Prometheus scrapes the exporter",
    ("Exporter version", "A"): "root_exporter_build_info",
    ("Failing collections", "A"): "staging denies AssumeRole, so its role-based sources fail",
    ("Oldest credential report", "A"): "the credential report of every reachable account",
    ("Root activity by account and event", "A"): "the demo's stream: data-lake, prod-payments, log-archive",
    ("Accounts without detection", "A"): "a count, 0 when nothing matches",
    ("Last heartbeat", "A"): "the demo puts a heartbeat on its bus at start and every minute",
    ("Event stream delay", "A"): "the demo's events and heartbeats fill the delay histogram",
    ("Event stream delay", "B"): "the demo's events and heartbeats fill the delay histogram",
    ("Member roots not restricted by SCP", "A"): "a count, 0 when nothing matches",
    ("SCP coverage of member roots", "A"): "the demo enables SCPs: every member has root_scp_denies_root",
    ("SCP coverage of member roots", "B"): "every member has root_scp_denied_root_actions",
    ("SCP coverage of member roots", "C"): "root_credentials_present of every member",
}
MAY_BE_EMPTY: dict[tuple[str, str], str] = {}

VALUES_FOR_ALL = {"instance": ".*", "ou": ".*", "account": ".*"}


def targets() -> list[tuple[str, str, str]]:
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in query_panels(DASHBOARD)
        for target in panel["targets"]
    ]


def instant(prometheus, expr: str) -> list[dict]:
    """Evaluate ``expr`` now; a query Prometheus rejects fails the test with its error."""
    status, body = http_get(f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", f"Prometheus rejected {expr}:\n{body}"
    return answer["data"]["result"]


def eventually(prometheus, expr: str, timeout: float = 90.0) -> list[dict]:
    """The result of ``expr`` once it is not empty (range functions need a few scrapes)."""
    return wait_for(lambda: instant(prometheus, expr), timeout, f"data for {expr}", interval=1.0)


def label_values(prometheus, query: str, values: dict[str, str]) -> list[str]:
    """What Grafana lists for ``label_values(selector, label)``: the label API with a match[] selector."""
    selector, label = parse_label_values(substitute(query, values))
    status, body = http_get(
        f"{prometheus.url}/api/v1/label/{label}/values?" + urllib.parse.urlencode({"match[]": selector})
    )
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", f"Prometheus rejected {query}:\n{body}"
    return answer["data"]


@pytest.fixture(scope="module")
def values(prometheus_demo) -> dict[str, str]:
    """Variable values as Grafana resolves them on load: the exporter's job, "All" for the rest."""
    wait_for(lambda: instant(prometheus_demo, "root_exporter_build_info"), 90, "the first scrape", interval=1.0)
    jobs = label_values(prometheus_demo, "label_values(root_exporter_build_info, job)", {})
    assert JOB in jobs
    return {"job": JOB, **VALUES_FOR_ALL}


def table_rows(prometheus, title: str, values: dict[str, str]) -> dict[str, dict[str, dict]]:
    """refId → account_id → labels and value of that query's row."""
    rows: dict[str, dict[str, dict]] = {}
    for target in panel_by_title(DASHBOARD, title)["targets"]:
        result = instant(prometheus, substitute(target["expr"], values))
        rows[target["refId"]] = {
            s["metric"]["account_id"]: {**s["metric"], "value": float(s["value"][1])} for s in result
        }
    return rows


def account_ids(prometheus, expr: str) -> set[str]:
    return {series["metric"]["account_id"] for series in instant(prometheus, expr)}


# ---------------------------------------------------------------- every query


def test_every_query_has_an_explicit_expectation():
    keys = {(title, ref_id) for title, ref_id, _ in targets()}
    assert set(MUST_RETURN_DATA) | set(MAY_BE_EMPTY) == keys
    assert not set(MUST_RETURN_DATA) & set(MAY_BE_EMPTY)


def test_variable_queries_list_the_demo(prometheus_demo, values):
    resolved: dict[str, str] = {}
    listed: dict[str, list[str]] = {}
    for variable in variables(DASHBOARD):
        if variable["type"] != "query":
            continue
        listed[variable["name"]] = label_values(prometheus_demo, variable_query(variable), resolved)
        assert listed[variable["name"]], f"variable {variable['name']} lists nothing"
        resolved[variable["name"]] = values[variable["name"]]
    assert JOB in listed["job"]
    assert len(listed["account"]) == len(DEMO_ACCOUNT_IDS), listed["account"]
    assert "old-project" not in listed["account"], "the suspended account is listed"
    assert {"Root", "Root/Security", "Root/Workloads/Prod"} <= set(listed["ou"])


@pytest.mark.parametrize("title,ref_id,expr", targets(), ids=[f"{t}/{r}" for t, r, _ in targets()])
def test_panel_query_runs_against_the_demo(prometheus_demo, values, title, ref_id, expr):
    query = substitute(expr, values)
    if (title, ref_id) in MUST_RETURN_DATA:
        assert eventually(prometheus_demo, query), f"{title} {ref_id}: {MUST_RETURN_DATA[(title, ref_id)]}"
    else:
        instant(prometheus_demo, query)


# ---------------------------------------------------------------- what the tables and stats show


def test_all_root_users_table_has_one_row_per_demo_account(prometheus_demo, values):
    rows = table_rows(prometheus_demo, "All root users", values)
    accounts = set(rows["A"])
    assert accounts == DEMO_ACCOUNT_IDS
    assert SUSPENDED_ACCOUNT_ID not in accounts
    # Grafana's merge makes one row per account only if no query brings an account the others lack.
    for ref_id, by_account in rows.items():
        assert set(by_account) <= accounts, f"query {ref_id} adds rows for {set(by_account) - accounts}"
    for ref_id in ("B", "C", "D"):
        assert set(rows[ref_id]) == accounts, f"query {ref_id} leaves cells empty for {accounts - set(rows[ref_id])}"
    assert all(row["email"] and row["ou_path"] for row in rows["A"].values())

    # MFA column: "no credentials" (2) for exactly the roots without credentials, never a red "no".
    no_credentials = {a for a, row in rows["B"].items() if row["value"] == 0}
    assert NO_CREDENTIALS <= no_credentials
    assert {a for a, row in rows["C"].items() if row["value"] == 2} == no_credentials
    assert {a for a, row in rows["C"].items() if row["value"] == 0} == {NO_MFA_WITH_CREDENTIALS}


def test_without_mfa_lists_only_roots_with_credentials(prometheus_demo, values):
    listed = account_ids(
        prometheus_demo, substitute(panel_by_title(DASHBOARD, "Without MFA")["targets"][0]["expr"], values)
    )
    expected = account_ids(
        prometheus_demo,
        f'root_credentials_present{{job="{JOB}"}} == 1 and on(account_id) root_mfa_active{{job="{JOB}"}} == 0',
    )
    assert listed == expected
    assert NO_MFA_WITH_CREDENTIALS in listed
    assert not listed & NO_CREDENTIALS


def test_signed_in_table_shows_the_cloudtrail_sign_in(prometheus_demo, values):
    rows = table_rows(prometheus_demo, "Signed in via console", values)
    (data_lake,) = [row for account, row in rows["B"].items() if account == "666666666666"]
    assert data_lake["source_ip"] == "203.0.113.10" and data_lake["mfa_used"] == "true"
    # The failed attempt from 198.51.100.7 is not a sign-in; the IAM user's sign-in is not root's.
    assert all(row["source_ip"] != "198.51.100.7" for row in rows["B"].values())
    assert set(rows["B"]) <= set(rows["A"]), "a CloudTrail sign-in without a last sign-in time"


def _stat(prometheus, title: str, values: dict[str, str]) -> float:
    (series,) = instant(prometheus, substitute(panel_by_title(DASHBOARD, title)["targets"][0]["expr"], values))
    return float(series["value"][1])


def test_summary_stats_agree_with_the_tables(prometheus_demo, values):
    def table_accounts(title: str) -> set[str]:
        return set(table_rows(prometheus_demo, title, values)["A"])

    assert _stat(prometheus_demo, "Accounts monitored", values) == len(DEMO_ACCOUNT_IDS)
    assert _stat(prometheus_demo, "Roots without MFA", values) == len(table_accounts("Without MFA"))
    assert _stat(prometheus_demo, "Roots with active access keys", values) == len(table_accounts("With access keys"))
    failing = table_accounts("Failing collections")
    assert ASSUME_ROLE_DENIED in failing
    assert _stat(prometheus_demo, "Accounts failing collection", values) == len(failing)


def test_filters_narrow_every_table(prometheus_demo, values):
    """Choosing one account (and its OU) leaves that account alone in the table, as a user expects."""
    narrowed = {**values, "account": "prod-payments", "ou": "Root/Workloads/Prod"}
    rows = table_rows(prometheus_demo, "All root users", narrowed)
    assert {account for by_account in rows.values() for account in by_account} == {NO_MFA_WITH_CREDENTIALS}
    other_ou = {**values, "ou": "Root/Security"}
    assert NO_MFA_WITH_CREDENTIALS not in set(table_rows(prometheus_demo, "All root users", other_ou)["A"])


def test_root_activity_panel_tells_root_credentials_from_assume_root_tasks(prometheus_demo, values):
    """The demo's stream: data-lake and prod-payments used root credentials; log-archive's only
    root activity is a central AssumeRoot task."""
    (target,) = panel_by_title(DASHBOARD, "Root activity by account and event")["targets"]
    series = eventually(prometheus_demo, substitute(target["expr"], values))
    seen = {(s["metric"]["account_name"], s["metric"]["event_name"], s["metric"]["session"]) for s in series}
    assert ("log-archive", "DeleteLoginProfile", "assumed_root") in seen
    assert ("data-lake", "ConsoleLogin", "root_credentials") in seen
    assert ("prod-payments", "CreateAccessKey", "root_credentials") in seen
    assert not {s for s in seen if s[0] == "log-archive" and s[2] == "root_credentials"}
    (detection,) = panel_by_title(DASHBOARD, "Accounts without detection")["targets"]
    assert float(instant(prometheus_demo, substitute(detection["expr"], values))[0]["value"][1]) == 0.0


def test_scp_coverage_shows_covered_and_uncovered_members(prometheus_demo, values):
    """The demo's deny-root SCP covers the Security and Workloads/Prod OUs; Workloads/Dev has only a
    partial one and Infrastructure none (fakeaws/src/fakeaws/demo.py)."""
    rows = table_rows(prometheus_demo, "SCP coverage of member roots", values)
    denies = {account_id: row["value"] for account_id, row in rows["A"].items()}
    assert set(denies) == DEMO_ACCOUNT_IDS - {"123456789012"}  # the management account: SCPs never apply
    assert {a for a, v in denies.items() if v == 1.0} == {
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
        "666666666666",
        "888888888888",
    }
    assert rows["B"]["555555555555"]["value"] == 1.0  # dev-sandbox: only iam:CreateAccessKey is denied
    # dev-sandbox and staging have credentials and no full deny; shared-services has no credentials
    count = instant(
        prometheus_demo,
        substitute(panel_by_title(DASHBOARD, "Member roots not restricted by SCP")["targets"][0]["expr"], values),
    )
    assert float(count[0]["value"][1]) == 2.0
