"""Shards: three replicas over the demo organization collect every account exactly once; each
says which shard it is and exports the organization-wide series its alerts join on."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from exporter.collector import exposition
from fakeaws.demo import DEMO_ACCOUNTS, build_organization
from tests.integration.conftest import Harness, running_fake
from tests.support.exposition import parse


@pytest.fixture(scope="module")
def demo():
    with running_fake(lambda fake: build_organization(fake, datetime.now(timezone.utc))) as fake:
        yield fake


def test_three_shards_collect_every_account_exactly_once(demo):
    shards = [Harness(collection={"shard": {"index": index, "count": 3}}) for index in range(3)]
    demo.clear_calls()
    for harness in shards:
        harness.run("discovery", "account_summary")

    active = {account.id for account in DEMO_ACCOUNTS if account.state == "ACTIVE"}
    collected = [set(harness.snapshot.accounts) for harness in shards]
    assert all(collected), collected  # the hash spreads the eleven accounts over every shard
    assert Counter(account for accounts in collected for account in accounts) == Counter(active)
    # Each account's summary was asked for once, by the shard that holds it.
    asked = Counter(call.account_id for call in demo.calls_to("GetAccountSummary"))
    assert set(asked) <= active and all(count == 1 for count in asked.values())
    assert set(asked) == {a for a in active if a != "999999999999"}  # its AssumeRole is denied


def test_every_shard_says_which_it_is_and_exports_the_organization_series_its_alerts_join_on(demo):
    """AWSRootPasswordWithCentralizedRootAccess joins each account's series with
    root_organization_feature_enabled on (job, instance): every shard must export it."""
    intervals = {"discovery": 3600.0, "account_summary": 300.0}
    features = []
    for index in range(3):
        harness = Harness(collection={"shard": {"index": index, "count": 3}})
        harness.run("discovery")
        metrics = parse(exposition(harness.snapshot, intervals)[0].decode())
        assert metrics.series("root_exporter_shard_info") == {
            frozenset({"index": str(index), "count": "3"}.items()): 1.0
        }
        assert metrics.series("root_exporter_discovery_success") == {frozenset(): 1.0}
        features.append(metrics.series("root_organization_feature_enabled"))
        # Every shard still knows the features (root_audit: auto depends on them).
        assert harness.snapshot.organization_features.root_credentials_management is True
    assert all(len(found) == 2 for found in features) and features[0] == features[1] == features[2]
