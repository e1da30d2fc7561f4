"""root_policies without AWS: which attachments are in effect for an account, and describe()
for the landing page."""

from __future__ import annotations

import math
from pathlib import Path

from exporter.root_email import email_allowed
from exporter.snapshot import with_result
from exporter.sources.root_policies import OrganizationScps, Scp, applies, describe, evaluate
from exporter.state import Account, AccountState, PolicyAttachment, Snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "scp"
ROOT_ID, WORKLOADS, PROD = "r-ab12", "ou-ab12-11111111", "ou-ab12-22222222"
MEMBER = Account("111122223333", "prod-web", ou_ids=(ROOT_ID, WORKLOADS, PROD))


def policy(policy_id: str, fixture: str, *targets: tuple[str, str, str]) -> Scp:
    content = (FIXTURES / f"{fixture}.json").read_text()
    return Scp(policy_id, fixture, content, tuple(PolicyAttachment(policy_id, fixture, *t) for t in targets))


FULL = policy("p-FullAWSAccess", "full-aws-access", (ROOT_ID, "Root", "ROOT"))


def test_attachment_at_root_ou_nested_ou_and_account_all_apply():
    for target in [
        (ROOT_ID, "Root", "ROOT"),
        (WORKLOADS, "Workloads", "ORGANIZATIONAL_UNIT"),
        (PROD, "Prod", "ORGANIZATIONAL_UNIT"),
        (MEMBER.id, "prod-web", "ACCOUNT"),
    ]:
        value = evaluate(OrganizationScps(True, (FULL, policy("p-1", "deny-root-all", target))), MEMBER)
        assert value.denies_all and math.isinf(value.denied_actions), target
        assert [a.target_id for a in value.restricting] == [target[0]]


def test_attachments_elsewhere_do_not_apply():
    other = [("ou-ab12-99999999", "Sandbox", "ORGANIZATIONAL_UNIT"), ("999999999999", "other", "ACCOUNT")]
    value = evaluate(OrganizationScps(True, (FULL, policy("p-1", "deny-root-all", *other))), MEMBER)
    assert not value.denies_all and value.denied_actions == 0 and value.restricting == ()


def test_full_aws_access_only_restricts_nothing():
    value = evaluate(OrganizationScps(True, (FULL,)), MEMBER)
    assert (value.scps_enabled, value.denies_all, value.denied_actions) == (True, False, 0.0)


def test_partial_denies_add_up_across_levels():
    scps = OrganizationScps(
        True,
        (
            policy("p-1", "deny-root-access-keys", (WORKLOADS, "Workloads", "ORGANIZATIONAL_UNIT")),
            policy("p-2", "deny-leave-organization", (ROOT_ID, "Root", "ROOT")),
        ),
    )
    value = evaluate(scps, MEMBER)
    assert not value.denies_all and value.denied_actions == 2


def test_scps_disabled():
    assert evaluate(OrganizationScps(False), MEMBER).scps_enabled is False


def test_applies_to_members_of_organizations_discovery_only():
    assert applies(MEMBER, Snapshot(), None)
    assert not applies(Account("123456789012", "management", ou_ids=(ROOT_ID,), management=True), Snapshot(), None)
    assert not applies(Account("444455556666", "static"), Snapshot(), None)  # OU path unknown


def test_describe_lists_policy_name_id_and_where_attached():
    scps = OrganizationScps(
        True,
        (
            FULL,
            policy("p-1", "deny-root-all", (PROD, "Prod", "ORGANIZATIONAL_UNIT"), (MEMBER.id, "prod-web", "ACCOUNT")),
        ),
    )
    snapshot = Snapshot(accounts={MEMBER.id: AccountState(MEMBER)})
    assert describe(snapshot.accounts[MEMBER.id]) == []  # never collected
    snapshot = with_result(snapshot, MEMBER.id, "root_policies", 1.0, value=evaluate(scps, MEMBER))
    assert describe(snapshot.accounts[MEMBER.id]) == [
        ("deny-root-all", "p-1", "Prod", "ORGANIZATIONAL_UNIT"),
        ("deny-root-all", "p-1", "prod-web", "ACCOUNT"),
    ]


def test_unreadable_policy_denies_nothing():
    broken = Scp("p-x", "broken", "{", (PolicyAttachment("p-x", "broken", ROOT_ID, "Root", "ROOT"),))
    assert evaluate(OrganizationScps(True, (broken,)), MEMBER).denied_actions == 0


def test_email_policy_full_match_any_case():
    patterns = (r"aws\+[a-z0-9-]+@example\.com",)
    assert email_allowed(patterns, "AWS+Prod-Web@Example.com") is True
    assert email_allowed(patterns, "aws+prod@example.com.evil.test") is False
    assert email_allowed(patterns, "x-aws+prod@example.com") is False
    assert email_allowed((), "aws+prod@example.com") is None
    assert email_allowed(patterns, "") is None
