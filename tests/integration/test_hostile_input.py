"""Strings from AWS that no one can print: a lone UTF-16 surrogate (``\\ud800``, a valid JSON
escape) in an OU name, an account name, an e-mail or a CloudTrail field. The real command runs
against the fake over HTTP; ``/metrics``, ``/`` and ``/api/roots.json`` still answer 200 for the
whole organization, and the value shows with U+FFFD in place of the surrogate."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from fakeaws import FakeAws, FakeRoot
from tests.support.exporter import RunningExporter, start_exporter
from tests.support.exposition import parse
from tests.support.net import http_get

LONE = "\ud800"  # json.dumps writes it as the escape \ud800, which json.loads reads back as is
REPLACED = "\ufffd"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
OU_MEMBER = "340000000001"
NAMED_MEMBER = "340000000002"
TRAIL_MEMBER = "340000000003"
RAW_MEMBER = "340000000004"
PLAIN_MEMBER = "340000000005"


@pytest.fixture(scope="module")
def exporter(tmp_path_factory) -> Iterator[tuple[FakeAws, RunningExporter]]:
    with FakeAws() as fake:
        fake.create_organization()
        fake.create_account(OU_MEMBER, "in-odd-ou", ou=f"Work{LONE}loads/Prod")
        fake.create_account(NAMED_MEMBER, f"odd{LONE}name", email=f"odd{LONE}@example.com")
        fake.create_account(TRAIL_MEMBER, "trail", root=FakeRoot.with_password("virtual"))
        fake.add_console_login(TRAIL_MEMBER, time=NOW - timedelta(minutes=30), source_ip=f"203.0.113.{LONE}")
        fake.create_account(RAW_MEMBER, "raw-trail", root=FakeRoot.with_password("virtual"))
        record = {
            "userIdentity": {"type": "Root", "accessKeyId": ""},
            "eventName": "ConsoleLogin",
            "eventTime": (NOW - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sourceIPAddress": "\udc80\udfff",
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {"MFAUsed": "Yes"},
        }
        fake.add_raw_cloudtrail_event(
            RAW_MEMBER, time=NOW - timedelta(minutes=20), cloudtrail_event=json.dumps(record), event_id=f"id-{LONE}"
        )
        fake.create_account(PLAIN_MEMBER, "plain", root=FakeRoot.with_password("fido"))
        config = Path(tmp_path_factory.mktemp("hostile")) / "config.yaml"
        config.write_text("aws:\n  max_attempts: 1\ncollection:\n  credential_report_timeout: 30s\n")
        running = start_exporter(["--config.file", str(config)], env=fake.env())
        try:
            yield fake, running
        finally:
            assert running.stop() == 0, running.log()[-3000:]


def get(running: RunningExporter, path: str) -> str:
    status, body = http_get(running.url + path)
    assert status == 200, (path, status, body[:500], running.log()[-3000:])
    return body


def test_metrics_answer_for_the_whole_organization(exporter):
    _, running = exporter
    metrics = parse(get(running, "/metrics"))
    ids = metrics.label_values("root_account_info", "account_id")
    assert {OU_MEMBER, NAMED_MEMBER, TRAIL_MEMBER, RAW_MEMBER, PLAIN_MEMBER} <= ids
    info = {dict(key)["account_id"]: dict(key) for key in metrics.series("root_account_info")}
    assert info[OU_MEMBER]["ou_path"] == f"Root/Work{REPLACED}loads/Prod"
    assert info[NAMED_MEMBER]["account_name"] == f"odd{REPLACED}name"
    assert info[NAMED_MEMBER]["email"] == f"odd{REPLACED}@example.com"
    logins = {dict(key)["account_id"]: dict(key) for key in metrics.series("root_last_console_login_info")}
    assert logins[TRAIL_MEMBER]["source_ip"] == f"203.0.113.{REPLACED}"
    assert logins[RAW_MEMBER]["source_ip"] == REPLACED * 2
    assert metrics.value("root_mfa_hardware", account_id=PLAIN_MEMBER, account_name="plain") == 1.0


def test_landing_page_and_json_answer_and_show_the_replacement(exporter):
    _, running = exporter
    page = get(running, "/")
    assert f"odd{REPLACED}name" in page and f"Root/Work{REPLACED}loads/Prod" in page
    assert f"from 203.0.113.{REPLACED}" in page
    assert 'data-account-id="340000000005"' in page
    document = json.loads(get(running, "/api/roots.json"))
    names = {row["account"]["id"]: row["account"]["name"] for row in document["accounts"]}
    assert names[NAMED_MEMBER] == f"odd{REPLACED}name" and names[PLAIN_MEMBER] == "plain"
    filtered = get(running, "/?ou=" + "Root/Work%EF%BF%BDloads")
    assert 'data-account-id="340000000001"' in filtered
