"""``aws-root-exporter`` as a user runs it, against a fake organization, read over HTTP.

The test process starts its own ``FakeAws`` with the organization declared in ``ACCOUNTS`` (one
root-user situation per account), runs the real console script as a subprocess with short
intervals, and checks every metric of docs/architecture.md for every account against what
``ACCOUNTS`` declares. The expected values are derived from the declaration and the metric
contract, never from the exporter's output.

The tests run in file order and share one exporter: the sign-in added after start comes after
the full check, and SIGTERM comes last.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Optional, Union

import boto3
import pytest
import yaml

from fakeaws import MANAGEMENT_ACCOUNT_ID, FakeAws
from fakeaws.demo import DemoAccount, DemoCertificate, DemoKey, DemoLogin, build_organization
from exporter.sources.root_events import HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE
from tests.support.chromium import parse_html
from tests.support.exporter import RunningExporter, exporter_command, start_exporter
from tests.support.exposition import Exposition, parse
from tests.support.net import http_get, wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MGMT = MANAGEMENT_ACCOUNT_ID
MINUTE, HOUR, DAY = 60, 3600, 86400

# ---------------------------------------------------------------- the organization

LOOKBACK = timedelta(hours=24)  # collection.console_login_lookback
FEATURES = {"root_credentials_management": True, "root_sessions": False}
CONSOLE_ID = "210000000008"

ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(MGMT, "management", password=True, password_last_used_ago=timedelta(days=10), mfa=("hardware",)),
    DemoAccount("210000000001", "no-mfa", "Workloads/Prod", password=True),
    DemoAccount("210000000002", "virtual-mfa", "Workloads/Prod", password=True, mfa=("virtual",)),
    DemoAccount(
        "210000000003",
        "hardware-mfa-cert",
        "Workloads/Dev",
        password=True,
        mfa=("hardware",),
        certificates=(DemoCertificate(uploaded_ago=timedelta(days=100)),),
    ),
    DemoAccount("210000000004", "fido-key", "Security", password=True, mfa=("fido",)),
    DemoAccount("210000000005", "virtual-and-fido", "Security", password=True, mfa=("virtual", "fido")),
    DemoAccount(
        "210000000006",
        "key-one",
        "Workloads/Prod",
        password=True,
        mfa=("virtual",),
        access_keys=(DemoKey(rotated_ago=timedelta(days=200), last_used_ago=timedelta(hours=3)),),
    ),
    DemoAccount(
        "210000000007",
        "key-two",
        "Workloads/Dev",
        password=True,
        mfa=("hardware",),
        access_keys=(
            DemoKey(active=False, rotated_ago=timedelta(days=700), last_used_ago=timedelta(days=500)),
            DemoKey(active=True, rotated_ago=timedelta(days=30)),
        ),
    ),
    DemoAccount(
        CONSOLE_ID,
        "console",
        "Workloads/Prod",
        password=True,
        password_last_used_ago=timedelta(hours=3),
        mfa=("hardware",),
        console_logins=(
            DemoLogin(timedelta(minutes=10), success=True, mfa_used=True, source_ip="203.0.113.10"),
            DemoLogin(timedelta(minutes=12), success=False, mfa_used=False, source_ip="198.51.100.7"),
            # an IAM user's sign-in, newer than root's: ignored
            DemoLogin(timedelta(minutes=8), success=True, source_ip="203.0.113.99", user_name="console-admin"),
            DemoLogin(timedelta(hours=3), success=True, mfa_used=False, source_ip="198.51.100.20"),
            # older than the look-back: never seen
            DemoLogin(timedelta(hours=30), success=True, mfa_used=True, source_ip="198.51.100.30"),
        ),
    ),
    DemoAccount("210000000009", "no-credentials", "Security/Logs"),
    DemoAccount("210000000010", "no-credentials-at-root"),
    # AssumeRole denied: the member-role sources fail, sts:AssumeRoot stands in
    DemoAccount(
        "210000000011", "role-denied", "Workloads/Dev", password=True, mfa=("hardware",), assume_role_denied=True
    ),
    # AssumeRole and AssumeRoot denied: nothing can tell anything about this root
    DemoAccount(
        "210000000012",
        "unreadable",
        "Workloads/Dev",
        password=True,
        mfa=("virtual",),
        assume_role_denied=True,
        assume_root_denied=True,
    ),
    DemoAccount("210000000013", "suspended", "Sandbox", password=True, state="SUSPENDED"),
)
# CloudTrail records that are not JSON: (account, age). Within the overlap of two look-ups, so
# the second run meets it again and must not count it twice.
MALFORMED = (("210000000007", timedelta(minutes=5)),)
ACTIVE = tuple(a for a in ACCOUNTS if a.state == "ACTIVE")

# ---------------------------------------------------------------- the configuration

EXTERNAL_ID = "e2e-ExtId-7Q2vX9kLm3"  # a secret: must never show in logs, /metrics or the page
INTERVALS = {  # seconds; distinct values so that a mix-up shows
    "discovery": HOUR,
    "account_summary": 10,
    "credential_report": 2 * HOUR,
    "mfa_devices": 30 * MINUTE,
    "console_logins": 10,
    "root_audit": 45 * MINUTE,
    "trail_status": 3 * HOUR,
    "root_policies": 50 * MINUTE,
}
# The demo's SCPs (fakeaws/src/fakeaws/demo.py DEMO_SCPS), as OU paths below Root: a deny of
# every action to root on these, and a deny of iam:CreateAccessKey only on the partial ones.
SCP_DENY_ROOT_OUS = ("Security", "Workloads/Prod")
SCP_PARTIAL_OUS = ("Workloads/Dev",)
SOURCES = tuple(INTERVALS)
MEMBER_ROLE_SOURCES = ("account_summary", "credential_report", "mfa_devices", "console_logins", "trail_status")
SLACK = 15.0  # seconds beyond an interval for the run itself and the scrape


def config_text(intervals: dict[str, int], queue_url: Optional[str] = None) -> str:
    collection = {
        "console_login_lookback": f"{int(LOOKBACK.total_seconds())}s",
        "intervals": {source: f"{seconds}s" for source, seconds in intervals.items()},
    }
    if queue_url is not None:
        collection["root_events"] = {"queue_url": queue_url}
    return yaml.safe_dump({"accounts": {"external_id": EXTERNAL_ID}, "collection": collection})


def event_stream_queue(fake: FakeAws, heartbeat_at: float) -> str:
    """The root event stream's queue, holding one heartbeat as the templates' schedule sends it."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=fake.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    url = sqs.create_queue(QueueName="root-events")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(
            {
                "version": "0",
                "id": "heartbeat-1",
                "detail-type": HEARTBEAT_DETAIL_TYPE,
                "source": HEARTBEAT_SOURCE,
                "account": MANAGEMENT_ACCOUNT_ID,
                "region": "us-east-1",
                "resources": [],
                "detail": {},
                "time": datetime.fromtimestamp(heartbeat_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ),
    )
    return url


