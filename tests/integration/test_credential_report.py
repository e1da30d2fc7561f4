"""The credential report: polling while AWS generates it, its transient errors, unparsable
reports (last good value kept) and old 16-column reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from exporter.sources.credential_report import REPORT_LIFETIME
from fakeaws import FakeAccessKey, FakeCertificate, FakeMfaDevice, FakeRoot
from tests.integration.conftest import Harness, new_account, only

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def test_report_values_for_a_known_root(fake):
    root = FakeRoot(
        password=True,
        password_last_used=NOW - timedelta(days=2),
        access_keys=[
            FakeAccessKey(
                active=True,
                created=NOW - timedelta(days=400),
                last_used=NOW - timedelta(hours=5),
                last_used_service="ec2",
                last_used_region="eu-west-1",
            ),
            FakeAccessKey(active=False, created=NOW - timedelta(days=30)),
        ],
        certificates=[FakeCertificate(active=False, uploaded=NOW - timedelta(days=90))],
        mfa_devices=[FakeMfaDevice("hardware")],
    )
    member = new_account(fake, root=root)
    harness = Harness(accounts=only(member))
    started = datetime.now(timezone.utc)

    assert harness.run("discovery", "credential_report")

    report = harness.value(member, "credential_report")
    assert report.password_last_used == NOW - timedelta(days=2)
    assert report.mfa_active is True
    assert report.password_enabled is None  # the fake writes not_supported for root, as AWS may
    first, second = report.access_keys
    assert (first.active, first.last_rotated, first.last_used) == (
        True,
        NOW - timedelta(days=400),
        NOW - timedelta(hours=5),
    )
    assert (second.active, second.last_rotated, second.last_used) == (False, NOW - timedelta(days=30), None)
    assert (report.certificates[0].active, report.certificates[0].last_rotated) == (False, NOW - timedelta(days=90))
    assert (report.certificates[1].active, report.certificates[1].last_rotated) == (False, None)
    assert abs((report.generated - started).total_seconds()) < 30

    facts = harness.facts(member)
    assert facts.last_console_login == NOW - timedelta(days=2)
    assert facts.report_generated == report.generated


def test_generation_in_progress_is_polled_until_complete(fake):
    member = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey()]))
    fake.set_report_generation_delay(member, 2)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "credential_report")

    assert harness.value(member, "credential_report").access_keys[0].active is True
    assert len(fake.calls_to("GenerateCredentialReport", member)) >= 3  # STARTED, INPROGRESS, COMPLETE


def test_report_in_progress_answer_is_waited_out(fake):
    member = new_account(fake, root=FakeRoot(mfa_devices=[FakeMfaDevice("virtual")]))
    fake.fail(member, "GetCredentialReport", "ReportInProgress", "Report generation in progress", status=404, times=1)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "credential_report")

    assert harness.status(member, "credential_report").success is True
    assert harness.value(member, "credential_report").mfa_active is True
    assert len(fake.calls_to("GetCredentialReport", member)) == 2


def test_limit_exceeded_once_then_the_report_arrives(fake):
    member = new_account(fake, root=FakeRoot(certificates=[FakeCertificate()]))
    fake.fail(
        member, "GenerateCredentialReport", "LimitExceeded", "Rate exceeded for credential report", status=409, times=1
    )
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "credential_report")

    assert harness.status(member, "credential_report").success is True
    assert harness.value(member, "credential_report").certificates[0].active is True


def test_unparsable_report_fails_that_account_only_and_keeps_the_last_good_value(fake):
    broken = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey()]))
    healthy = new_account(fake, root=FakeRoot(mfa_devices=[FakeMfaDevice("virtual")]))
    harness = Harness(accounts=only(broken, healthy))
    assert harness.run("discovery", "credential_report")
    good = harness.value(broken, "credential_report")
    good_success_time = harness.status(broken, "credential_report").last_success
    assert good.access_keys[0].active is True

    for content in (
        b"\x00\xffthis is not a credential report\n",
        b"user,arn,mfa_active\nalice,arn:aws:iam::1:user/alice,false\n",
    ):  # no root row
        fake.set_report_override(broken, content)
        harness.later(REPORT_LIFETIME)  # the last report is old enough to ask for a new one
        assert harness.run("credential_report") is False

        status = harness.status(broken, "credential_report")
        assert status.success is False
        assert "ReportUnparsable" in status.error
        assert status.value == good  # the last good value stays
        assert status.last_success == good_success_time
        assert harness.status(healthy, "credential_report").success is True
        assert harness.value(healthy, "credential_report").mfa_active is True

    fake.set_report_override(broken, None)
    assert harness.run("credential_report")
    assert harness.status(broken, "credential_report").success is True


def test_old_sixteen_column_report_parses_by_header_name(fake):
    member = new_account(fake)
    old = (
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
        "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
        "access_key_2_active,access_key_2_last_rotated,cert_1_active,cert_1_last_rotated,"
        "cert_2_active,cert_2_last_rotated\n"
        f"<root_account>,arn:aws:iam::{member}:root,2014-01-02T03:04:05+00:00,not_supported,"
        "2015-06-07T08:09:10+00:00,not_supported,not_supported,TRUE,TRUE,2014-02-03T04:05:06+00:00,"
        "False,N/A,true,2014-03-04T05:06:07+00:00,FALSE,N/A\n"
        f"alice,arn:aws:iam::{member}:user/alice,2014-01-02T03:04:05+00:00,true,no_information,"
        "N/A,N/A,false,false,N/A,false,N/A,false,N/A,false,N/A\n"
    ).encode()
    fake.set_report_override(member, old)
    harness = Harness(accounts=only(member))

    assert harness.run("discovery", "credential_report")

    report = harness.value(member, "credential_report")
    assert report.mfa_active is True
    assert report.password_last_used == datetime(2015, 6, 7, 8, 9, 10, tzinfo=timezone.utc)
    assert report.access_keys[0].active is True
    assert report.access_keys[0].last_rotated == datetime(2014, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert report.access_keys[0].last_used is None  # the old report has no last-used columns
    assert report.access_keys[1].active is False
    assert report.certificates[0].active is True
    assert report.certificates[1].active is False


def test_the_report_is_asked_for_only_once_it_is_four_hours_old(fake):
    """AWS makes a new report at most every four hours: asking sooner costs two calls for the
    same report."""
    member = new_account(fake, root=FakeRoot(access_keys=[FakeAccessKey()]))
    harness = Harness(accounts=only(member))
    assert harness.run("discovery", "credential_report")
    first = harness.value(member, "credential_report")
    fake.clear_calls()

    harness.later(3 * 3600)
    assert harness.run("credential_report")
    assert fake.calls_to("GenerateCredentialReport", member) == []
    assert fake.calls_to("GetCredentialReport", member) == []
    assert harness.value(member, "credential_report") == first  # its generated time tells its age

    harness.later(3600)
    assert harness.run("credential_report")
    assert len(fake.calls_to("GetCredentialReport", member)) == 1
