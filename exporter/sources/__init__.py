"""The AWS sources, one module each. ``account_sources`` lists the per-account ones in run order."""

from __future__ import annotations

from exporter.sources import account_summary, credential_report, mfa_devices
from exporter.sources.base import AccountSource


def account_sources() -> list[AccountSource]:
    return [account_summary.SOURCE, credential_report.SOURCE, mfa_devices.SOURCE]
