"""``collection.stale_after`` as an operator meets it, the real command against the fake over
HTTP: a member whose account summary keeps failing loses its root facts from ``/metrics`` once
the last success is older than stale_after, keeps its collection series, and the page marks the
row stale since then; the next success brings the values back."""

from __future__ import annotations

import time
from pathlib import Path

from fakeaws import FakeRoot
from tests.integration.conftest import new_account
from tests.support.chromium import parse_html
from tests.support.exporter import start_exporter
from tests.support.exposition import parse
from tests.support.net import http_get, wait_for

ONLY_SUMMARY = [
    "--no-collector.credential_report",
    "--no-collector.mfa_devices",
    "--no-collector.console_logins",
    "--no-collector.root_audit",
]


def test_values_past_stale_after_leave_metrics_and_the_page_marks_them(fake, tmp_path: Path):
    member = new_account(fake, root=FakeRoot(password=True), name="dormant")
    config = tmp_path / "config.yaml"
    config.write_text(
        f'aws:\n  max_attempts: 1\naccounts:\n  include: ["{member}"]\n'
        "collection:\n  intervals:\n    account_summary: 10s\n  deadlines:\n    account_summary: 2s\n"
        "  stale_after:\n    account_summary: 14s\n"
    )
    running = start_exporter(["--config.file", str(config), *ONLY_SUMMARY], env=fake.env())
    labels = {"account_id": member, "account_name": "dormant"}
    try:

        def metrics():
            return parse(http_get(running.url + "/metrics")[1])

        assert metrics().value("root_mfa_active", **labels) == 0.0
        assert metrics().value("root_exporter_collection_stale_after_seconds", source="account_summary") == 14.0
        fake.fail(member, "GetAccountSummary", "AccessDenied")
        failing_since = time.monotonic()
        wait_for(
            lambda: metrics().value("root_exporter_collection_success", **labels, source="account_summary") == 0.0,
            15,
            "the first failed run",
        )
        assert metrics().value("root_mfa_active", **labels) == 0.0  # failing, not yet stale: last good value
        wait_for(lambda: metrics().value("root_mfa_active", **labels) is None, 30, "the stale value to leave /metrics")
        assert time.monotonic() - failing_since >= 3  # not at the first failure
        now = metrics()
        assert now.value("root_password_enabled", **labels) is None
        assert now.value("root_exporter_collection_success", **labels, source="account_summary") == 0.0
        assert now.value("root_exporter_last_success_timestamp", **labels, source="account_summary") > 0
        assert (
            now.value("root_exporter_collection_errors_total", **labels, source="account_summary", code="AccessDenied")
            >= 1
        )
        row = parse_html(http_get(running.url + "/")[1]).find("tr", data_account_id=member)
        assert row.attrs["data-stale"] == "account_summary"
        assert row.find("div", data_stale="account_summary").text().startswith("stale since ")
        assert "data_stale" in {li.attrs["data-finding"] for li in row.find_all("li", data_finding=None)}

        fake.clear_failures(member)
        wait_for(lambda: metrics().value("root_mfa_active", **labels) == 0.0, 20, "the value back after a success")
        assert "data-stale" not in parse_html(http_get(running.url + "/")[1]).find("tr", data_account_id=member).attrs
    finally:
        fake.clear_failures(member)
        assert running.stop() == 0, running.log()[-3000:]
