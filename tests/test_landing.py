"""The landing page as a person reads it: summary, order, findings, facts, filters, banner."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from exporter.landing import Query, UnknownView, VIEW_BY_KEY, render, respond
from exporter.state import VirtualMfa
from exporter.web import ExporterApp
from tests.support.chromium import Element, parse_html
from tests.support.snapshots import INTERVALS, NOW, account, audit, failed, logins, report, snapshot, summary

HOSTILE = "<script>alert('root')</script>"
DENIED = "AccessDenied (AssumeRole): User: arn:aws:iam::123456789012:root is not authorized to perform: sts:AssumeRole"

MANAGEMENT = account(
    "123456789012",
    "management",
    management=True,
    account_summary=summary(),
    mfa_devices=VirtualMfa(False),
    credential_report=report(last_login=timedelta(days=40)),
)
NO_MFA = account(
    "333333333333",
    "prod-payments",
    "Root/Workloads/Prod",
    account_summary=summary(mfa=False, keys=1),
    credential_report=report(keys=(True,), key_last_used=timedelta(hours=2)),
)
LAKE = account(
    "666666666666",
    "data-lake",
    "Root/Workloads/Prod",
    account_summary=summary(),
    mfa_devices=VirtualMfa(False),
    console_logins=logins(timedelta(minutes=30), failures=1),
)
NO_CREDENTIALS = account(
    "222222222222", "log-archive", "Root/Security", account_summary=summary(mfa=False, password=False)
)
UNKNOWN = account("444444444444", "unknown-creds", "Root/Workloads/Dev", credential_report=report(mfa=False))
STAGING = account(
    "999999999999",
    "staging",
    "Root/Workloads/Dev",
    account_summary=failed(DENIED),
    root_audit=audit(password=False, mfa=("hardware",)),
)
HOSTILE_ROW = account("555555555555", HOSTILE, 'Root/"Ops" & <Co>', account_summary=summary(password=False))
SNAPSHOT = snapshot(MANAGEMENT, NO_MFA, LAKE, NO_CREDENTIALS, UNKNOWN, STAGING, HOSTILE_ROW)


def page(query_string: str = "", snap=SNAPSHOT, ready: bool = True) -> Element:
    status, body, content_type = respond(query_string, snap, ready, INTERVALS, now=NOW)
    assert status == "200 OK" and content_type.startswith("text/html"), (status, body)
    return parse_html(body)


def rows(dom: Element) -> list[Element]:
    return dom.find("table", id="root-users").find("tbody").find_all("tr", data_account_id=None)


def row(dom: Element, account_id: str) -> Element:
    return dom.find("tr", data_account_id=account_id)


def ids(dom: Element) -> list[str]:
    return [r.attrs["data-account-id"] for r in rows(dom)]


def summary_numbers(dom: Element) -> dict[str, int]:
    return {a.attrs["data-summary"]: int(a.find("b").text()) for a in dom.find("div", id="summary").find_all("a")}


def findings_of(dom: Element, account_id: str) -> list[str]:
    return [li.attrs["data-finding"] for li in row(dom, account_id).find_all("li", data_finding=None)]


def test_summary_counts_at_the_top():
    assert summary_numbers(page()) == {
        "accounts": 7,
        "no-mfa": 1,
        "access-keys": 1,
        "signed-in-24h": 1,
        "failed-sign-ins": 1,
        "root-activity": 0,
        "not-restricted-by-scp": 0,
        "collection-failing": 1,
    }


def test_summary_counts_root_use_and_roots_no_scp_restricts():
    from exporter.root_activity import RootActivity, with_root_activity
    from exporter.state import RootPolicies

    unrestricted = account(
        "777777777777", "shared", "Root/Infrastructure", account_summary=summary(), root_policies=RootPolicies(True)
    )
    snap = with_root_activity(
        snapshot(MANAGEMENT, NO_MFA, unrestricted),
        [RootActivity("ev-1", NO_MFA.account.id, "CreateAccessKey", "root_credentials", NOW - 60)],
        NOW - 60,
    )
    numbers = summary_numbers(page(snap=snap))
    assert (numbers["root-activity"], numbers["not-restricted-by-scp"]) == (1, 1)
    assert ids(page("view=root-activity", snap)) == [NO_MFA.account.id]
    assert ids(page("view=not-restricted-by-scp", snap)) == ["777777777777"]


def test_rows_are_ordered_by_worst_finding():
    order = ids(page())
    assert order[:2] == ["333333333333", "666666666666"]  # critical: more findings first
    assert order.index("999999999999") < order.index("123456789012")  # warning before none
    assert set(order[-4:]) == {"123456789012", "222222222222", "444444444444", "555555555555"}  # no findings
    assert row(page(), "333333333333").attrs["data-worst"] == "critical"


def test_each_finding_is_spelled_out_with_its_controls():
    dom = page()
    item = row(dom, "333333333333").find("li", data_finding="root_without_mfa")
    assert "Root has credentials but no MFA" in item.text()
    assert "CIS 1.5 · Security Hub IAM.9" in item.text()
    assert item.attrs["data-severity"] == "critical"
    assert "No findings" in row(dom, "222222222222").find("td", data_field="findings").text()


def test_member_password_under_centralized_root_access_looks_bad():
    dom = page()
    password = row(dom, "666666666666").find("span", data_field="password")
    assert password.text() == "Password: yes" and "bad" in password.classes()
    management = row(dom, "123456789012").find("span", data_field="password")
    assert management.text() == "Password: yes" and "bad" not in management.classes()


def test_a_sign_in_thirty_minutes_ago_differs_from_one_forty_days_ago():
    dom = page()
    recent = row(dom, "666666666666").find("td", data_field="last_console_login")
    old = row(dom, "123456789012").find("td", data_field="last_console_login")
    assert "30 minutes ago" in recent.text() and "203.0.113.9" in recent.text()
    assert "40 days ago" in old.text()
    assert recent.find_all("span", **{"class": "recent"}) and not old.find_all("span", **{"class": "recent"})


def test_failed_sign_ins_appear():
    dom = page()
    assert "console_sign_in_failures" in findings_of(dom, "666666666666")
    assert ids(page("view=failed-sign-ins")) == ["666666666666"]


def test_unknown_credentials_are_not_listed_without_mfa():
    assert ids(page("view=no-mfa")) == ["333333333333"]
    mfa = row(page(), "444444444444").find("span", data_field="mfa")
    assert "bad" not in mfa.classes()


def test_root_without_credentials_needs_no_mfa():
    mfa = row(page(), "222222222222").find("span", data_field="mfa")
    assert mfa.text() == "MFA: not needed" and "good" in mfa.classes()


def test_the_reason_a_source_fails_is_shown():
    cell = row(page(), "999999999999").find("td", data_field="collection")
    assert "failing: account_summary" in cell.text()
    assert "not authorized to perform: sts:AssumeRole" in cell.text()


def test_views_filter_and_old_view_urls_still_work():
    assert ids(page("view=access-keys")) == ["333333333333"]
    assert ids(page("view=console")) == ["666666666666", "123456789012"]  # newest first
    assert set(ids(page("view=attention"))) == {"333333333333", "666666666666", "999999999999"}
    assert len(ids(page("view=all"))) == 7


def test_unknown_view_is_a_404():
    status, body, _ = respond("view=unknown", SNAPSHOT, True, INTERVALS, now=NOW)
    assert status.startswith("404") and "unknown" in body
    with pytest.raises(UnknownView):
        Query.parse("view=nonsense")
    app = ExporterApp(lambda: SNAPSHOT, INTERVALS, lambda: True)
    statuses = []
    app({"PATH_INFO": "/", "QUERY_STRING": "view=unknown"}, lambda status, headers: statuses.append(status))
    assert statuses == ["404 Not Found"]


def test_filter_by_ou_includes_the_ous_below():
    assert set(ids(page("ou=Root/Workloads"))) == {"333333333333", "666666666666", "444444444444", "999999999999"}
    assert set(ids(page("ou=Root/Workloads/Dev"))) == {"444444444444", "999999999999"}
    assert summary_numbers(page("ou=Root/Workloads/Dev"))["accounts"] == 2
    options = [o.attrs["value"] for o in page().find("select").find_all("option")]
    assert "Root/Workloads" in options and "Root/Workloads/Prod" in options


def test_search_by_name_id_or_email():
    assert ids(page("q=PAYMENTS")) == ["333333333333"]
    assert ids(page("q=9999")) == ["999999999999"]
    assert ids(page("q=data-lake@example")) == ["666666666666"]
    assert ids(page("q=nothing-like-this")) == []


def test_links_keep_the_filters():
    dom = page("ou=Root/Workloads&q=prod")
    link = dom.find("nav").find("a", data_view="no-mfa").attrs["href"]
    assert link == "/?view=no-mfa&ou=Root%2FWorkloads&q=prod"
    assert ids(page(link[2:])) == ["333333333333"]


def test_every_view_is_reachable_by_url():
    for key in VIEW_BY_KEY:
        dom = page(f"view={key}")
        current = [
            a.attrs["data-view"] for a in dom.find("nav").find_all("a", data_view=None) if "current" in a.classes()
        ]
        assert current == [key]


def test_banner_when_discovery_fails_or_never_succeeded():
    assert not page().find_all("section", id="discovery-banner")
    never = snapshot(discovery=failed("NoCredentialsError: Unable to locate credentials"))
    banner = page(snap=never).find("section", id="discovery-banner")
    assert "never succeeded: NoCredentialsError: Unable to locate credentials" in banner.text()
    assert "AWS_PROFILE" in banner.text()
    assert banner.find("a").attrs["href"].endswith("README.md#troubleshooting-credentials")
    failing = snapshot(
        MANAGEMENT, discovery=failed("ExpiredTokenException (ListAccounts): expired", last_success=NOW - 7200)
    )
    assert "is failing: ExpiredTokenException" in page(snap=failing).find("section", id="discovery-banner").text()


def test_banner_shows_the_hint_the_log_line_gives():
    """The banner repeats the advice that discovery logged (``aws.errors.remedy``), not only the error."""
    hint = 'renew the SSO session: aws sso login --profile audit (see README section "Troubleshooting credentials")'
    status = replace(failed("TokenRetrievalError: the SSO session has expired"), hint=hint)
    banner = page(snap=snapshot(discovery=status)).find("section", id="discovery-banner")
    assert "What to do: renew the SSO session: aws sso login --profile audit" in banner.text()


def test_names_and_ou_paths_are_escaped():
    _, body, _ = respond("", SNAPSHOT, True, INTERVALS, now=NOW)
    assert HOSTILE not in body and "&lt;script&gt;" in body
    cell = row(parse_html(body), "555555555555").find("td", data_field="account")
    assert HOSTILE in cell.text() and 'Root/"Ops" & <Co>' in cell.text()


def test_not_ready_notice_and_empty_view():
    assert "still running" in page(ready=False).text()
    assert "still running" not in page().text()
    assert "No root users in this view." in page("view=report-old").text()


def test_render_without_a_clock_uses_now():
    assert "aws-root-exporter" in render(snapshot())


def test_a_row_with_stale_data_says_since_when_and_lists_its_findings_as_last_known():
    from exporter.snapshot import with_staleness

    old = account(
        "777777777777",
        "dormant",
        account_summary=failed(DENIED, summary(mfa=False, keys=1), last_success=NOW - 3 * 3600),
    )
    snap = with_staleness(snapshot(old, NO_CREDENTIALS), NOW, {"account_summary": 900.0})
    dom = page(snap=snap)
    row = dom.find("tr", data_account_id="777777777777")
    assert row.attrs.get("data-stale") == "account_summary"
    note = row.find("div", data_stale="account_summary")
    assert note.text().startswith("stale since 2027-01-15 05:15 UTC")
    current = [li.attrs["data-finding"] for li in row.find_all("li", data_finding=None) if "data-stale" not in li.attrs]
    assert "root_without_mfa" not in current and "data_stale" in current
    last_known = row.find("li", data_finding="root_without_mfa")
    assert last_known.attrs.get("data-stale") == "true" and "last known" in last_known.text()
    assert dom.find("a", data_summary="no-mfa").find("b").text() == "0"  # not counted as current
    assert "data-stale" not in dom.find("tr", data_account_id=NO_CREDENTIALS.account.id).attrs


# ------------------------------------------------------------------ which SCP restricts root (issue 13)


def _policies_snapshot():
    from exporter.state import PolicyAttachment, RootPolicies

    deny = PolicyAttachment("p-1", "DenyRootUser", "ou-prod", "Prod", "ORGANIZATIONAL_UNIT")
    everywhere = PolicyAttachment("p-3", "DenyRootEverywhere", "r-root", "Root", "ROOT")
    partial = PolicyAttachment("p-2", "DenyRootAccessKeys", "ou-dev", "Dev", "ORGANIZATIONAL_UNIT")
    restricted = account(
        "444444444444",
        "prod-web",
        "Root/Workloads/Prod",
        account_summary=summary(),
        root_policies=RootPolicies(True, True, float("inf"), (deny, everywhere)),
    )
    partly = account(
        "555555555555",
        "dev-sandbox",
        "Root/Workloads/Dev",
        account_summary=summary(),
        root_policies=RootPolicies(True, False, 1.0, (partial,)),
    )
    unrestricted = account(
        "777777777777", "shared", "Root/Infrastructure", account_summary=summary(), root_policies=RootPolicies(True)
    )
    return snapshot(MANAGEMENT, restricted, partly, unrestricted)


def test_each_row_says_which_scp_restricts_root_and_where_it_is_attached():
    dom = page(snap=_policies_snapshot())

    def cell(account_id):
        return row(dom, account_id).find("small", data_field="restricted_by")

    assert cell("444444444444").text() == (
        "Root restricted by: DenyRootUser (OU Prod), DenyRootEverywhere (organization root)"
    )
    assert "good" in cell("444444444444").classes()
    assert cell("555555555555").text() == "Root partly restricted by: DenyRootAccessKeys (OU Dev)"
    assert cell("777777777777").text() == "Root restricted by: no SCP"
    assert "bad" in cell("777777777777").classes()  # the AWSRootNotRestrictedBySCP finding holds
    # SCPs never apply to the management account
    assert not row(dom, "123456789012").find_all("small", data_field="restricted_by")


def test_scp_names_from_aws_are_escaped():
    from exporter.state import PolicyAttachment, RootPolicies

    hostile = PolicyAttachment("p-9", HOSTILE, "ou-x", "<b>ou</b>", "ORGANIZATIONAL_UNIT")
    state = account(
        "444444444444",
        "prod-web",
        account_summary=summary(),
        root_policies=RootPolicies(True, True, float("inf"), (hostile,)),
    )
    status, body, _ = respond("", snapshot(state), True, INTERVALS, now=NOW)
    assert HOSTILE not in body and "<b>ou</b>" not in body
    assert f"{HOSTILE} (OU <b>ou</b>)" in row(parse_html(body), "444444444444").text()
