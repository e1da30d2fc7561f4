"""``iam:ListVirtualMFADevices``: tells a virtual root MFA from a hardware or FIDO one."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from exporter.config import Config
from exporter.sources import root_audit
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import MEMBER_ROLE, AwsCall, SourceSpec
from exporter.state import Account, AccountSummary, Snapshot, VirtualMfa

NAME = "mfa_devices"
SPEC = SourceSpec(
    NAME,
    "virtual MFA devices assigned to root (AssignmentStatus=Assigned): is root's MFA virtual",
    calls=(AwsCall("iam:ListVirtualMFADevices", MEMBER_ROLE),),
    interval=300.0,
)


def root_has_virtual(devices: Iterable[Mapping[str, Any]]) -> bool:
    """True when a device is assigned to root: its ``User.Arn`` ends in ``:root``.

    The serial is not a reliable sign (an IAM user may be named ``root-account-mfa-device``).
    """
    return any(str((device.get("User") or {}).get("Arn", "")).endswith(":root") for device in devices)


def fetch(context: Context, account: Account, previous: Optional[VirtualMfa] = None) -> VirtualMfa:
    paginator = context.access.client(account, "iam").get_paginator("list_virtual_mfa_devices")
    for page in paginator.paginate(AssignmentStatus="Assigned"):
        if root_has_virtual(page.get("VirtualMFADevices", [])):
            return VirtualMfa(root_has_virtual=True)
    return VirtualMfa(root_has_virtual=False)


def applies(account: Account, snapshot: Snapshot, config: Config) -> bool:
    """Only where it can tell something: not when the live account summary says root has no MFA
    at all (nothing to tell apart), nor where the root audit stands in (it knows device kinds).
    Before the first summary of an account, it runs."""
    if root_audit.stands_in(account, snapshot, config):
        return False
    state = snapshot.accounts.get(account.id)
    summary: Optional[AccountSummary] = state.value("account_summary") if state else None
    return summary is None or summary.mfa_enabled


SOURCE = AccountSource(SPEC, fetch, applies)
