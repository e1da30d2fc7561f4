"""``root_exporter_collection_errors_total{account_id, account_name, source, code}``: every failed
fetch counted by its AWS error code, per account and source, against the fake over HTTP."""

from __future__ import annotations

from exporter.collector import exposition
from fakeaws import FakeRoot
from tests.integration.conftest import MGMT, Harness, new_account, only
from tests.support.exposition import parse

INTERVALS = {"discovery": 3600.0, "account_summary": 300.0, "mfa_devices": 300.0}


def errors(harness: Harness, account_id: str) -> dict[tuple[str, str], float]:
    metrics = parse(exposition(harness.snapshot, INTERVALS)[0].decode())
    return {
        (dict(k)["source"], dict(k)["code"]): v
        for k, v in metrics.series("root_exporter_collection_errors_total", account_id=account_id).items()
    }


def test_failures_are_counted_by_code_and_a_healthy_account_has_none(fake):
    # flaky's root has MFA, so mfa_devices reads it on every run (it skips a root without MFA)
    flaky = new_account(fake, root=FakeRoot.with_password("virtual"), name="flaky")
    healthy = new_account(fake, name="healthy")
    harness = Harness(accounts=only(flaky, healthy), aws={"max_attempts": 1})
    assert harness.run("discovery")
    fake.fail(flaky, "GetAccountSummary", "Throttling", status=400, times=2)
    fake.fail(flaky, "ListVirtualMFADevices", "AccessDenied")
    try:
        for _ in range(3):
            harness.run("account_summary", "mfa_devices")
    finally:
        fake.clear_failures(flaky)
    assert errors(harness, flaky) == {("account_summary", "Throttling"): 2.0, ("mfa_devices", "AccessDenied"): 3.0}
    assert errors(harness, healthy) == {}
    assert harness.status(flaky, "account_summary").success is True  # the third run succeeded; the count stays


def test_discovery_failures_are_counted_on_the_exporters_own_account(fake):
    member = new_account(fake)
    harness = Harness(accounts=only(MGMT, member), aws={"max_attempts": 1})
    assert harness.run("discovery")
    fake.fail(MGMT, "ListRoots", "AccessDeniedException", times=1)  # discovery's first call
    try:
        assert harness.run("discovery") is False
    finally:
        fake.clear_failures(MGMT)
    assert errors(harness, MGMT) == {("discovery", "AccessDeniedException"): 1.0}
