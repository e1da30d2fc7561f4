"""The shipped alert rules and routing, end to end: which alerts reach people for the demo
organization.

``aws-root-exporter --demo`` serves the demo organization; real Prometheus scrapes it with the
rules of prometheus/alerts.yml (``for:`` shortened) and sends to a real Alertmanager routed by the
shipped alertmanager.yml, whose webhooks lead to a receiver in this test. The expected alerts are
derived below from the demo scenario as written down for users, not from the exporter's output.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import pytest

from tests.support.net import wait_for

pytestmark = pytest.mark.e2e

HOUR = 3600
RECENT = 24 * HOUR  # the rules' recent window
LOOK_BACK = 24 * HOUR  # the exporter's first CloudTrail look-back
DELIVERY_TIMEOUT = 60.0  # seconds for every expected alert to arrive
SETTLE = 6.0  # seconds more, so that alerts that should not exist would have had time to arrive


@dataclass(frozen=True)
class DemoRoot:
    """One account of the demo organization (fakeaws/src/fakeaws/demo.py), as the scenario
    describes its root user."""

    account_id: str
    name: str
    management: bool = False
    suspended: bool = False
    password: bool = False
    mfa: frozenset[str] = frozenset()  # virtual, fido, hardware
    keys: dict = field(default_factory=dict)  # key number → (active, seconds since last use or None)
    certificate_active: bool = False
    console_success_ago: Optional[int] = None  # seconds since the newest successful root sign-in
    console_failure_ago: Optional[int] = None  # seconds since a failed root sign-in
    member_role_denied: bool = False  # sts:AssumeRole into the account is denied
    # root activity on the demo's event stream: (eventName, session)
    stream: frozenset[tuple[str, str]] = frozenset()
    scp_denies_root: bool = False  # the demo's DenyRootUser SCP is on its OU (Security, Workloads/Prod)
    # the e-mail policy of tests/fixtures/demo-config.yaml allows every demo address but legacy-billing's
    email_allowed: bool = True


# The demo organization runs with centralized root access (RootCredentialsManagement) enabled.
CENTRALIZED_ROOT_ACCESS = True

DEMO = [
    DemoRoot("123456789012", "management", management=True, password=True, mfa=frozenset({"hardware"})),
    DemoRoot("111111111111", "security-tooling", password=True, mfa=frozenset({"fido"}), scp_denies_root=True),
    DemoRoot(
        "222222222222", "log-archive", stream=frozenset({("DeleteLoginProfile", "assumed_root")}), scp_denies_root=True
    ),
    DemoRoot(
        "333333333333",
        "prod-payments",
        password=True,
        keys={1: (True, 2 * HOUR)},
        stream=frozenset({("DeactivateMFADevice", "root_credentials"), ("CreateAccessKey", "root_credentials")}),
        scp_denies_root=True,
    ),
    DemoRoot("444444444444", "prod-web", password=True, mfa=frozenset({"virtual"}), scp_denies_root=True),
    DemoRoot("555555555555", "dev-sandbox", password=True, mfa=frozenset({"hardware"}), certificate_active=True),
    DemoRoot(
        "666666666666",
        "data-lake",
        password=True,
        mfa=frozenset({"virtual", "fido"}),
        console_success_ago=30 * 60,
        console_failure_ago=35 * 60,
        stream=frozenset({("PasswordRecoveryRequested", "root_credentials"), ("ConsoleLogin", "root_credentials")}),
        scp_denies_root=True,
    ),
    DemoRoot("777777777777", "shared-services"),
    DemoRoot(
        "888888888888",
        "legacy-billing",
        password=True,
        mfa=frozenset({"virtual"}),
        keys={1: (False, None), 2: (True, None)},
        scp_denies_root=True,
        email_allowed=False,
    ),
    DemoRoot("999999999999", "staging", password=True, mfa=frozenset({"hardware"}), member_role_denied=True),
    DemoRoot("101010101010", "old-project", suspended=True, password=True),
]
BY_ID = {root.account_id: root for root in DEMO}


def alerts_for(root: DemoRoot) -> set[str]:
    """The alerts the scenario implies for one account, by the meaning of each alert."""
    if root.suspended:  # not collected at all
        return set()
    active_keys = [number for number, (active, _) in root.keys.items() if active]
    credentials = root.password or bool(active_keys) or root.certificate_active or bool(root.mfa)
    expected = set()
    if credentials and not root.mfa:
        expected.add("AWSRootCredentialsWithoutMFA")
    if root.mfa and not root.mfa & {"fido", "hardware"}:
        expected.add("AWSRootMFAVirtualOnly")
    if active_keys:
        expected.add("AWSRootAccessKeyActive")
    if root.keys:  # any key, active or not (Security Hub IAM.4)
        expected.add("AWSRootAccessKeyPresent")
    if any(used is not None and used < RECENT for _, used in root.keys.values()):
        expected.add("AWSRootAccessKeyUsedRecently")
    if root.certificate_active:
        expected.add("AWSRootSigningCertificateActive")
    if root.console_success_ago is not None and root.console_success_ago < RECENT:
        expected.add("AWSRootConsoleSignInRecent")
    if root.console_failure_ago is not None and root.console_failure_ago < LOOK_BACK:
        expected.add("AWSRootConsoleSignInFailures")
    if CENTRALIZED_ROOT_ACCESS and root.password and not root.management:
        expected.add("AWSRootPasswordWithCentralizedRootAccess")
    if root.member_role_denied:
        expected.add("AWSRootExporterCollectionFailing")
    names = {name for name, _ in root.stream}
    if any(session == "root_credentials" for _, session in root.stream):
        expected.add("AWSRootActivity")  # an AssumeRoot task alone is not root credential use
    if names & {"PasswordRecoveryRequested", "PasswordRecoveryCompleted"}:
        expected.add("AWSRootPasswordRecovery")
    if names & {"DeactivateMFADevice", "DeleteVirtualMFADevice"}:
        expected.add("AWSRootMFARemoved")
    if "CreateAccessKey" in names:
        expected.add("AWSRootAccessKeyCreated")
    # Every reachable account is covered by the demo's organization trail: no
    # AWSRootActivityDetectionOff; the demo's heartbeat keeps AWSRootEventStreamSilent quiet.
    if credentials and not root.management and not root.scp_denies_root:
        expected.add("AWSRootNotRestrictedBySCP")
    if not root.email_allowed:
        expected.add("AWSRootEmailNotAllowed")
    return expected


EXPECTED = {(alert, root.account_id) for root in DEMO for alert in alerts_for(root)}
QUIET_ACCOUNTS = sorted(root.account_id for root in DEMO if not alerts_for(root))
ROUTES = {"critical": "pager", "warning": "tickets", "info": "tickets"}


def test_scenario_reading_is_the_one_intended():
    """Guards the derivation above: a slip in ``alerts_for`` would make every other test here
    check the wrong thing."""
    assert QUIET_ACCOUNTS == ["101010101010", "123456789012", "222222222222", "777777777777"]
    assert {alert for alert, account in EXPECTED if account == "333333333333"} == {
        "AWSRootCredentialsWithoutMFA",
        "AWSRootAccessKeyActive",
        "AWSRootAccessKeyPresent",
        "AWSRootAccessKeyUsedRecently",
        "AWSRootPasswordWithCentralizedRootAccess",
        "AWSRootActivity",
        "AWSRootMFARemoved",
        "AWSRootAccessKeyCreated",
    }
    assert {alert for alert, account in EXPECTED if account == "111111111111"} == {
        "AWSRootPasswordWithCentralizedRootAccess"
    }
    assert {account for alert, account in EXPECTED if alert == "AWSRootNotRestrictedBySCP"} == {
        "555555555555",
        "999999999999",
    }


def firing_at_webhook(webhook) -> set[tuple[str, str]]:
    return {
        (alert["labels"]["alertname"], alert["labels"].get("account_id", ""))
        for alert in webhook.alerts(status="firing")
    }


def firing_in_prometheus(demo) -> set[tuple[str, str]]:
    return {
        (alert["labels"]["alertname"], alert["labels"].get("account_id", ""))
        for alert in demo.alerts()
        if alert["state"] == "firing"
    }


def describe(pairs) -> str:
    return (
        "\n".join(
            f"  {alert} for {account or '-'} ({BY_ID[account].name if account in BY_ID else '?'})"
            for alert, account in sorted(pairs)
        )
        or "  (none)"
    )


@pytest.fixture(scope="module")
def delivered(prometheus_demo) -> set[tuple[str, str]]:
    """(alertname, account_id) of every firing alert that reached the webhook, once every
    expected one has arrived and everything Prometheus fires has been delivered."""
    demo = prometheus_demo
    webhook = demo.webhook

    def report(headline: str) -> str:
        rule_errors = [
            f"  {rule['name']}: {rule.get('lastError')}"
            for group in demo.prometheus.rules()
            for rule in group["rules"]
            if rule.get("lastError")
        ]
        return (
            f"{headline}\nexpected:\n{describe(EXPECTED)}\nat the webhook:\n{describe(firing_at_webhook(webhook))}"
            f"\nfiring in Prometheus:\n{describe(firing_in_prometheus(demo))}"
            f"\nrule errors:\n"
            + ("\n".join(rule_errors) or "  (none)")
            + f"\nwebhook errors: {webhook.errors}\n{demo.logs()[-20000:]}"
        )

    try:
        wait_for(
            lambda: EXPECTED <= firing_at_webhook(webhook),
            DELIVERY_TIMEOUT,
            "every expected alert to reach the webhook",
            interval=0.5,
        )
    except TimeoutError as error:
        pytest.fail(report(f"{error}; missing:\n{describe(EXPECTED - firing_at_webhook(webhook))}"))
    time.sleep(SETTLE)
    try:
        wait_for(
            lambda: firing_in_prometheus(demo) <= firing_at_webhook(webhook),
            20,
            "every alert firing in Prometheus to reach the webhook",
            interval=0.5,
        )
    except TimeoutError as error:
        pytest.fail(report(str(error)))
    return firing_at_webhook(webhook)


def test_expected_alerts_arrive_and_nothing_else(delivered):
    missing, unexpected = EXPECTED - delivered, delivered - EXPECTED
    assert not missing and not unexpected, (
        f"missing at the webhook:\n{describe(missing)}\nunexpected at the webhook:\n{describe(unexpected)}"
    )


@pytest.mark.parametrize("account_id", QUIET_ACCOUNTS)
def test_compliant_and_credential_less_accounts_stay_quiet(delivered, account_id):
    """Management with hardware MFA, members without root credentials, a suspended account."""
    noise = {pair for pair in delivered if pair[1] == account_id}
    assert not noise, f"{BY_ID[account_id].name} ({account_id}) should get no alert, got:\n{describe(noise)}"


def test_exporter_health_alerts_stay_quiet(delivered):
    health = {
        pair
        for pair in delivered
        if pair[0] in ("AWSRootExporterDown", "AWSRootExporterTargetMissing", "AWSRootExporterDataStale")
    }
    assert not health, f"the exporter is up and fresh, yet:\n{describe(health)}"


def test_each_alert_reaches_the_receiver_for_its_severity(delivered, prometheus_demo):
    wrong = []
    for alert in prometheus_demo.webhook.alerts(status="firing"):
        severity = alert["labels"].get("severity")
        if ROUTES.get(severity) != alert["receiver"] or alert["path"] != f"/{alert['receiver']}":
            wrong.append(
                f"  {alert['labels']['alertname']} ({severity}) went to {alert['receiver']} at {alert['path']}"
            )
    assert not wrong, "critical alerts must page, the others go to tickets:\n" + "\n".join(wrong)


def test_notifications_name_the_account_and_link_a_runbook(delivered, prometheus_demo):
    problems = []
    for alert in prometheus_demo.webhook.alerts(status="firing"):
        labels, notes = alert["labels"], alert["annotations"]
        root = BY_ID.get(labels.get("account_id"))
        if root is None:
            problems.append(f"  {labels}: no demo account_id")
            continue
        if labels.get("account_name") != root.name:
            problems.append(
                f"  {labels['alertname']}: account_name {labels.get('account_name')!r}, expected {root.name!r}"
            )
        if f"{root.name} ({root.account_id})" not in notes.get("description", ""):
            problems.append(
                f"  {labels['alertname']}: description does not name {root.name} ({root.account_id}): "
                f"{notes.get('description')!r}"
            )
        if root.name not in notes.get("summary", ""):
            problems.append(f"  {labels['alertname']}: summary does not name {root.name}: {notes.get('summary')!r}")
        if not notes.get("runbook_url", "").endswith("docs/runbooks.md#" + labels["alertname"].lower()):
            problems.append(f"  {labels['alertname']}: runbook_url {notes.get('runbook_url')!r}")
    assert not problems, "notifications a person would read:\n" + "\n".join(problems)


def test_grouped_one_notification_per_alert_and_account(delivered, prometheus_demo):
    """group_by [alertname, account_id]: a notification never mixes accounts or alert names."""
    mixed = []
    for path, payload in prometheus_demo.webhook.notifications:
        keys = {(a["labels"]["alertname"], a["labels"].get("account_id")) for a in payload["alerts"]}
        if len(keys) > 1:
            mixed.append(f"  {path}: {sorted(keys)}")
    assert not mixed, "notifications mixing alerts or accounts:\n" + "\n".join(mixed)
