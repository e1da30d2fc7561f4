"""The AWS sources, one module each. ``account_sources`` lists the per-account ones in run order."""

from __future__ import annotations

from exporter.sources import (account_summary, console_logins, credential_report, mfa_devices, root_audit,
                              root_policies, trail_status)
from exporter.sources.base import AccountSource


def account_sources() -> list[AccountSource]:
    return [account_summary.SOURCE, credential_report.SOURCE, mfa_devices.SOURCE, console_logins.SOURCE,
            root_audit.SOURCE, trail_status.SOURCE, root_policies.SOURCE]
