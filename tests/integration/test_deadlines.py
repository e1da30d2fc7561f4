"""A hung account is bounded by its source's deadline: recorded as failed (DeadlineExceeded), the
run finishes without it, and the other accounts keep their interval. Long runs log progress."""

from __future__ import annotations

import logging
import time

from fakeaws import FakeAccessKey, FakeRoot
from exporter.scheduler import Scheduler
from tests.integration.conftest import Harness, new_account, only
from tests.support.net import wait_for


def test_a_hung_account_fails_at_its_deadline_and_the_run_does_not_wait_for_it(fake):
    hung = new_account(fake, root=FakeRoot(password=True, access_keys=[FakeAccessKey()]))
    quick = [new_account(fake, root=FakeRoot.with_password("virtual")) for _ in range(3)]
    harness = Harness(
        accounts=only(hung, *quick), collection={"deadlines": {"account_summary": "1s"}}, aws={"max_attempts": 1}
    )
    assert harness.run("discovery")
    fake.set_latency(3.0, account_id=hung)
    try:
        started = time.monotonic()
        assert harness.run("account_summary") is False
        took = time.monotonic() - started
        assert took < 2.5, f"the run waited {took:.1f} s for the hung account"

        status = harness.status(hung, "account_summary")
        assert status.success is False and status.error.startswith("DeadlineExceeded")
        assert "1s" in status.error
        for account_id in quick:
            assert harness.status(account_id, "account_summary").success is True
        # The abandoned call answers later (AssumeRole, then GetAccountSummary: 3 s each): its late
        # result does not overwrite the outcome the run recorded at the deadline.
        time.sleep(6.5 - (time.monotonic() - started))
        assert harness.status(hung, "account_summary").error.startswith("DeadlineExceeded")
    finally:
        fake.clear_latency()


def test_the_other_accounts_keep_their_interval_while_one_hangs(fake):
    hung = new_account(fake)
    quick = new_account(fake, root=FakeRoot.with_password("virtual"))
    harness = Harness(
        accounts=only(hung, quick), collection={"deadlines": {"account_summary": "1s"}}, aws={"max_attempts": 1}
    )
    scheduler = Scheduler(harness.collection, {"discovery": 3600, "account_summary": 1.5})
    harness.collection.sources = tuple(s for s in harness.collection.sources if s.name == "account_summary")
    fake.set_latency(30.0, account_id=hung)
    scheduler.start()
    try:
        first = wait_for(
            lambda: (
                harness.snapshot.accounts.get(quick) and harness.snapshot.accounts[quick].sources.get("account_summary")
            ),
            10,
            "first run",
        )
        wait_for(
            lambda: harness.status(quick, "account_summary").last_success >= first.last_success + 2.5,
            10,
            "two more runs of the quick account while the other one hangs",
        )
        assert harness.status(hung, "account_summary").error.startswith("DeadlineExceeded")
    finally:
        scheduler.stop()
        fake.clear_latency()


def test_a_long_run_logs_its_progress(fake, caplog):
    members = [new_account(fake) for _ in range(4)]
    harness = Harness(accounts=only(*members), collection={"concurrency": 1})
    assert harness.run("discovery")
    harness.collection.progress_every = 0.3
    fake.set_latency(0.25, action="GetAccountSummary")
    try:
        with caplog.at_level(logging.INFO, logger="exporter.scheduler"):
            assert harness.run("account_summary")
    finally:
        fake.clear_latency()
    progress = [r for r in caplog.records if r.getMessage() == "source run in progress"]
    assert progress, [r.getMessage() for r in caplog.records]
    assert all(r.source == "account_summary" and r.accounts == 4 for r in progress)
    assert all(0 <= r.done < 4 for r in progress)
