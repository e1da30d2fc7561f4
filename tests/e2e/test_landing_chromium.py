"""The landing page in real headless Chromium, as a security engineer reads it.

Against ``aws-root-exporter --demo``: Chromium (driven over the DevTools pipe, tests/support/cdp.py)
loads the page at 1366x768 and 1920x1080, the test reads the rendered DOM and measures the layout.
What the page must say follows from the demo scenario (``fakeaws.demo``), not from
the exporter's output. A second exporter that cannot reach AWS shows the discovery banner.

Screenshots are kept as test artefacts in ``$ROOT_EXPORTER_ARTIFACTS`` (default:
``tests/artifacts/``, ignored by git): ``landing-1366x768.png``, ``landing-1920x1080.png`` (the
viewport a person sees first), ``landing-*-full.png`` (the whole page) and
``landing-banner-1366x768.png``.
"""

from __future__ import annotations

import re

import os
import struct
from datetime import timedelta
from pathlib import Path
from typing import Iterator
from urllib.parse import urljoin

import pytest

from fakeaws import MANAGEMENT_ACCOUNT_ID
from fakeaws.demo import DEMO_ACCOUNTS, DemoAccount
from tests.support.cdp import Browser, Tab
from tests.support.chromium import Element, parse_html
from tests.support.exporter import RunningExporter, start_exporter
from tests.support.net import free_port, http_get, wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ROOT_EXPORTER_ARTIFACTS") or REPO / "tests" / "artifacts")
SIZES = [(1366, 768), (1920, 1080)]
SEVERITY_ORDER = ["critical", "warning", "info", "none"]
ACTIVE = [a for a in DEMO_ACCOUNTS if a.state == "ACTIVE"]
BY_NAME = {a.name: a for a in DEMO_ACCOUNTS}


def has_credentials(account: DemoAccount) -> bool:
    return bool(account.password or account.access_keys or account.certificates or account.mfa)


def signed_in_within(account: DemoAccount, window: timedelta) -> bool:
    ages = [login.ago for login in account.console_logins if login.user_name is None and login.success]
    if account.password_last_used_ago is not None:
        ages.append(account.password_last_used_ago)
    return not account.assume_role_denied and any(age < window for age in ages)


# What a person must read in the summary, from the scenario as written down.
EXPECTED_SUMMARY = {
    "accounts": len(ACTIVE),
    "no-mfa": sum(1 for a in ACTIVE if has_credentials(a) and not a.mfa),
    "access-keys": sum(1 for a in ACTIVE if a.access_keys),
    "signed-in-24h": sum(1 for a in ACTIVE if signed_in_within(a, timedelta(hours=24))),
    "failed-sign-ins": sum(1 for a in ACTIVE if any(not login.success for login in a.console_logins)),
    # The demo's stream (organization.py): data-lake's and prod-payments' roots act with their own
    # credentials; log-archive's event is a central AssumeRoot task, which is not root use.
    "root-activity": 2,
    # Members with root credentials outside the OUs the DenyRootUser SCP is attached to.
    "not-restricted-by-scp": sum(
        1
        for a in ACTIVE
        if has_credentials(a) and a.id != MANAGEMENT_ACCOUNT_ID and a.ou not in ("Security", "Workloads/Prod")
    ),
    "collection-failing": sum(1 for a in ACTIVE if a.assume_role_denied),
}


