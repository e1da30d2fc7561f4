"""The credential report: parsing the ``<root_account>`` row, and polling until the report is ready."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from exporter.aws.errors import SourceError
from exporter.sources.credential_report import download, parse_report, parse_time, root_row

FIXTURES = Path(__file__).parent / "fixtures"
GENERATED = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def report(name: str):
    return parse_report((FIXTURES / name).read_bytes(), GENERATED)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# ---------------------------------------------------------------- parsing


def test_current_report_reads_the_root_row():
    parsed = report("credential-report-current.csv")

    assert parsed.generated == GENERATED
    assert parsed.password_enabled is None  # not_supported for root
    assert parsed.password_last_used == utc(2026, 11, 20, 7, 45, 13)
    assert parsed.mfa_active is True
    key1, key2 = parsed.access_keys
    assert key1.active is True
    assert key1.last_rotated == utc(2024, 2, 10, 9, 30)
    assert key1.last_used == utc(2026, 11, 26, 23, 5)
    assert key2.active is False
    assert key2.last_rotated is None and key2.last_used is None
    cert1, cert2 = parsed.certificates
    assert cert1.active is True and cert1.last_rotated == utc(2023, 6, 1, 12)
    assert cert2.active is False and cert2.last_rotated is None


def test_root_row_is_found_by_user_name_not_by_being_first():
    # The root row comes after an IAM user's row, whose values differ everywhere.
    parsed = report("credential-report-uppercase.csv")

    assert parsed.password_enabled is True
    assert parsed.mfa_active is False
    assert parsed.access_keys[0].last_rotated == utc(2022, 8, 9, 10, 11, 12)


def test_upper_case_booleans_and_no_information():
    parsed = report("credential-report-uppercase.csv")

    assert parsed.password_enabled is True  # TRUE
    assert parsed.mfa_active is False  # FALSE
    assert parsed.password_last_used is None  # no_information
    key1, key2 = parsed.access_keys
    assert key1.active is True and key1.last_used is None  # active, never used (N/A)
    assert key2.active is True
    assert key2.last_used == utc(2026, 10, 1, 14, 30)
    assert [c.active for c in parsed.certificates] == [False, True]
    assert parsed.certificates[1].last_rotated == utc(2021, 1, 2, 3, 4, 5)


def test_old_16_column_report_is_read_by_header_name():
    # No access_key_N_last_used_* columns: every later column sits 3 or 6 places earlier.
    parsed = report("credential-report-old-16-columns.csv")

    assert parsed.password_last_used == utc(2014, 12, 1, 16, 20)
    assert parsed.mfa_active is False
    key1, key2 = parsed.access_keys
    assert key1.active is True and key1.last_rotated == utc(2013, 4, 5, 6, 7, 8)
    assert key1.last_used is None  # the column did not exist: unknown, not an error
    assert key2.active is False and key2.last_rotated is None
    assert [c.active for c in parsed.certificates] == [False, True]
    assert parsed.certificates[1].last_rotated == utc(2014, 2, 3, 4, 5, 6)


def test_member_without_root_credentials():
    parsed = report("credential-report-member-no-credentials.csv")

    assert parsed.password_enabled is False  # documented as FALSE for new member accounts
    assert parsed.password_last_used is None
    assert parsed.mfa_active is False
    assert [k.active for k in parsed.access_keys] == [False, False]
    assert [c.active for c in parsed.certificates] == [False, False]
    assert all(k.last_rotated is None and k.last_used is None for k in parsed.access_keys)


def test_every_time_is_timezone_aware():
    parsed = report("credential-report-current.csv")
    times = [
        parsed.password_last_used,
        parsed.access_keys[0].last_rotated,
        parsed.access_keys[0].last_used,
        parsed.certificates[0].last_rotated,
    ]
    assert all(t is not None and t.utcoffset() is not None for t in times)


def test_time_with_non_utc_offset_keeps_the_instant():
    parsed = parse_time("2026-11-27T12:00:00+02:00", "password_last_used")
    assert parsed == utc(2026, 11, 27, 10)
    assert parsed.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("value", ["N/A", "no_information", "not_supported", "", "n/a"])
def test_special_values_are_no_time(value):
    assert parse_time(value, "password_last_used") is None


def test_naive_generated_time_is_taken_as_utc():
    content = (FIXTURES / "credential-report-current.csv").read_bytes()
    parsed = parse_report(content, datetime(2026, 11, 27, 10, 0))
    assert parsed.generated == GENERATED


def test_report_without_root_row_is_an_unparsable_report():
    with pytest.raises(SourceError) as caught:
        report("credential-report-no-root-row.csv")
    assert caught.value.code == "ReportUnparsable"
    assert "<root_account>" in str(caught.value)


def test_binary_report_is_an_unparsable_report():
    with pytest.raises(SourceError) as caught:
        report("credential-report-garbage.bin")
    assert caught.value.code == "ReportUnparsable"


def test_report_without_header_is_an_unparsable_report():
    with pytest.raises(SourceError) as caught:
        parse_report(b"", GENERATED)
    assert caught.value.code == "ReportUnparsable"


def test_a_value_that_is_no_boolean_is_reported_with_its_column():
    text = (FIXTURES / "credential-report-current.csv").read_text()
    mangled = text.replace(
        "arn:aws:iam::111122223333:root,2019-03-04T08:15:42+00:00,not_supported,",
        "arn:aws:iam::111122223333:root,2019-03-04T08:15:42+00:00,maybe,",
    )
    with pytest.raises(SourceError) as caught:
        parse_report(mangled.encode(), GENERATED)
    assert caught.value.code == "ReportUnparsable"
    assert "password_enabled" in str(caught.value)


# ---------------------------------------------------------------- download: generate, poll, get


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} happened"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


REPORT_RESPONSE = {"Content": b"user,arn\n", "ReportFormat": "text/csv", "GeneratedTime": GENERATED}


class FakeIam:
    """Answers GenerateCredentialReport / GetCredentialReport from scripted outcomes, in order.

    An outcome is a state string or response dict to return, or an exception to raise. When a
    script runs out, its last outcome repeats.
    """

    def __init__(self, generate, get=(REPORT_RESPONSE,)):
        self.generate_script = list(generate)
        self.get_script = list(get)
        self.generate_calls = 0
        self.get_calls = 0

    @staticmethod
    def _next(script, index):
        outcome = script[min(index, len(script) - 1)]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def generate_credential_report(self):
        self.generate_calls += 1
        state = self._next(self.generate_script, self.generate_calls - 1)
        return {"State": state, "Description": f"report generation {state.lower()}"}

    def get_credential_report(self):
        self.get_calls += 1
        return self._next(self.get_script, self.get_calls - 1)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(iam: FakeIam, timeout: float = 120.0):
    time = FakeTime()
    return download(iam, timeout, sleep=time.sleep, clock=time.clock), time


def test_complete_at_once_reads_without_waiting():
    iam = FakeIam(["COMPLETE"])
    response, time = run(iam)
    assert response is REPORT_RESPONSE
    assert time.sleeps == []
    assert (iam.generate_calls, iam.get_calls) == (1, 1)


def test_polls_through_started_and_inprogress_until_complete():
    iam = FakeIam(["STARTED", "INPROGRESS", "INPROGRESS", "COMPLETE"])
    response, time = run(iam)
    assert response is REPORT_RESPONSE
    assert iam.generate_calls == 4
    assert iam.get_calls == 1  # not read before it is complete
    assert len(time.sleeps) == 3
    assert time.sleeps == sorted(time.sleeps) and time.sleeps[0] < time.sleeps[-1]  # backs off


def test_report_in_progress_from_get_is_waited_for():
    iam = FakeIam(["COMPLETE"], get=[client_error("ReportInProgress", "GetCredentialReport", 404), REPORT_RESPONSE])
    response, time = run(iam)
    assert response is REPORT_RESPONSE
    assert iam.get_calls == 2
    assert len(time.sleeps) == 1


def test_limit_exceeded_on_generate_is_retried():
    iam = FakeIam(
        [
            client_error("LimitExceeded", "GenerateCredentialReport", 409),
            client_error("LimitExceeded", "GenerateCredentialReport", 409),
            "COMPLETE",
        ]
    )
    response, time = run(iam)
    assert response is REPORT_RESPONSE
    assert iam.generate_calls == 3
    assert len(time.sleeps) == 2


@pytest.mark.parametrize("code", ["AccessDenied", "ServiceFailure"])
def test_other_errors_are_raised_at_once(code):
    iam = FakeIam([client_error(code, "GenerateCredentialReport", 403)])
    with pytest.raises(ClientError) as caught:
        run(iam)
    assert caught.value.response["Error"]["Code"] == code
    assert iam.generate_calls == 1


def test_access_denied_on_get_is_raised():
    iam = FakeIam(["COMPLETE"], get=[client_error("AccessDenied", "GetCredentialReport", 403)])
    with pytest.raises(ClientError):
        run(iam)
    assert iam.get_calls == 1


def test_wait_is_bounded_and_ends_in_report_timeout():
    iam = FakeIam(["STARTED", "INPROGRESS"])  # never completes
    time = FakeTime()
    with pytest.raises(SourceError) as caught:
        download(iam, 60.0, sleep=time.sleep, clock=time.clock)
    assert caught.value.code == "ReportTimeout"
    assert sum(time.sleeps) <= 60.0
    assert sum(time.sleeps) >= 30.0  # waited a good part of the allowed time, not one try
    assert iam.get_calls == 0


def test_delays_grow_and_are_capped():
    iam = FakeIam(["INPROGRESS"])
    time = FakeTime()
    with pytest.raises(SourceError):
        download(iam, 600.0, sleep=time.sleep, clock=time.clock)
    delays = time.sleeps
    assert len(delays) >= 10
    assert all(later >= earlier for earlier, later in zip(delays, delays[1:]))
    assert delays[1] > delays[0]
    cap = max(delays)
    assert cap <= 60.0  # a report is polled at least once a minute
    assert delays[-3:] == [cap, cap, cap]  # growth stopped at the cap


# ---------------------------------------------------------------- hostile reports (issue 11)


def test_truncated_root_row_is_an_unparsable_report_not_no_credentials():
    # The header names 22 columns (shape: IAM User Guide, "Getting credential reports for your
    # AWS account", id_credentials_getting-report.html); the root row stops after
    # access_key_1_last_rotated. csv fills the missing cells with None, which read as "no key,
    # no certificate": a root with an active certificate would look clean.
    with pytest.raises(SourceError) as caught:
        report("credential-report-truncated-root-row.csv")
    assert caught.value.code == "ReportUnparsable"
    assert "10 of 22 columns" in str(caught.value)


def test_root_row_longer_than_the_header_is_an_unparsable_report():
    lines = (FIXTURES / "credential-report-current.csv").read_text().splitlines()
    lines[1] += ",true,surplus"
    with pytest.raises(SourceError) as caught:
        parse_report("\n".join(lines).encode(), GENERATED)
    assert caught.value.code == "ReportUnparsable"
    assert "24 of 22 columns" in str(caught.value)


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_time_outside_the_utc_calendar_is_a_clear_error(value):
    # Valid ISO 8601, but the instant falls past 9999-12-31 (or before year 1) in UTC, where
    # Python's datetime cannot go: converting it later (page, --once) would raise OverflowError.
    with pytest.raises(SourceError) as caught:
        parse_time(value, "password_last_used")
    assert caught.value.code == "ReportUnparsable"
    assert "password_last_used" in str(caught.value) and "UTC" in str(caught.value)


@pytest.mark.parametrize("content", [b"\r\x00", b"user,arn\x00\n", b'"user\r,arn\n'])
def test_a_header_the_csv_reader_refuses_is_unparsable(content):
    """Found by tests/test_properties.py: csv.Error escaped from the header line."""
    with pytest.raises(SourceError) as caught:
        root_row(content)
    assert caught.value.code == "ReportUnparsable"