def build_test_organization(fake: FakeAws, now: datetime) -> None:
    build_organization(fake, now, ACCOUNTS, FEATURES)
    for account_id, ago in MALFORMED:
        fake.add_raw_cloudtrail_event(account_id, time=now - ago, cloudtrail_event='{"eventVersion": "1.08", ')


@dataclass
class Org:
    fake: FakeAws
    now: datetime  # the scenario's "now": every age is relative to it
    started: float  # Unix seconds before anything was created
    exporter: RunningExporter
    heartbeat_at: float = 0.0  # Unix seconds (whole) of the heartbeat on the event stream's queue

    def metrics(self) -> Exposition:
        status, body = http_get(self.exporter.url + "/metrics")
        assert status == 200, body
        return parse(body)


@pytest.fixture(scope="module")
def org(tmp_path_factory) -> Iterator[Org]:
    started = time.time()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    fake = FakeAws()
    fake.start()
    try:
        build_test_organization(fake, now)
        config = tmp_path_factory.mktemp("e2e") / "config.yaml"
        heartbeat_at = float(int(time.time()))
        config.write_text(config_text(INTERVALS, event_stream_queue(fake, heartbeat_at)))
        running = start_exporter(["--config.file", str(config)], env=fake.env())
        try:
            yield Org(fake, now, started, running, heartbeat_at)
        finally:
            running.stop()
    finally:
        fake.stop()