def test_the_scenario_reading_is_the_one_intended():
    assert EXPECTED_SUMMARY == {
        "accounts": 10,
        "no-mfa": 1,
        "access-keys": 2,
        "signed-in-24h": 1,
        "failed-sign-ins": 1,
        "root-activity": 2,
        "not-restricted-by-scp": 2,
        "collection-failing": 1,
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as running:
        yield running


def dom(tab: Tab) -> Element:
    return parse_html(tab.evaluate("document.documentElement.outerHTML"))


def rows(page: Element) -> list[Element]:
    return page.find("table", id="root-users").find("tbody").find_all("tr", data_account_id=None)


def row_named(page: Element, name: str) -> Element:
    return page.find("tr", data_account_id=BY_NAME[name].id)


def scrolls_sideways(tab: Tab) -> tuple[int, int]:
    return tuple(tab.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_screenshots_show_the_summary_and_the_findings(demo_exporter: RunningExporter, browser: Browser, width, height):
    tab = browser.open(demo_exporter.url + "/", width, height)
    first = tab.screenshot(ARTIFACTS / f"landing-{width}x{height}.png")
    full = tab.screenshot(ARTIFACTS / f"landing-{width}x{height}-full.png", full_page=True)
    assert png_size(first) == (width, height)
    assert png_size(full)[0] == width
    # What the first screen shows: the summary and the first (worst) row with its findings.
    visible = tab.evaluate(
        "[...document.querySelectorAll('#summary a, tbody tr:first-child li[data-finding]')]"
        ".map(e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })"
    )
    assert visible and all(visible), f"at {width}x{height} the summary or the first row's findings are below the fold"
    print(f"landing page screenshots: {first} {full}")


@pytest.mark.parametrize(
    "query", ["", "?view=attention", "?view=console", "?view=collection-failing", "?ou=Root%2FWorkloads&q=prod"]
)
def test_no_sideways_scrolling_at_1366(demo_exporter: RunningExporter, browser: Browser, query):
    tab = browser.open(demo_exporter.url + "/" + query, 1366, 768)
    scroll_width, client_width = scrolls_sideways(tab)
    assert scroll_width <= client_width, f"{query or '/'} scrolls sideways at 1366: {scroll_width} > {client_width}"
    # Nor inside: no box that scrolls sideways, and the table ends within the window.
    inner = tab.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.scrollWidth > e.clientWidth + 1"
        " && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).map(e => e.tagName)"
    )
    assert inner == [], f"{query or '/'}: boxes that scroll sideways: {inner}"
    assert tab.evaluate("document.getElementById('root-users').getBoundingClientRect().right <= innerWidth")


def test_the_summary_numbers_a_person_reads(demo_exporter: RunningExporter, browser: Browser):
    page = dom(browser.open(demo_exporter.url + "/", 1366, 768))
    tiles = page.find("div", id="summary").find_all("a")
    read = {tile.attrs["data-summary"]: int(tile.find("b").text()) for tile in tiles}
    assert read == EXPECTED_SUMMARY
    labels = [tile.text() for tile in tiles]
    assert labels[0] == f"{len(ACTIVE)} Accounts" and "1 Roots without MFA" in labels


def test_rows_worst_first_with_their_findings_spelled_out(demo_exporter: RunningExporter, browser: Browser):
    page = dom(browser.open(demo_exporter.url + "/", 1366, 768))
    worst = [row.attrs["data-worst"] for row in rows(page)]
    assert worst == sorted(worst, key=SEVERITY_ORDER.index), worst
    assert sorted(row.attrs["data-account-id"] for row in rows(page)) == sorted(a.id for a in ACTIVE)
    payments = row_named(page, "prod-payments").find("td", data_field="findings").text()
    for text in (
        "Root has credentials but no MFA",
        "CIS 1.5 · Security Hub IAM.9",
        "Active root access key",
        "Root access key used in the last 24h",
        "access key 1 used 2 hours ago",
    ):
        assert text in payments
    assert "Root MFA is virtual only" in row_named(page, "prod-web").text()
    for name in ("management", "log-archive", "shared-services"):
        assert "No findings" in row_named(page, name).find("td", data_field="findings").text()


def test_what_needs_attention_looks_different(demo_exporter: RunningExporter, browser: Browser):
    tab = browser.open(demo_exporter.url + "/", 1366, 768)

    def color(name: str, selector: str) -> str:
        return tab.evaluate(
            f"getComputedStyle(document.querySelector('tr[data-account-id=\"{BY_NAME[name].id}\"] {selector}')).color"
        )

    # A member's password under centralized root access is red where the alert fires; the
    # management account's password is not.
    assert color("security-tooling", "[data-field=password]") != color("management", "[data-field=password]")
    page = dom(tab)
    recent = row_named(page, "data-lake").find("td", data_field="last_console_login")
    old = row_named(page, "management").find("td", data_field="last_console_login")
    # The demo's sign-in was 30 minutes before the demo started; the session's exporter may have
    # been running a few minutes since.
    minutes = re.search(r"\b([0-9]+) minutes ago", recent.text())
    assert minutes and 30 <= int(minutes.group(1)) < 60, recent.text()
    assert "40 days ago" in old.text()
    background = "getComputedStyle(document.querySelector('tr[data-account-id=\"{}\"] td[data-field=last_console_login] span')).backgroundColor"
    assert tab.evaluate(background.format(BY_NAME["data-lake"].id)) != tab.evaluate(
        background.format(BY_NAME["management"].id)
    )
    assert "Failed root sign-in attempts" in row_named(page, "data-lake").text()
    staging = row_named(page, "staging").find("td", data_field="collection").text()
    assert "AccessDenied" in staging and "not authorized to perform: sts:AssumeRole" in staging


def test_roots_without_credentials_are_never_shown_as_missing_mfa(demo_exporter: RunningExporter, browser: Browser):
    page = dom(browser.open(demo_exporter.url + "/?view=no-mfa", 1366, 768))
    listed = {row.attrs["data-account-id"] for row in rows(page)}
    assert listed == {a.id for a in ACTIVE if has_credentials(a) and not a.mfa}


def test_each_view_link_and_the_filters_lead_to_a_url(demo_exporter: RunningExporter, browser: Browser):
    page = dom(browser.open(demo_exporter.url + "/", 1366, 768))
    links = {a.attrs["data-view"]: a.attrs["href"] for a in page.find("nav").find_all("a", data_view=None)}
    assert {"all", "no-mfa", "access-keys", "console", "signed-in-24h", "failed-sign-ins"} <= set(links)
    for view, href in links.items():
        shown = dom(browser.open(urljoin(demo_exporter.url + "/", href), 1366, 768))
        current = [
            a.attrs["data-view"] for a in shown.find("nav").find_all("a", data_view=None) if "current" in a.classes()
        ]
        assert current == [view], f"{href}: highlighted {current}"
        assert f"({len(rows(shown))})" in shown.find("h2", id="view-title").text() or not rows(shown)
    # Submitting the filter form is a plain GET: the result has a URL of its own.
    tab = browser.open(demo_exporter.url + "/?view=all", 1366, 768)
    tab.evaluate(
        "document.querySelector('select[name=ou]').value = 'Root/Workloads/Dev';"
        "document.querySelector('input[name=q]').value = 'stag';"
        "document.getElementById('filters').submit()"
    )
    wait_for(
        lambda: "ou=" in tab.evaluate("location.search") and tab.evaluate("document.readyState") == "complete",
        20,
        "the filter form to load its URL",
    )
    filtered = dom(tab)
    assert [row.attrs["data-account-id"] for row in rows(filtered)] == [BY_NAME["staging"].id]
    assert tab.evaluate("location.search") == "?ou=Root%2FWorkloads%2FDev&q=stag"


def test_unknown_view_is_404(demo_exporter: RunningExporter):
    assert http_get(demo_exporter.url + "/?view=unknown")[0] == 404


@pytest.fixture(scope="module")
def blind_exporter(tmp_path_factory) -> Iterator[RunningExporter]:
    """An exporter whose AWS endpoint does not answer: discovery can never succeed."""
    config = tmp_path_factory.mktemp("blind") / "config.yaml"
    config.write_text("aws:\n  max_attempts: 1\n")
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "not-a-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    running = start_exporter(["--config.file", str(config)], env=env, wait_ready=False)
    try:
        wait_for(lambda: "discovery-banner" in http_get(running.url + "/")[1], 60, "the discovery banner")
        yield running
    finally:
        running.stop()


def test_banner_says_why_and_what_to_do_when_discovery_fails(blind_exporter: RunningExporter, browser: Browser):
    tab = browser.open(blind_exporter.url + "/", 1366, 768)
    tab.screenshot(ARTIFACTS / "landing-banner-1366x768.png")
    banner = dom(tab).find("section", id="discovery-banner")
    text = banner.text()
    assert "cannot see your organization" in text
    assert "never succeeded" in text and "EndpointConnectionError" in text
    assert "AWS_PROFILE" in text and "credential chain" in text
    assert banner.find("a").attrs["href"].endswith("README.md#troubleshooting-credentials")
    assert tab.evaluate("document.getElementById('discovery-banner').getBoundingClientRect().top") < 300
    assert scrolls_sideways(tab)[0] <= scrolls_sideways(tab)[1]
