"""``GetAccountSummary`` → ``AccountSummary``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.aws.errors import SourceError
from exporter.sources.account_summary import parse_summary

FIXTURES = Path(__file__).parent / "fixtures"


def summary_map(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())["SummaryMap"]


def test_summary_with_password_present():
    parsed = parse_summary(summary_map("account-summary-with-password.json"))
    assert parsed.mfa_enabled is True
    assert parsed.access_keys_present == 2
    assert parsed.signing_certificates_present == 1
    assert parsed.password_present is True


def test_partition_without_account_password_present_says_unknown():
    parsed = parse_summary(summary_map("account-summary-without-password.json"))
    assert parsed.password_present is None  # unknown, not "no password"
    assert parsed.mfa_enabled is False
    assert parsed.access_keys_present == 1
    assert parsed.signing_certificates_present == 0


def test_root_without_any_credentials():
    parsed = parse_summary(summary_map("account-summary-no-credentials.json"))
    assert parsed.password_present is False
    assert parsed.mfa_enabled is False
    assert parsed.access_keys_present == 0
    assert parsed.signing_certificates_present == 0


@pytest.mark.parametrize("missing", ["AccountMFAEnabled", "AccountAccessKeysPresent",
                                     "AccountSigningCertificatesPresent"])
def test_missing_root_key_is_a_source_error_naming_it(missing):
    mangled = summary_map("account-summary-with-password.json")
    del mangled[missing]
    with pytest.raises(SourceError) as caught:
        parse_summary(mangled)
    assert caught.value.code == "SummaryUnparsable"
    assert missing in str(caught.value)
