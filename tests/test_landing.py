"""The landing page: every account in the "all" view, the filtered views, escaping."""

from __future__ import annotations

from datetime import datetime, timezone
from html.parser import HTMLParser
from types import MappingProxyType

from exporter.landing import render
from exporter.state import (Account, AccountState, AccountSummary, ConsoleLoginEvent, ConsoleLogins,
                            CredentialReport, ReportAccessKey, ReportCertificate, Snapshot, SourceStatus, VirtualMfa)

T0 = 1_800_000_000.0


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def ok(value) -> SourceStatus:
    return SourceStatus(value=value, success=True, last_success=T0, last_attempt=T0)


def report(keys=(False, False), last_login=None) -> CredentialReport:
    slots = tuple(ReportAccessKey(active, utc(2024, 1, 1) if active else None, None) for active in keys)
    return CredentialReport(generated=utc(2026, 11, 27, 8), password_enabled=None, password_last_used=last_login,
                            mfa_active=True, access_keys=slots,
                            certificates=(ReportCertificate(False, None), ReportCertificate(False, None)))


def logins(when: datetime, ip: str) -> ConsoleLogins:
    newest = ConsoleLoginEvent("ev-1", when, True, True, ip)
    return ConsoleLogins(counts=MappingProxyType({(True, True): 1}), newest_success=newest, malformed=0,
                         seen=MappingProxyType({"ev-1": when.timestamp()}), resume_from=when)


def account(id_: str, name: str, ou_path: str = "Root", **sources) -> AccountState:
    return AccountState(Account(id=id_, name=name, ou_path=ou_path),
                        MappingProxyType({k: ok(v) for k, v in sources.items()}))


HOSTILE = "<script>alert('root')</script>"
NO_MFA = account("111111111111", "alpha", account_summary=AccountSummary(False, 0, 0, True))
NO_CREDENTIALS = account("222222222222", "bravo", account_summary=AccountSummary(False, 0, 0, False))
WITH_KEY = account("333333333333", "charlie", account_summary=AccountSummary(True, 1, 0, True),
                   credential_report=report(keys=(True, False), last_login=utc(2026, 11, 20, 7, 45)),
                   mfa_devices=VirtualMfa(root_has_virtual=False))
HOSTILE_NAME = account("444444444444", HOSTILE, ou_path='Root/"Ops" & <Co>',
                       account_summary=AccountSummary(True, 0, 0, True),
                       console_logins=logins(utc(2026, 11, 27, 9, 30), "203.0.113.9"))
OLD_LOGIN = account("555555555555", "echo", account_summary=AccountSummary(True, 0, 0, True),
                    credential_report=report(last_login=utc(2026, 10, 1, 12)))
UNKNOWN = account("666666666666", "foxtrot")

SNAPSHOT = Snapshot(accounts=MappingProxyType({s.account.id: s for s in (
    NO_MFA, NO_CREDENTIALS, WITH_KEY, HOSTILE_NAME, OLD_LOGIN, UNKNOWN)}), home_account_id="111111111111")


class Rows(HTMLParser):
    """Account ids of the table rows in page order, and the text of each row's cells by field."""

    def __init__(self, page: str):
        super().__init__()
        self.ids: list[str] = []
        self.cells: dict[str, dict[str, str]] = {}
        self._field = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-account-id" in attrs:
            self.ids.append(attrs["data-account-id"])
            self.cells[attrs["data-account-id"]] = {}
        elif tag == "td" and "data-field" in attrs and self.ids:
            self._field = attrs["data-field"]
            self.cells[self.ids[-1]][self._field] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._field = None

    def handle_data(self, data):
        if self._field is not None:
            self.cells[self.ids[-1]][self._field] += data


def rows(view: str) -> Rows:
    return Rows(render(SNAPSHOT, view))


def test_all_view_lists_every_account():
    assert sorted(rows("all").ids) == sorted(SNAPSHOT.accounts)


def test_unknown_view_falls_back_to_all():
    assert sorted(rows("nonsense").ids) == sorted(SNAPSHOT.accounts)


def test_no_mfa_view_excludes_roots_without_credentials_and_compliant_ones():
    assert rows("no-mfa").ids == [NO_MFA.account.id]


def test_root_without_credentials_is_never_shown_as_without_mfa():
    cells = rows("all").cells[NO_CREDENTIALS.account.id]
    assert "not needed" in cells["mfa"]
    assert cells["mfa"].strip() != "no"


def test_access_keys_view():
    assert rows("access-keys").ids == [WITH_KEY.account.id]


def test_console_view_newest_first():
    assert rows("console").ids == [HOSTILE_NAME.account.id, WITH_KEY.account.id, OLD_LOGIN.account.id]


def test_console_cell_names_time_and_source_ip():
    cell = rows("console").cells[HOSTILE_NAME.account.id]["last_console_login"]
    assert "2026-11-27 09:30" in cell
    assert "203.0.113.9" in cell


def test_account_names_and_ou_paths_are_escaped():
    page = render(SNAPSHOT, "all")
    assert HOSTILE not in page
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    parsed = Rows(page)
    assert HOSTILE in parsed.cells[HOSTILE_NAME.account.id]["account"]  # shown to the reader as typed
    assert parsed.cells[HOSTILE_NAME.account.id]["ou"] == 'Root/"Ops" & <Co>'


def test_page_links_metrics_and_says_when_not_ready():
    assert 'href="/metrics"' in render(SNAPSHOT)
    assert "still running" in render(SNAPSHOT, ready=False)
    assert "still running" not in render(SNAPSHOT, ready=True)


def test_empty_view_says_so():
    page = render(Snapshot(), "no-mfa")
    assert Rows(page).ids == []
    assert "No root users" in page


def test_failing_source_is_shown():
    stale = AccountState(Account(id="777777777777", name="golf"), MappingProxyType({
        "account_summary": SourceStatus(value=AccountSummary(True, 0, 0, True), success=False, last_success=T0 - 600,
                                        last_attempt=T0, error="AccessDenied (AssumeRole): not authorized")}))
    page = render(Snapshot(accounts=MappingProxyType({"777777777777": stale})))
    assert "account_summary" in Rows(page).cells["777777777777"]["collection"]
