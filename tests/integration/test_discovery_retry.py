"""Discovery that fails is retried with capped exponential backoff, not only at the next (hourly)
interval; the sources run as soon as it first succeeds; the exporter is ready only then."""

from __future__ import annotations

import logging
import time

from exporter.scheduler import Scheduler
from exporter.snapshot import ready
from exporter.sources import REGISTRY
from tests.integration.conftest import MGMT, Harness, new_account, only
from tests.support.net import wait_for

INTERVALS = dict.fromkeys(REGISTRY.interval_names, 3600)  # every source, so none runs twice within a test


def test_failed_discovery_is_retried_with_backoff_until_it_succeeds(fake, caplog):
    member = new_account(fake)
    harness = Harness(accounts=only(member), aws={"max_attempts": 1})
    scheduler = Scheduler(harness.collection, INTERVALS, retry_initial=0.2, retry_max=0.6)
    fake.clear_calls()
    fake.fail(MGMT, "ListRoots", "AccessDeniedException", times=4)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="exporter.scheduler"):
        scheduler.start()
        try:
            wait_for(
                lambda: harness.snapshot.discovery and harness.snapshot.discovery.success,
                10,
                "discovery to succeed after four failures",
            )
            took = time.monotonic() - started
            assert ready(harness.snapshot, set(INTERVALS)) is False  # sources still to run
            wait_for(lambda: ready(harness.snapshot, set(INTERVALS)), 30, "every source's first run")
        finally:
            scheduler.stop()
            fake.clear_failures(MGMT)
    # 0.2 + 0.4 + 0.6 + 0.6 s of backoff (capped at 0.6), then success
    assert 1.6 <= took < 5, took
    # four failed discoveries and the one that succeeded, then root_policies' one look at the root
    assert len(fake.calls_to("ListRoots")) == 5 + 1
    retries = [r for r in caplog.records if r.getMessage() == "discovery failed; retrying"]
    assert [r.retry_in_seconds for r in retries] == [0.2, 0.4, 0.6, 0.6]
    assert all("organizations:ListRoots" in r.hint for r in retries)
    assert harness.status(member, "account_summary").success is True


def test_sources_do_not_run_and_the_exporter_is_not_ready_while_discovery_never_succeeded(fake):
    harness = Harness(aws={"max_attempts": 1})
    scheduler = Scheduler(harness.collection, INTERVALS, retry_initial=0.2, retry_max=0.2)
    fake.clear_calls()
    fake.fail(MGMT, "ListRoots", "AccessDeniedException")
    scheduler.start()
    try:
        wait_for(lambda: len(fake.calls_to("ListRoots")) >= 3, 10, "three discovery attempts")
        snapshot = harness.snapshot
        assert snapshot.discovery.success is False and snapshot.accounts == {}
        assert snapshot.completed_sources <= {"discovery"}
        assert ready(snapshot, set(INTERVALS)) is False
    finally:
        scheduler.stop()
        fake.clear_failures(MGMT)


def test_clients_of_accounts_that_left_are_evicted(fake):
    staying, leaving = new_account(fake), new_account(fake)
    harness = Harness(accounts=only(staying, leaving))
    assert harness.run("discovery", "account_summary", "mfa_devices")
    assert {staying, leaving} <= harness.access.cached_account_ids()

    fake.remove_account(leaving)
    assert harness.run("discovery")

    assert leaving not in harness.access.cached_account_ids()
    assert staying in harness.access.cached_account_ids()
    assert harness.run("account_summary")  # the staying account's cached client still serves
