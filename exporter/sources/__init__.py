"""The AWS sources, one module each, and ``REGISTRY``: every source's declaration in run order.

Adding a per-account source is one module (with its ``SPEC`` and ``SOURCE``) and one line in
``ACCOUNT_SOURCES`` below; flags, intervals, ``--verify-config`` and docs follow from the registry.
"""

from __future__ import annotations

from exporter.sources import (
    account_summary,
    console_logins,
    credential_report,
    discovery,
    mfa_devices,
    org_features,
    root_audit,
    root_events,
    root_policies,
    trail_status,
)
from exporter.sources.base import AccountSource
from exporter.sources.registry import Registry

ACCOUNT_SOURCES: tuple[AccountSource, ...] = (
    account_summary.SOURCE,
    credential_report.SOURCE,
    mfa_devices.SOURCE,
    console_logins.SOURCE,
    root_audit.SOURCE,
    trail_status.SOURCE,
    root_policies.SOURCE,
)
REGISTRY = Registry((discovery.SPEC, org_features.SPEC, root_events.SPEC), ACCOUNT_SOURCES)


def account_sources() -> list[AccountSource]:
    return list(REGISTRY.account_sources)
