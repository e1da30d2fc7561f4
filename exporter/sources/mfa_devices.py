"""``iam:ListVirtualMFADevices``: tells a virtual root MFA from a hardware or FIDO one."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import MEMBER_ROLE, AwsCall, SourceSpec
from exporter.state import Account, VirtualMfa

NAME = "mfa_devices"
SPEC = SourceSpec(
    NAME, "virtual MFA devices assigned to root (AssignmentStatus=Assigned): is root's MFA virtual",
    calls=(AwsCall("iam:ListVirtualMFADevices", MEMBER_ROLE),), interval=300.0)


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


SOURCE = AccountSource(SPEC, fetch)
