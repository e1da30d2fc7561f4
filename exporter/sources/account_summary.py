"""``iam:GetAccountSummary``: live root MFA, password, access key and certificate presence."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from exporter.aws.errors import SourceError
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import MEMBER_ROLE, AwsCall, SourceSpec
from exporter.state import Account, AccountSummary

NAME = "account_summary"
SPEC = SourceSpec(
    NAME, "live presence of root's MFA, password, access keys and signing certificates",
    calls=(AwsCall("iam:GetAccountSummary", MEMBER_ROLE),), interval=300.0)


def parse_summary(summary_map: Mapping[str, Any]) -> AccountSummary:
    """Parse ``SummaryMap``; ``AccountPasswordPresent`` is optional (older partitions omit it)."""
    try:
        password = summary_map.get("AccountPasswordPresent")
        return AccountSummary(
            mfa_enabled=int(summary_map["AccountMFAEnabled"]) > 0,
            access_keys_present=int(summary_map["AccountAccessKeysPresent"]),
            signing_certificates_present=int(summary_map["AccountSigningCertificatesPresent"]),
            password_present=None if password is None else int(password) > 0,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SourceError("SummaryUnparsable", f"GetAccountSummary SummaryMap lacks or mangles {error}") from error


def fetch(context: Context, account: Account, previous: Optional[AccountSummary] = None) -> AccountSummary:
    response = context.access.client(account, "iam").get_account_summary()
    return parse_summary(response["SummaryMap"])


SOURCE = AccountSource(SPEC, fetch)