# ---------------------------------------------------------------- expected values, from ACCOUNTS

Window = tuple[float, float]  # a Unix time expected within [low, high]
Expected = Union[float, Window]


def ou_path(account: DemoAccount) -> str:
    return "Root/" + account.ou if account.ou else "Root"


def root_logins(account: DemoAccount) -> list[DemoLogin]:
    """The root sign-ins the first look-up can see."""
    return [login for login in account.console_logins if login.user_name is None and login.ago <= LOOKBACK]


def expected_series(org: Org, until: float) -> tuple[dict[tuple[str, frozenset], Expected], set]:
    """Every per-account series the contract implies for ``ACCOUNTS``, and the series allowed to be
    absent when their expected value is 0 (counters that never counted anything)."""
    expected: dict[tuple[str, frozenset], Expected] = {}
    zero_or_absent: set[tuple[str, frozenset]] = set()
    recent: Window = (org.started, until)
    now = org.now

    for account in ACTIVE:
        management = account.id == MGMT

        def put(name: str, value: Expected, **labels: str) -> tuple[str, frozenset]:
            key = (name, frozenset({"account_id": account.id, "account_name": account.name, **labels}.items()))
            expected[key] = value
            return key

        by_role = not account.assume_role_denied  # sources read through the member role (or directly)
        audited = not management and FEATURES["root_credentials_management"] and not account.assume_root_denied
        known = by_role or audited
        keys, certs, mfa = account.access_keys, account.certificates, account.mfa

        put(
            "root_account_info",
            1,
            email=account.email,
            ou_path=ou_path(account),
            state="ACTIVE",
            management=str(management).lower(),
        )
        if known:
            put("root_mfa_active", float(bool(mfa)))
            put("root_mfa_hardware", float(any(kind in ("fido", "hardware") for kind in mfa)))
            put("root_password_enabled", float(account.password))
            put("root_credentials_present", float(bool(account.password or keys or certs or mfa)))
            put("root_access_keys_present", float(bool(keys)))
            put("root_signing_certificates_present", float(bool(certs)))
            for n in (1, 2):
                put("root_access_key_active", float(len(keys) >= n and keys[n - 1].active), key=str(n))
                put("root_signing_certificate_active", float(len(certs) >= n and certs[n - 1].active), cert=str(n))
        if audited:
            for kind in ("virtual", "fido", "hardware"):
                put("root_mfa_devices", float(mfa.count(kind)), kind=kind)
        if by_role:
            for n, key in enumerate(keys, start=1):
                put("root_access_key_last_rotated_timestamp", (now - key.rotated_ago).timestamp(), key=str(n))
                if key.last_used_ago is not None:
                    put("root_access_key_last_used_timestamp", (now - key.last_used_ago).timestamp(), key=str(n))
            put("root_credential_report_generated_timestamp", recent)
            put("root_activity_detection_enabled", 0.0)  # this organization has no trail
            successes = [login for login in root_logins(account) if login.success]
            newest = min(successes, key=lambda login: login.ago) if successes else None
            times = [now - ago for ago in (account.password_last_used_ago, newest.ago if newest else None) if ago]
            if times:
                put("root_last_console_login_timestamp", max(times).timestamp())
            if newest is not None:
                put(
                    "root_last_console_login_info", 1, source_ip=newest.source_ip, mfa_used=str(newest.mfa_used).lower()
                )
            for success in (True, False):
                for mfa_used in (True, False):
                    count = sum(
                        1 for login in root_logins(account) if login.success == success and login.mfa_used == mfa_used
                    )
                    key = put(
                        "root_console_login_events_total",
                        float(count),
                        outcome="success" if success else "failure",
                        mfa_used=str(mfa_used).lower(),
                    )
                    if count == 0:
                        zero_or_absent.add(key)
            # The look-up asks for every root event (Username=root): its root sign-ins, successful or
            # not, are root activity too, counted in the same state as the event stream's.
            if root_logins(account):
                put(
                    "root_activity_events_total",
                    float(len(root_logins(account))),
                    event_name="ConsoleLogin",
                    session="root_credentials",
                )
                put(
                    "root_last_activity_timestamp",
                    (now - min(login.ago for login in root_logins(account))).timestamp(),
                    session="root_credentials",
                )
            for outcome in ("success", "failure"):  # the demo has no AssumeRoot-session sign-ins
                zero_or_absent.add(put("root_assumed_root_console_login_events_total", 0.0, outcome=outcome))
            malformed = sum(1 for account_id, _ in MALFORMED if account_id == account.id)
            key = put("root_exporter_malformed_events_total", float(malformed), source="console_logins")
            if malformed == 0:
                zero_or_absent.add(key)

        outcomes = {source: by_role for source in MEMBER_ROLE_SOURCES}
        if management:
            # organization-wide, reported on the exporter's own account
            outcomes["discovery"] = outcomes["org_features"] = True
        else:
            outcomes["root_audit"] = audited
            outcomes["root_policies"] = True  # read from the exporter's account: no member role needed
            under = lambda ous: any(f"{account.ou}/".startswith(f"{ou}/") for ou in ous)  # noqa: E731
            denies = under(SCP_DENY_ROOT_OUS)
            put("root_scp_denies_root", float(denies))
            put("root_scp_denied_root_actions", math.inf if denies else float(under(SCP_PARTIAL_OUS)))
        for source, success in outcomes.items():
            put("root_exporter_collection_success", float(success), source=source)
            if success:
                put("root_exporter_last_success_timestamp", recent, source=source)
    return expected, zero_or_absent


