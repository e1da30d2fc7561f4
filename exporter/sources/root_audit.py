"""``sts:AssumeRoot`` with the ``IAMAuditRootUserCredentials`` task policy: a member's root
credentials read without any role inside the member account.

Runs for member accounts when ``accounts.root_audit`` is ``on``, or ``auto`` and the
organization has ``RootCredentialsManagement`` enabled. It can stand in for the member role
entirely for password, access keys, signing certificates and MFA devices; it also tells MFA
devices apart by kind, which nothing else can.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from botocore.exceptions import ClientError

from exporter.aws.errors import error_code
from exporter.aws.untrusted import clean
from exporter.config import Config
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import EXPORTER, ROOT_SESSION, AwsCall, SourceSpec
from exporter.state import Account, MfaDevice, RootAudit, Snapshot

NAME = "root_audit"
SPEC = SourceSpec(
    NAME,
    "members' root password, keys, certificates and MFA device kinds through a 900 s AssumeRoot session "
    "(task policy IAMAuditRootUserCredentials), per accounts.root_audit",
    calls=(
        AwsCall("sts:AssumeRoot", EXPORTER),
        *(
            AwsCall(f"iam:{action}", ROOT_SESSION)
            for action in ("GetLoginProfile", "ListAccessKeys", "ListMFADevices", "ListSigningCertificates")
        ),
    ),
    interval=1800.0,
)


def mfa_kind(serial: str) -> str:
    """``arn:…:mfa/…`` virtual, ``arn:…:u2f/…`` FIDO security key, not an ARN: hardware TOTP.

    An ARN of any other kind counts as virtual: never claim hardware MFA without proof.
    """
    if not serial.startswith("arn:"):
        return "hardware"
    return "fido" if ":u2f/" in serial else "virtual"


def applies(account: Account, snapshot: Snapshot, config: Config) -> bool:
    """Members only (AssumeRoot cannot target the management account)."""
    if account.management or account.id == snapshot.home_account_id:
        return False
    mode = config.accounts.root_audit
    if mode != "auto":
        return mode == "on"
    features = snapshot.organization_features
    return bool(features and features.root_credentials_management)


def stands_in(account: Account, snapshot: Snapshot, config: Config) -> bool:
    """The root audit runs for ``account`` and its last run succeeded: it tells what the account
    summary and the virtual MFA listing would (password, keys, certificates, MFA devices by
    kind), so those two sources need not call AWS for this account. A failing audit hands the
    account back to them at their next run."""
    if not applies(account, snapshot, config):
        return False
    state = snapshot.accounts.get(account.id)
    status = state.sources.get(NAME) if state else None
    return bool(status and status.success)


def _all(iam: Any, operation: str, key: str) -> list[dict]:
    items: list[dict] = []
    for page in iam.get_paginator(operation).paginate():
        items.extend(page.get(key, []))
    return items


def _active(items: Iterable[dict]) -> tuple[bool, ...]:
    """Status per credential, oldest first (the credential report's key 1 is the older)."""
    ordered = sorted(items, key=lambda item: item.get("CreateDate") or item.get("UploadDate") or 0)
    return tuple(item.get("Status") == "Active" for item in ordered)


def has_password(iam: Any) -> bool:
    try:
        iam.get_login_profile()
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return False
        raise
    return True


def fetch(context: Context, account: Account, previous: Optional[RootAudit] = None) -> RootAudit:
    iam = context.access.root_session_client(account.id)
    return RootAudit(
        password=has_password(iam),
        access_keys_active=_active(_all(iam, "list_access_keys", "AccessKeyMetadata")),
        signing_certificates_active=_active(_all(iam, "list_signing_certificates", "Certificates")),
        mfa_devices=tuple(
            MfaDevice(serial=clean(d["SerialNumber"]), kind=mfa_kind(d["SerialNumber"]))
            for d in _all(iam, "list_mfa_devices", "MFADevices")
        ),
    )


SOURCE = AccountSource(SPEC, fetch, applies)
