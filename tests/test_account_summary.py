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
    assert parsed.access_keys_present is True  # a count of 2 is tolerated: "at least one"
    assert parsed.signing_certificates_present is True
    assert parsed.password_present is True


def test_partition_without_account_password_present_says_unknown():
    parsed = parse_summary(summary_map("account-summary-without-password.json"))
    assert parsed.password_present is None  # unknown, not "no password"
    assert parsed.mfa_enabled is False
    assert parsed.access_keys_present is True
    assert parsed.signing_certificates_present is False


def test_root_without_any_credentials():
    parsed = parse_summary(summary_map("account-summary-no-credentials.json"))
    assert parsed.password_present is False
    assert parsed.mfa_enabled is False
    assert parsed.access_keys_present is False
    assert parsed.signing_certificates_present is False


@pytest.mark.parametrize(
    "missing", ["AccountMFAEnabled", "AccountAccessKeysPresent", "AccountSigningCertificatesPresent"]
)
def test_missing_root_key_is_a_source_error_naming_it(missing):
    mangled = summary_map("account-summary-with-password.json")
    del mangled[missing]
    with pytest.raises(SourceError) as caught:
        parse_summary(mangled)
    assert caught.value.code == "SummaryUnparsable"
    assert missing in str(caught.value)


@pytest.mark.parametrize("key", ["AccountAccessKeysPresent", "AccountSigningCertificatesPresent"])
@pytest.mark.parametrize("value, present", [(0, False), (1, True), (2, True), ("1", True)])
def test_presence_flags_read_as_none_or_at_least_one(key, value, present):
    # IAM API Reference, GetAccountSummary: "AccountAccessKeysPresent: 1 if the root user has an
    # access key, otherwise 0" (the certificate flag alike). A count is tolerated.
    mangled = summary_map("account-summary-no-credentials.json")
    mangled[key] = value
    parsed = parse_summary(mangled)
    field = "access_keys_present" if key == "AccountAccessKeysPresent" else "signing_certificates_present"
    assert getattr(parsed, field) is present


@pytest.mark.parametrize("value", [-1, "yes", None, 1.5, [1]])
def test_presence_flag_of_another_shape_is_a_source_error(value):
    mangled = summary_map("account-summary-no-credentials.json")
    mangled["AccountAccessKeysPresent"] = value
    with pytest.raises(SourceError) as caught:
        parse_summary(mangled)
    assert caught.value.code == "SummaryUnparsable"
    assert "AccountAccessKeysPresent" in str(caught.value)