PER_ACCOUNT_METRICS = (
    "root_mfa_active",
    "root_mfa_hardware",
    "root_mfa_devices",
    "root_password_enabled",
    "root_access_key_active",
    "root_access_key_last_used_timestamp",
    "root_access_key_last_rotated_timestamp",
    "root_signing_certificate_active",
    "root_credentials_present",
    "root_last_console_login_timestamp",
    "root_last_console_login_info",
    "root_console_login_events_total",
    "root_credential_report_generated_timestamp",
    "root_account_info",
    "root_exporter_collection_success",
    "root_exporter_last_success_timestamp",
    "root_exporter_malformed_events_total",
    "root_access_keys_present",
    "root_signing_certificates_present",
    "root_assumed_root_console_login_events_total",
    "root_activity_detection_enabled",
    "root_activity_events_total",
    "root_last_activity_timestamp",
    "root_scp_denies_root",
    "root_scp_denied_root_actions",
    "root_email_policy_compliant",
)
# The root event stream's health: organization-wide, present while the stream is configured.
STREAM_METRICS = (
    "root_events_started_timestamp",
    "root_events_last_message_timestamp",
    "root_events_last_heartbeat_timestamp",
    "root_events_malformed_messages_total",
    "root_events_foreign_events_total",
    "root_events_errors_total",
    "root_event_delivery_delay_seconds",
)


