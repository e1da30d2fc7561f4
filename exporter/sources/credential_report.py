"""The IAM credential report: per-key and per-certificate detail of the root user.

AWS regenerates the report at most every four hours, so it can describe a key that has since
been deleted; ``root_facts`` lets the live account summary overrule it. Parsing is by header
name, never position: older reports have fewer columns.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timezone
from typing import Callable, Mapping, Optional, Sequence

from botocore.exceptions import ClientError

from exporter.aws.errors import SourceError, error_code
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import MEMBER_ROLE, AwsCall, SourceSpec
from exporter.state import Account, CredentialReport, ReportAccessKey, ReportCertificate

NAME = "credential_report"
SPEC = SourceSpec(
    NAME,
    "the credential report's root row: key and certificate details, last uses; generation polled "
    "with backoff, bounded by collection.credential_report_timeout (AWS regenerates it at most every 4h)",
    calls=(AwsCall("iam:GenerateCredentialReport", MEMBER_ROLE), AwsCall("iam:GetCredentialReport", MEMBER_ROLE)),
    interval=3600.0,
)
ROOT_USER = "<root_account>"
# Values that mean "nothing to tell" rather than a boolean or a time.
_NO_VALUE = {"", "n/a", "no_information", "not_supported"}
# Errors after which waiting longer may help.
_NOT_READY = {"ReportInProgress", "ReportNotPresent", "ReportExpired", "LimitExceeded"}
_MAX_POLL_DELAY = 15.0
# AWS makes a new report at most this often; until then it hands out the one it has.
REPORT_LIFETIME = 4 * 3600.0


def parse_bool(value: Optional[str], column: str) -> Optional[bool]:
    """``true``/``false`` in any case; None for N/A, no_information, not_supported, missing."""
    if value is None or value.strip().lower() in _NO_VALUE:
        return None
    text = value.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise SourceError("ReportUnparsable", f"column {column}: {value!r} is not a boolean")


def parse_time(value: Optional[str], column: str) -> Optional[datetime]:
    """ISO 8601 with offset; None for N/A, no_information, not_supported, missing."""
    if value is None or value.strip().lower() in _NO_VALUE:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise SourceError("ReportUnparsable", f"column {column}: {value!r} is not an ISO 8601 time") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        # An offset can push the instant past 9999-12-31 (or before year 1) in UTC, where every
        # later conversion would raise; refuse it here, once.
        parsed.astimezone(timezone.utc)
    except OverflowError:
        raise SourceError("ReportUnparsable", f"column {column}: {value!r} lies outside years 1-9999 in UTC") from None
    return parsed


def root_row(content: bytes) -> Mapping[str, str]:
    """The ``<root_account>`` row of a report, keyed by column name."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError("ReportUnparsable", "report is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    try:
        if not reader.fieldnames or "user" not in reader.fieldnames:
            raise SourceError("ReportUnparsable", "report has no header with a 'user' column")
        for row in reader:
            if row.get("user") == ROOT_USER:
                return _complete(row, reader.fieldnames)
    except csv.Error as error:
        raise SourceError("ReportUnparsable", f"bad CSV: {error}") from None
    raise SourceError("ReportUnparsable", f"report has no {ROOT_USER} row")


def _complete(row: dict, header: Sequence[str]) -> Mapping[str, str]:
    """``row`` if it has one cell per header column.

    ``csv`` fills the cells of a short row with None and gathers surplus cells under the key
    None; a truncated root row would otherwise read as "no keys, no certificates".
    """
    cells = sum(1 for name in header if row.get(name) is not None) + len(row.get(None) or ())
    if cells != len(header):
        raise SourceError("ReportUnparsable", f"the {ROOT_USER} row has {cells} of {len(header)} columns")
    return row


def parse_report(content: bytes, generated: datetime) -> CredentialReport:
    """Parse the root row of a report's ``Content`` (bytes) generated at ``generated``."""
    row = root_row(content)

    def flag(column: str) -> Optional[bool]:
        return parse_bool(row.get(column), column)

    def when(column: str) -> Optional[datetime]:
        return parse_time(row.get(column), column)

    def status(column: str) -> Optional[bool]:
        """A credential's status: N/A means none (False); a column the report lacks, unknown."""
        return bool(flag(column)) if column in row else None

    keys = tuple(
        ReportAccessKey(
            active=status(f"access_key_{n}_active"),
            last_rotated=when(f"access_key_{n}_last_rotated"),
            last_used=when(f"access_key_{n}_last_used_date"),
        )
        for n in (1, 2)
    )
    certificates = tuple(
        ReportCertificate(active=status(f"cert_{n}_active"), last_rotated=when(f"cert_{n}_last_rotated"))
        for n in (1, 2)
    )
    return CredentialReport(
        generated=generated if generated.tzinfo else generated.replace(tzinfo=timezone.utc),
        password_enabled=flag("password_enabled"),
        password_last_used=when("password_last_used"),
        mfa_active=flag("mfa_active"),
        access_keys=keys,  # type: ignore[arg-type]
        certificates=certificates,  # type: ignore[arg-type]
    )


def download(
    iam, timeout: float, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic
) -> dict:
    """Ask for a report and poll with exponential backoff until it can be read.

    Bounded by ``timeout`` seconds; raises ``SourceError("ReportTimeout")`` past it. AWS answers
    ``COMPLETE`` at once while its cached report is younger than four hours.
    """
    deadline = clock() + timeout
    delay = 1.0
    while True:
        try:
            if iam.generate_credential_report()["State"] == "COMPLETE":
                return iam.get_credential_report()
        except ClientError as error:
            if error_code(error) not in _NOT_READY:
                raise
        if clock() + delay > deadline:
            raise SourceError("ReportTimeout", f"credential report not ready after {timeout:.0f}s")
        sleep(delay)
        delay = min(delay * 2, _MAX_POLL_DELAY)


def fetch(context: Context, account: Account, previous: Optional[CredentialReport] = None) -> CredentialReport:
    """The account's report; the last one again, without a call, while it is younger than four
    hours (AWS would answer with that same report). Its ``generated`` time tells its age."""
    if previous is not None and context.clock() - previous.generated.timestamp() < REPORT_LIFETIME:
        return previous
    iam = context.access.client(account, "iam")
    response = download(iam, context.config.collection.credential_report_timeout)
    return parse_report(response["Content"], response["GeneratedTime"])


SOURCE = AccountSource(SPEC, fetch)
