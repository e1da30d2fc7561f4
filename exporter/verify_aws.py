"""``--verify-config.aws``: can these credentials do what the exporter needs? Three calls.

1. ``sts:GetCallerIdentity`` (needs no permission: a failure means unusable credentials);
2. one page of ``organizations:ListAccounts`` (skipped with ``accounts.discovery: static``);
3. one member ``sts:AssumeRole`` into ``accounts.role_name``, exactly as collection does it.

Each check prints one line; a failing one names the missing permission and where it is granted
(deploy/aws). Nothing is changed in AWS.
"""

from __future__ import annotations

from typing import Callable, Optional

from exporter.aws.errors import describe_error, error_code
from exporter.aws.sessions import AwsAccess
from exporter.config import Config
from exporter.state import Account

DENIED = {"AccessDenied", "AccessDeniedException"}
EXPORTER_TEMPLATE = "deploy/aws/exporter-role.yaml (policies/exporter-policy.json)"
MEMBER_TEMPLATE = "deploy/aws/member-role.yaml (policies/member-trust-policy.json)"


def verify_aws(config: Config, out: Callable[[str], None] = print, access: Optional[AwsAccess] = None) -> int:
    """Run the checks; 0 when all pass, 1 otherwise (the configuration itself was valid)."""
    access = access or AwsAccess(config)
    home = _caller(access, out)
    if home is None:
        return 1
    members: list[Account] = []
    if config.accounts.discovery == "static":
        members = [Account(id=a.id, name=a.name, role_arn=a.role_arn) for a in config.accounts.static]
        out(f"aws: skipped organizations:ListAccounts (accounts.discovery: static, {len(members)} accounts)")
    else:
        listed = _list_accounts(access, home, out)
        if listed is None:
            return 1
        members = listed
    member = next((a for a in members if a.id != home.id), None)
    if member is None:
        out("aws: skipped sts:AssumeRole (no member account to try)")
        return 0
    return 0 if _assume_member(access, member, out) else 1


def _caller(access: AwsAccess, out: Callable[[str], None]) -> Optional[Account]:
    try:
        home_id = access.home_account_id
        arn = access.client(Account(id=home_id, name=""), "sts").get_caller_identity()["Arn"]
    except Exception as error:  # noqa: BLE001 - reported, by name
        out(
            f"aws: FAIL sts:GetCallerIdentity: {describe_error(error)}; the exporter has no usable AWS "
            "credentials (environment, profile, task or pod role)"
        )
        return None
    out(f"aws: ok sts:GetCallerIdentity: {arn} (account {home_id})")
    return Account(id=home_id, name="")


def _list_accounts(access: AwsAccess, home: Account, out: Callable[[str], None]) -> Optional[list[Account]]:
    try:
        page = access.client(home, "organizations").list_accounts(MaxResults=20)
    except Exception as error:  # noqa: BLE001 - reported, by name
        code = error_code(error)
        if code in DENIED:
            why = (
                f"missing permission organizations:ListAccounts for the exporter's principal "
                f"(granted by {EXPORTER_TEMPLATE}); it must run in the management account or a "
                "delegated administrator account of Organizations"
            )
        elif code == "AWSOrganizationsNotInUseException":
            why = "this account is not in an organization: use accounts.discovery: static"
        else:
            why = "discovery would fail"
        out(f"aws: FAIL organizations:ListAccounts: {describe_error(error)}; {why}")
        return None
    accounts = [
        Account(id=raw["Id"], name=raw.get("Name", ""))
        for raw in page.get("Accounts", [])
        if str(raw.get("State") or raw.get("Status")) == "ACTIVE"
    ]
    more = " (more pages)" if page.get("NextToken") else ""
    out(f"aws: ok organizations:ListAccounts: {len(accounts)} active accounts on the first page{more}")
    return accounts


def _assume_member(access: AwsAccess, member: Account, out: Callable[[str], None]) -> bool:
    role = access.role_arn(member)
    try:
        # The member session's first call makes the exporter's own AssumeRole (session name, ExternalId).
        with access.acting_for(member):  # member clients are shared: sign as this member
            access.client(member, "sts").get_caller_identity()
    except Exception as error:  # noqa: BLE001 - reported, by name
        code = error_code(error)
        if code in DENIED:
            why = (
                f"missing permission sts:AssumeRole on {role}: the exporter's policy must allow it "
                f"({EXPORTER_TEMPLATE}), and the role must exist in account {member.id} and trust the "
                f"exporter's role, with the same ExternalId as accounts.external_id ({MEMBER_TEMPLATE})"
            )
        else:
            why = f"the member role {role} cannot be assumed"
        out(f"aws: FAIL sts:AssumeRole into {member.id} ({member.name}): {describe_error(error)}; {why}")
        return False
    out(f"aws: ok sts:AssumeRole: {role}")
    return True
