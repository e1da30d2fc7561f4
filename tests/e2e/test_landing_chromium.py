"""The landing page in real headless Chromium, against ``aws-root-exporter --demo``.

Chromium loads ``/``; the test reads the rendered DOM, follows the view links it finds there
(``nav a[data-view]``) and checks each view's rows against the demo scenario
(``fakeaws.demo.DEMO_ACCOUNTS``): which roots have credentials, MFA, active keys
and console sign-ins follows from the scenario's declaration, not from the exporter's output.
"""

from __future__ import annotations

import struct
from datetime import timedelta
from urllib.parse import urljoin

import pytest

from fakeaws.demo import DEMO_ACCOUNTS, DemoAccount
from tests.support.chromium import Element, dump_dom, parse_html, screenshot
from tests.support.exporter import RunningExporter

pytestmark = pytest.mark.e2e

LOOKBACK = timedelta(hours=24)  # the default first CloudTrail look-back (the demo runs with defaults)
ACTIVE = [a for a in DEMO_ACCOUNTS if a.state == "ACTIVE"]
BY_ID = {a.id: a for a in DEMO_ACCOUNTS}


def has_credentials(account: DemoAccount) -> bool:
    return bool(account.password or account.access_keys or account.certificates or account.mfa)


def last_console_sign_in_ago(account: DemoAccount) -> timedelta | None:
    """The newest of the report's password_last_used and root's successful CloudTrail sign-ins;
    both are read through the member role."""
    if account.assume_role_denied:
        return None
    ages = [login.ago for login in account.console_logins
            if login.user_name is None and login.success and login.ago <= LOOKBACK]
    if account.password_last_used_ago is not None:
        ages.append(account.password_last_used_ago)
    return min(ages) if ages else None


# view key -> the account ids it must list, in order when the order matters (None = any order)
EXPECTED_VIEWS = {
    "all": (sorted(a.id for a in ACTIVE), None),
    "no-mfa": (sorted(a.id for a in ACTIVE if has_credentials(a) and not a.mfa), None),
    "access-keys": (sorted(a.id for a in ACTIVE if any(k.active for k in a.access_keys)), None),
    "console": (None, [a.id for a in sorted((a for a in ACTIVE if last_console_sign_in_ago(a) is not None),
                                            key=last_console_sign_in_ago)]),
}


def test_the_scenario_gives_every_view_something_to_show():
    """Guards the derivations above against a scenario change that would empty a view."""
    names = lambda ids: {BY_ID[i].name for i in ids}  # noqa: E731
    assert names(EXPECTED_VIEWS["no-mfa"][0]) == {"prod-payments"}
    assert names(EXPECTED_VIEWS["access-keys"][0]) == {"prod-payments", "legacy-billing"}
    assert [BY_ID[i].name for i in EXPECTED_VIEWS["console"][1]] == ["data-lake", "management"]


def rows(dom: Element) -> list[Element]:
    return dom.find("table", id="root-users").find("tbody").find_all("tr", data_account_id=None)


def cell(row: Element, field: str) -> Element:
    return row.find("td", data_field=field)


@pytest.fixture(scope="module")
def front_page(demo_exporter: RunningExporter) -> Element:
    return parse_html(dump_dom(demo_exporter.url + "/"))


def test_the_front_page_lists_every_active_account(front_page: Element):
    listed = [row.attrs["data-account-id"] for row in rows(front_page)]
    assert sorted(listed) == EXPECTED_VIEWS["all"][0]
    assert len(listed) == len(set(listed))
    suspended = [a.id for a in DEMO_ACCOUNTS if a.state != "ACTIVE"]
    assert suspended and not set(suspended) & set(listed)
    for row in rows(front_page):
        account = BY_ID[row.attrs["data-account-id"]]
        assert account.name in cell(row, "account").text()
    assert front_page.find_all("a", href="/metrics"), "no link to /metrics"


def test_roots_without_credentials_are_never_shown_as_missing_mfa(front_page: Element):
    for row in rows(front_page):
        account = BY_ID[row.attrs["data-account-id"]]
        if not has_credentials(account):
            mfa = cell(row, "mfa")
            assert "bad" not in mfa.classes() and mfa.text().lower() not in ("no", "unknown"), (
                f"{account.name}: MFA cell {mfa.text()!r} class {mfa.attrs.get('class')!r}")


def test_each_view_link_filters_the_table(demo_exporter: RunningExporter, front_page: Element):
    links = {a.attrs["data-view"]: a.attrs["href"] for a in front_page.find("nav").find_all("a", data_view=None)}
    assert set(links) == set(EXPECTED_VIEWS), links
    for view, href in links.items():
        dom = parse_html(dump_dom(urljoin(demo_exporter.url + "/", href)))
        current = [a.attrs["data-view"] for a in dom.find("nav").find_all("a", data_view=None)
                   if "current" in a.classes()]
        assert current == [view], f"{href}: highlighted {current}"
        listed = [row.attrs["data-account-id"] for row in rows(dom)]
        as_set, in_order = EXPECTED_VIEWS[view]
        names = [BY_ID[i].name for i in listed]
        if in_order is not None:
            assert listed == in_order, f"view {view}: {names}"
        else:
            assert sorted(listed) == as_set, f"view {view}: {names}"
        if view == "no-mfa":
            assert not {"log-archive", "shared-services"} & set(names)
        assert f"({len(listed)})" in dom.find("h2", id="view-title").text()


def test_screenshot_of_the_front_page(demo_exporter: RunningExporter, tmp_path_factory):
    path = screenshot(demo_exporter.url + "/", tmp_path_factory.mktemp("landing") / "landing.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1600, 1000)
    print(f"landing page screenshot: {path}")
