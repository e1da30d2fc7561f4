"""Which service control policies restrict each member account's root user.

Organization-wide, read once per run from the exporter's own account: ``ListRoots`` (are SCPs
enabled?), ``ListPolicies(SERVICE_CONTROL_POLICY)``, then ``DescribePolicy`` and
``ListTargetsForPolicy`` per policy, so the cost grows with the number of policies, not of
accounts. Each account's value is then computed from that one read and the OU ids discovery
found above the account (``Account.ou_ids``): the SCPs in effect are those attached to the root,
to any of those OUs, or to the account itself (see ``exporter/scp.py`` for the evaluation).

The management account is skipped (SCPs never apply there), and so are accounts of static
discovery (their OU path is unknown, so the policies in effect cannot be told).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

from botocore.exceptions import ClientError

from exporter.aws.errors import error_code
from exporter.config import Config, partition
from exporter.scp import PolicyUnreadable, RootDeny, root_deny
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import EXPORTER, AwsCall, SourceSpec
from exporter.state import Account, AccountState, PolicyAttachment, RootPolicies, Snapshot

NAME = "root_policies"
SPEC = SourceSpec(
    NAME,
    "the organization's service control policies, read once per run, and what those in effect for each "
    "member account (root, its OUs, the account) deny to its root user",
    calls=tuple(
        AwsCall(f"organizations:{action}", EXPORTER)
        for action in ("ListRoots", "ListPolicies", "DescribePolicy", "ListTargetsForPolicy")
    ),
    interval=3600.0,
)
SCP = "SERVICE_CONTROL_POLICY"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scp:
    id: str
    name: str
    content: str
    attachments: tuple[PolicyAttachment, ...]

    def deny_for(self, root_arn: str) -> RootDeny:
        try:
            return root_deny(self.content, root_arn)
        except PolicyUnreadable as error:  # untrusted input: counts as denying nothing
            log.warning(
                "service control policy unreadable; counted as denying nothing",
                extra={"source": NAME, "policy_id": self.id, "error": str(error)},
            )
            return RootDeny()


@dataclass(frozen=True)
class OrganizationScps:
    """Every SCP of the organization with its attachments; ``enabled`` False = SCPs are off."""

    enabled: bool
    policies: tuple[Scp, ...] = ()


def read_organization(organizations: Any) -> OrganizationScps:
    roots = organizations.list_roots().get("Roots", [])
    enabled = any(
        kind.get("Type") == SCP and kind.get("Status") == "ENABLED"
        for root in roots
        for kind in root.get("PolicyTypes", [])
    )
    if not enabled:
        return OrganizationScps(enabled=False)
    policies = []
    try:
        pages = list(organizations.get_paginator("list_policies").paginate(Filter=SCP))
    except ClientError as error:
        if error_code(error) == "PolicyTypeNotEnabledException":
            return OrganizationScps(enabled=False)
        raise
    for page in pages:
        for summary in page.get("Policies", []):
            policy_id = str(summary["Id"])
            content = organizations.describe_policy(PolicyId=policy_id)["Policy"].get("Content", "")
            attachments = tuple(
                PolicyAttachment(
                    policy_id=policy_id,
                    policy_name=str(summary.get("Name", "")),
                    target_id=str(target["TargetId"]),
                    target_name=str(target.get("Name", "")),
                    target_type=str(target.get("Type", "")),
                )
                for target_page in organizations.get_paginator("list_targets_for_policy").paginate(PolicyId=policy_id)
                for target in target_page.get("Targets", [])
            )
            policies.append(Scp(policy_id, str(summary.get("Name", "")), str(content), attachments))
    return OrganizationScps(enabled=True, policies=tuple(policies))


def evaluate(scps: OrganizationScps, account: Account, arn_partition: str = "aws") -> RootPolicies:
    """The SCPs in effect for ``account`` (root, OUs above it, the account) and what they deny
    its root user."""
    if not scps.enabled:
        return RootPolicies(scps_enabled=False)
    targets = {account.id, *account.ou_ids}
    root_arn = f"arn:{arn_partition}:iam::{account.id}:root"
    total = RootDeny()
    restricting: list[PolicyAttachment] = []
    for policy in scps.policies:
        places = [place for place in policy.attachments if place.target_id in targets]
        if not places:
            continue
        deny = policy.deny_for(root_arn)
        if deny.denies_some:
            restricting += places
        total = total | deny
    return RootPolicies(
        scps_enabled=True,
        denies_all=total.denies_all,
        denied_actions=total.denied_actions,
        restricting=tuple(restricting),
    )


def prepare(context: Context) -> Callable[[Account, Optional[RootPolicies]], RootPolicies]:
    """Read the organization's SCPs once for this run; returns the per-account fetch."""
    home = Account(id=context.access.home_account_id, name="")
    scps = read_organization(context.access.client(home, "organizations"))
    arn_partition = partition(context.config.aws.region)

    def fetch_one(account: Account, previous: Optional[RootPolicies] = None) -> RootPolicies:
        return evaluate(scps, account, arn_partition)

    return fetch_one


def fetch(context: Context, account: Account, previous: Optional[RootPolicies] = None) -> RootPolicies:
    """One account on its own (reads the whole organization's SCPs: prefer ``prepare``)."""
    return prepare(context)(account, previous)


def applies(account: Account, snapshot: Snapshot, config: Config) -> bool:
    return not account.management and bool(account.ou_ids)


def describe(state: AccountState) -> list[tuple[str, str, str, str]]:
    """For the landing page: (policy name, policy id, attached at target name, target type) of
    every SCP in effect that denies the account's root something; empty when none or unknown."""
    value: Optional[RootPolicies] = state.value(NAME)
    if value is None or not value.scps_enabled:
        return []
    return [(a.policy_name, a.policy_id, a.target_name, a.target_type) for a in value.restricting]


SOURCE = AccountSource(SPEC, fetch, applies, prepare=prepare)
