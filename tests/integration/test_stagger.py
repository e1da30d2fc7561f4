"""Staggered runs: after a source's first run, each account is fetched at its own stable offset
within the first part of the interval; the first run fetches every account at once."""

from __future__ import annotations

import time
from exporter.scheduler import stagger_spread
from exporter.shards import stagger_fraction
from tests.integration.conftest import Harness, new_account, only

INTERVAL, DEADLINE = 4.0, 2.0  # seconds: the interval the schedule would run the source at


def test_first_run_at_once_later_runs_spread_by_each_accounts_stable_offset(fake):
    members = [new_account(fake) for _ in range(6)]
    harness = Harness(accounts=only(*members), collection={"deadlines": {"account_summary": "2s"}})
    spread = stagger_spread(INTERVAL, DEADLINE)
    assert spread == 2.0
    harness.run("discovery")
    source = harness.source("account_summary")

    fake.clear_calls()
    started = time.time()
    assert harness.collection.run_source(source, INTERVAL)  # the first run: not staggered
    first = {call.account_id: call.time - started for call in fake.calls_to("GetAccountSummary")}
    assert set(first) == set(members) and max(first.values()) < 1.0, first

    fake.clear_calls()
    started = time.time()
    assert harness.collection.run_source(source, INTERVAL)
    offsets = {call.account_id: call.time - started for call in fake.calls_to("GetAccountSummary")}
    assert set(offsets) == set(members)
    for member in members:
        assert abs(offsets[member] - spread * stagger_fraction(member)) < 0.5, (member, offsets)
    assert max(offsets.values()) - min(offsets.values()) > 0.5  # spread out, not a burst
    # Without stagger (--once), a later run is not spread either.
    fake.clear_calls()
    started = time.time()
    assert harness.collection.run_source(source)
    assert max(call.time - started for call in fake.calls_to("GetAccountSummary")) < 1.0
