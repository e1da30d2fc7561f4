"""The root e-mail policy (accounts.root_email.allowed) over the fake organization: the e-mail
addresses come from Organizations ListAccounts, the verdict shows on /metrics."""

from __future__ import annotations

from exporter.collector import exposition
from tests.integration.conftest import MGMT, Harness, new_account
from tests.support.exposition import parse

POLICY = [r"aws\+[a-z0-9-]+@example\.com", r"legacy@example\.org"]


def compliant(harness: Harness) -> dict[str, float]:
    body = parse(exposition(harness.snapshot, harness.config.collection.intervals)[0].decode())
    return {dict(labels)["account_id"]: value for labels, value in body.series("root_email_policy_compliant").items()}


def test_each_account_is_checked_against_the_policy(fake):
    group = new_account(fake, name="aws+prod-web")  # the fake's e-mail is <name>@example.com
    shouting = new_account(fake, name="AWS+Payments")  # case does not matter
    personal = new_account(fake, name="alice")
    suffix = "399999999901"  # full match: an address that only starts like an allowed one fails
    fake.create_account(suffix, "lookalike", email="aws+ok@example.com.attacker.test")
    harness = Harness(
        accounts={"include": [group, shouting, personal, suffix, MGMT], "root_email": {"allowed": POLICY}}
    )
    assert harness.run("discovery")
    assert compliant(harness) == {group: 1.0, shouting: 1.0, personal: 0.0, suffix: 0.0, MGMT: 0.0}


def test_no_policy_no_metric(fake):
    account_id = new_account(fake, name="anyone")
    harness = Harness(accounts={"include": [account_id]})
    assert harness.run("discovery")
    assert compliant(harness) == {}
    body = exposition(harness.snapshot, harness.config.collection.intervals)[0].decode()
    assert "anyone@example.com" in body  # the address stays in root_account_info only
    assert body.count("anyone@example.com") == 1
