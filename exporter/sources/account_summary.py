"""``iam:GetAccountSummary``: live root MFA, password, access key and certificate presence."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from exporter.aws.errors import SourceError
from exporter.config import Config
from exporter.sources import root_audit
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import MEMBER_ROLE, AwsCall, SourceSpec
from exporter.state import Account, AccountSummary, Snapshot

NAME = "account_summary"
SPEC = SourceSpec(
    NAME,
    "live presence of root's MFA, password, access keys and signing certificates",
    calls=(AwsCall("iam:GetAccountSummary", MEMBER_ROLE),),
    interval=300.0,
)


def _count(summary_map: Mapping[str, Any], key: str) -> int:
    """A non-negative integer entry of ``SummaryMap``; anything else is a ``SourceError``."""
    value = summary_map[key]
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SourceError("SummaryUnparsable", f"GetAccountSummary SummaryMap {key} is {value!r}, not a number")
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise SourceError("SummaryUnparsable", f"GetAccountSummary SummaryMap {key} is {value!r}, not a number")
    return number


def parse_summary(summary_map: Mapping[str, Any]) -> AccountSummary:
    """Parse ``SummaryMap``; ``AccountPasswordPresent`` is optional (older partitions omit it).

    ``AccountAccessKeysPresent`` and ``AccountSigningCertificatesPresent`` are documented as 0/1
    flags ("1 if the root user has an access key, otherwise 0"): read 0 as "none at all" and any
    other value, a count included, as "at least one".
    """
    try:
        password = summary_map.get("AccountPasswordPresent")
        return AccountSummary(
            mfa_enabled=_count(summary_map, "AccountMFAEnabled") > 0,
            access_keys_present=_count(summary_map, "AccountAccessKeysPresent") > 0,
            signing_certificates_present=_count(summary_map, "AccountSigningCertificatesPresent") > 0,
            password_present=None if password is None else _count(summary_map, "AccountPasswordPresent") > 0,
        )
    except (KeyError, TypeError) as error:
        raise SourceError("SummaryUnparsable", f"GetAccountSummary SummaryMap lacks or mangles {error}") from error


def fetch(context: Context, account: Account, previous: Optional[AccountSummary] = None) -> AccountSummary:
    response = context.access.client(account, "iam").get_account_summary()
    return parse_summary(response["SummaryMap"])


def applies(account: Account, snapshot: Snapshot, config: Config) -> bool:
    """Not where the root audit stands in (it reads the same facts, and more), as long as it
    runs at least as often: the live facts never get staler for it. With the default intervals
    (audit 30m, summary 5m) the summary runs; with ``collection.intervals.account_summary`` at
    the audit's interval or longer, the audit alone reads these facts for the members it audits."""
    intervals = config.collection.intervals
    if intervals[root_audit.NAME] > intervals[NAME]:
        return True
    return not root_audit.stands_in(account, snapshot, config)


SOURCE = AccountSource(SPEC, fetch, applies)