def contract_metrics() -> dict[str, str]:
    """metric name -> type, from the Metrics table of docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text()
    table = text.split("## Metrics", 1)[1]
    found = dict(re.findall(r"^\| `(root_[a-z_]+)` \| (gauge|counter|histogram) \|", table, re.MULTILINE))
    assert len(found) >= 20, f"could not read the metrics table of docs/architecture.md: {found}"
    return found


def _show(name: str, labels: frozenset) -> str:
    return f"{name}{{{', '.join(f'{k}={v!r}' for k, v in sorted(labels))}}}"


def per_account_differences(metrics: Exposition, expected: dict, zero_or_absent: set) -> list[str]:
    problems = []
    actual = {(name, labels): value for name in PER_ACCOUNT_METRICS for labels, value in metrics.series(name).items()}
    for key, want in sorted(expected.items(), key=lambda item: (item[0][0], sorted(item[0][1]))):
        got = actual.get(key)
        if got is None:
            if key not in zero_or_absent:
                problems.append(f"missing {_show(*key)} (expected {want})")
        elif isinstance(want, tuple):
            if not want[0] - 1 <= got <= want[1] + 1:
                problems.append(f"{_show(*key)} = {got}, expected between {want[0]:.0f} and {want[1]:.0f}")
        elif got != want:
            problems.append(f"{_show(*key)} = {got}, expected {want}")
    for key, got in actual.items():
        if key not in expected:
            problems.append(f"unexpected {_show(*key)} = {got}")
    return problems


def source_success_times(metrics: Exposition, source: str) -> dict[str, float]:
    return {
        dict(labels)["account_id"]: value
        for labels, value in metrics.series("root_exporter_last_success_timestamp", source=source).items()
    }


# ---------------------------------------------------------------- tests


def test_healthy_ready_and_the_landing_page_lists_every_account(org: Org):
    assert http_get(org.exporter.url + "/-/healthy")[0] == 200
    assert http_get(org.exporter.url + "/-/ready")[0] == 200  # start_exporter waited for it
    status, page = http_get(org.exporter.url + "/")
    assert status == 200
    rows = parse_html(page).find("table", id="root-users").find_all("tr", data_account_id=None)
    assert sorted(row.attrs["data-account-id"] for row in rows) == sorted(a.id for a in ACTIVE)
    assert 'href="/metrics"' in page


def test_every_metric_matches_the_state_set_in_the_fake(org: Org):
    # Let the 10-second sources run again after the first full run: later runs (fresher live
    # sources, CloudTrail look-ups that overlap the last one) must not change any value.
    readable = [a.id for a in ACTIVE if not a.assume_role_denied]
    first = org.metrics()
    first_runs = {source: source_success_times(first, source) for source in ("account_summary", "console_logins")}

    def ran_again() -> Optional[Exposition]:
        metrics = org.metrics()
        for source, before in first_runs.items():
            after = source_success_times(metrics, source)
            if not all(after.get(account_id, 0) > before.get(account_id, 0) for account_id in readable):
                return None
        return metrics

    metrics = wait_for(
        ran_again,
        max(INTERVALS["account_summary"], INTERVALS["console_logins"]) + SLACK,
        "account_summary and console_logins to run a second time",
    )
    scraped = time.time()

    # Every metric of the contract, with its type; nothing the contract does not list.
    contract = contract_metrics()
    for name, kind in contract.items():
        family = name[: -len("_total")] if kind == "counter" else name
        assert metrics.types.get(family) == kind, f"{name}: type {metrics.types.get(family)}, contract says {kind}"
    undocumented = {name for name in metrics.types if name.startswith("root_")} - {
        name[: -len("_total")] if kind == "counter" else name for name, kind in contract.items()
    }
    assert not undocumented, f"metrics missing from docs/architecture.md: {undocumented}"
    assert set(PER_ACCOUNT_METRICS) | {
        "root_organization_feature_enabled",
        "root_exporter_collection_duration_seconds",
        "root_exporter_collection_interval_seconds",
        "root_exporter_collection_stale_after_seconds",
        "root_exporter_collection_errors_total",
        "root_exporter_build_info",
        "root_exporter_discovery_success",
        "root_exporter_discovery_last_success_timestamp",
        "root_exporter_shard_info",
        *STREAM_METRICS,
    } == set(contract)

    # Per account: every series, exact values, nothing more.
    expected, zero_or_absent = expected_series(org, scraped)
    problems = per_account_differences(metrics, expected, zero_or_absent)
    assert not problems, "per-account series differ from the organization:\n" + "\n".join(problems)

    # Organization and exporter metrics carry no account labels.
    assert metrics.series("root_organization_feature_enabled") == {
        frozenset({"feature": "RootCredentialsManagement"}.items()): float(FEATURES["root_credentials_management"]),
        frozenset({"feature": "RootSessions"}.items()): float(FEATURES["root_sessions"]),
    }
    assert metrics.series("root_exporter_collection_interval_seconds") == {
        frozenset({"source": source}.items()): float(seconds) for source, seconds in INTERVALS.items()
    }
    assert metrics.series("root_exporter_collection_stale_after_seconds") == {
        frozenset({"source": source}.items()): 3.0 * seconds for source, seconds in INTERVALS.items()
    }
    durations = metrics.series("root_exporter_collection_duration_seconds")
    assert {dict(labels)["source"] for labels in durations} == {*SOURCES, "org_features"}
    assert all(0 <= seconds < scraped - org.started for seconds in durations.values()), durations
    # The event stream: one heartbeat on the queue, nothing else.
    assert metrics.value("root_events_last_heartbeat_timestamp") == org.heartbeat_at
    assert (
        org.started
        <= metrics.value("root_events_started_timestamp")
        <= metrics.value("root_events_last_message_timestamp")
        <= scraped
    )
    assert (
        metrics.value("root_events_malformed_messages_total"),
        metrics.value("root_events_foreign_events_total"),
    ) == (0.0, 0.0)
    assert metrics.value("root_event_delivery_delay_seconds_count") == 1.0
    assert metrics.series("root_exporter_build_info") == {
        frozenset({"version": importlib.metadata.version("aws-root-exporter")}.items()): 1.0
    }
    assert metrics.series("root_exporter_discovery_success") == {frozenset(): 1.0}
    assert metrics.series("root_exporter_shard_info") == {frozenset({"index": "0", "count": "1"}.items()): 1.0}
    assert org.started <= metrics.value("root_exporter_discovery_last_success_timestamp") <= scraped

    # HELP says the values are collected in the background.
    for name in PER_ACCOUNT_METRICS:
        family = name[: -len("_total")] if name.endswith("_total") else name
        assert "background" in metrics.helps[family].lower(), f"{name}: HELP {metrics.helps[family]!r}"


def test_a_root_sign_in_after_start_appears_within_one_console_logins_interval(org: Org):
    account = next(a for a in ACCOUNTS if a.id == CONSOLE_ID)
    labels = {"account_id": account.id, "account_name": account.name}
    before = org.metrics()

    def count(metrics: Exposition, outcome: str, mfa: str) -> float:
        return metrics.value("root_console_login_events_total", **labels, outcome=outcome, mfa_used=mfa) or 0.0

    when = datetime.now(timezone.utc).replace(microsecond=0)
    added = time.monotonic()
    org.fake.add_console_login(
        account.id, time=when - timedelta(seconds=1), success=False, mfa_used=False, source_ip="192.0.2.66"
    )
    org.fake.add_console_login(account.id, time=when, success=True, mfa_used=True, source_ip="192.0.2.77")

    def seen() -> Optional[Exposition]:
        metrics = org.metrics()
        return metrics if metrics.series("root_last_console_login_info", source_ip="192.0.2.77") else None

    metrics = wait_for(seen, INTERVALS["console_logins"] + SLACK, "the new root sign-in in /metrics")
    assert time.monotonic() - added <= INTERVALS["console_logins"] + SLACK
    assert metrics.series("root_last_console_login_info", **labels) == {
        frozenset({**labels, "source_ip": "192.0.2.77", "mfa_used": "true"}.items()): 1.0
    }
    assert metrics.value("root_last_console_login_timestamp", **labels) == when.timestamp()
    assert count(metrics, "success", "true") == count(before, "success", "true") + 1
    assert count(metrics, "failure", "false") == count(before, "failure", "false") + 1
    assert count(metrics, "success", "false") == count(before, "success", "false")
    assert count(metrics, "failure", "true") == count(before, "failure", "true")


def test_a_key_deleted_after_start_is_no_longer_reported_by_the_next_live_summary(org: Org):
    """The credential report (2 h interval here, reused by AWS for 4 h) still lists the key;
    the live account summary says it is gone, and the fresher source wins."""
    account = next(a for a in ACCOUNTS if a.name == "key-one")
    labels = {"account_id": account.id, "account_name": account.name}
    assert org.metrics().value("root_access_key_active", **labels, key="1") == 1.0
    org.fake.root(account.id).access_keys.clear()

    def gone() -> Optional[Exposition]:
        metrics = org.metrics()
        return metrics if metrics.value("root_access_key_active", **labels, key="1") == 0.0 else None

    metrics = wait_for(gone, INTERVALS["account_summary"] + SLACK, "the deleted key to be reported inactive")
    assert metrics.series("root_access_key_last_rotated_timestamp", **labels) == {}
    assert metrics.series("root_access_key_last_used_timestamp", **labels) == {}
    assert metrics.value("root_credentials_present", **labels) == 1.0  # password and MFA remain


def test_a_failing_source_keeps_the_last_good_values_and_reports_failure(org: Org):
    account = next(a for a in ACCOUNTS if a.name == "virtual-mfa")
    labels = {"account_id": account.id, "account_name": account.name}
    before = org.metrics()
    org.fake.fail(account.id, "GetAccountSummary", "AccessDenied")
    failed_at = time.time()
    try:

        def failing() -> Optional[Exposition]:
            metrics = org.metrics()
            return (
                metrics
                if metrics.value("root_exporter_collection_success", **labels, source="account_summary") == 0.0
                else None
            )

        metrics = wait_for(failing, INTERVALS["account_summary"] + SLACK, "account_summary to fail for virtual-mfa")
    finally:
        org.fake.clear_failures(account.id)
    last_success = metrics.value("root_exporter_last_success_timestamp", **labels, source="account_summary")
    assert last_success is not None and last_success <= failed_at
    for name in ("root_mfa_active", "root_mfa_hardware", "root_password_enabled", "root_credentials_present"):
        assert metrics.series(name, **labels) == before.series(name, **labels), name
    others = {
        dict(key)["account_id"]: value
        for key, value in metrics.series("root_exporter_collection_success", source="account_summary").items()
    }
    assert {i for i, value in others.items() if value == 0.0} == {account.id} | {
        a.id for a in ACTIVE if a.assume_role_denied
    }
    assert (
        metrics.value("root_exporter_collection_errors_total", **labels, source="account_summary", code="AccessDenied")
        >= 1.0
    )
    logged = rf'msg="collection failed" source=account_summary error_code=AccessDenied .*account_id={account.id}'
    assert re.search(logged, org.exporter.log()), "no log line with account, source and error code"


def moto_assume_role_secrets() -> list[tuple[str, str, Optional[str]]]:
    """(session token, secret key, external id) of every AssumeRole session the fake handed out."""
    from moto.sts.models import sts_backends

    return [
        (role.session_token, role.secret_access_key, role.external_id)
        for per_partition in sts_backends.values()
        for backend in per_partition.values()
        for role in backend.assumed_roles
    ]


# A credentials element or field whose value is shown: <SessionToken>abc, "SecretAccessKey": "abc"
SHOWN_CREDENTIAL = re.compile(r"(SessionToken|SecretAccessKey)(>|\"?\s*[:=]\s*\"?)(?!\[REDACTED\])[A-Za-z0-9/+=]{16,}")


def secret_leaks(text: str) -> list[str]:
    leaks = []
    for token, secret, _ in moto_assume_role_secrets():
        if token in text:
            leaks.append(f"an AssumeRole SessionToken ({token[:8]}…)")
        if secret in text:
            leaks.append(f"an AssumeRole SecretAccessKey ({secret[:4]}…)")
    if EXTERNAL_ID in text:
        leaks.append("the configured external_id")
    leaks += [f"shown credential: …{match.group(0)[:40]}…" for match in SHOWN_CREDENTIAL.finditer(text)]
    return leaks


def test_no_secret_in_the_log_metrics_or_landing_page(org: Org):
    sessions = moto_assume_role_secrets()
    assert sessions, "the exporter assumed no role: nothing to look for"
    assert {external_id for _, _, external_id in sessions} == {EXTERNAL_ID}, "the external id was not sent"
    for what, text in (
        ("log", org.exporter.log()),
        ("/metrics", http_get(org.exporter.url + "/metrics")[1]),
        ("/", http_get(org.exporter.url + "/")[1]),
    ):
        assert not secret_leaks(text), f"{what} shows {secret_leaks(text)}"


def test_no_secret_in_debug_logs(org: Org, tmp_path: Path):
    """At --log.level debug botocore logs every request and response: still no credentials."""
    config = tmp_path / "config.yaml"
    config.write_text(config_text(INTERVALS))
    env = {**os.environ, **org.fake.env()}
    result = subprocess.run(
        exporter_command() + ["--config.file", str(config), "--once", "--log.level", "debug"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr[-2000:]  # the denied members fail
    assert "level=debug" in result.stderr
    leaks = secret_leaks(result.stderr) + secret_leaks(result.stdout)
    lines = [line[:300] for line in result.stderr.splitlines() if secret_leaks(line)]
    assert not leaks, f"debug log shows {sorted(set(leaks))[:6]}; first lines:\n" + "\n".join(lines[:3])


def test_accounts_joining_and_leaving_the_organization_follow_discovery(org: Org, tmp_path: Path):
    leaving, joining = "210000000020", "210000000021"
    org.fake.create_account(leaving, "leaving", ou="Transient")
    config = tmp_path / "config.yaml"
    config.write_text(config_text({**INTERVALS, "discovery": 10, "account_summary": HOUR, "console_logins": HOUR}))
    running = start_exporter(["--config.file", str(config)], env=org.fake.env())
    try:

        def accounts() -> set[str]:
            status, body = http_get(running.url + "/metrics")
            assert status == 200
            return parse(body).label_values("root_account_info", "account_id")

        def metric_account_ids() -> set[str]:
            return {
                dict(labels).get("account_id")
                for name in PER_ACCOUNT_METRICS
                for labels in parse(http_get(running.url + "/metrics")[1]).series(name)
            }

        assert accounts() == {a.id for a in ACTIVE} | {leaving}
        assert leaving in metric_account_ids()

        changed = time.monotonic()
        org.fake.remove_account(leaving)
        org.fake.create_account(joining, "joining", ou="Transient")
        wait_for(
            lambda: accounts() == {a.id for a in ACTIVE} | {joining},
            10 + SLACK,
            "discovery to drop the account that left and add the one that joined",
        )
        assert time.monotonic() - changed <= 10 + SLACK
        assert leaving not in metric_account_ids()
        page = http_get(running.url + "/")[1]
        assert f'data-account-id="{leaving}"' not in page and f'data-account-id="{joining}"' in page
    finally:
        assert running.stop() == 0, running.log()[-3000:]


def test_sigterm_stops_the_exporter_with_exit_code_0(org: Org):
    process = org.exporter.process
    assert process.poll() is None, "the exporter died before SIGTERM:\n" + org.exporter.log()[-3000:]
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 5 s after SIGTERM\n{org.exporter.log()[-3000:]}")
    assert code == 0, org.exporter.log()[-3000:]
    assert time.monotonic() - sent < 5
    assert "shutting down" in org.exporter.log()
