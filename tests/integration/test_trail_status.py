"""trail_status: whether a trail logs each account's management events in us-east-1 (real boto3
against the fake: moto's trails, plus the organization trail that members see as a shadow trail)."""

from __future__ import annotations

import uuid

import pytest

from exporter.collector import exposition
from exporter.state import Account
from tests.integration.conftest import MGMT, Harness, new_account, only
from tests.support.exposition import parse


def clients(harness: Harness, account_id: str, region: str = "us-east-1"):
    account = Account(account_id, "")
    return harness.access.client(account, "cloudtrail", region), harness.access.client(account, "s3", region)


def trail(harness: Harness, account_id: str, region: str = "us-east-1", logging: bool = True, **options) -> str:
    # Member clients are shared: the test's own calls sign as the member, like a fetch does.
    with harness.access.acting_for(Account(account_id, "")):
        cloudtrail, s3 = clients(harness, account_id, region)
        bucket = f"trail-{uuid.uuid4().hex[:12]}"
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        arn = cloudtrail.create_trail(Name=f"t-{uuid.uuid4().hex[:8]}", S3BucketName=bucket, **options)["TrailARN"]
        if logging:
            cloudtrail.start_logging(Name=arn)
    return arn


def management_selectors(harness, account_id, arn, region="us-east-1", **selectors):
    with harness.access.acting_for(Account(account_id, "")):
        clients(harness, account_id, region)[0].put_event_selectors(TrailName=arn, **selectors)


@pytest.fixture
def setup(fake):
    member = new_account(fake)
    harness = Harness(accounts=only(MGMT, member))
    assert harness.run("discovery")
    return harness, member


def coverage(harness, member):
    assert harness.run("trail_status")
    return harness.value(member, "trail_status")


CLASSIC_ALL = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}


def test_no_trail_means_detection_off(setup):
    harness, member = setup
    result = coverage(harness, member)
    assert (result.enabled, result.reason) == (False, "no trail records us-east-1")
    metrics = parse(exposition(harness.snapshot, {})[0].decode())
    assert (
        metrics.value(
            "root_activity_detection_enabled", account_id=member, account_name=harness.state(member).account.name
        )
        == 0.0
    )


def test_a_logging_trail_with_management_events_means_detection_on(setup):
    harness, member = setup
    arn = trail(harness, member)
    management_selectors(harness, member, arn, **CLASSIC_ALL)
    result = coverage(harness, member)
    assert (result.enabled, result.trail) == (True, arn)


def test_a_trail_that_is_not_logging_does_not_count(setup):
    harness, member = setup
    arn = trail(harness, member, logging=False)
    management_selectors(harness, member, arn, **CLASSIC_ALL)
    result = coverage(harness, member)
    assert result.enabled is False and "is not logging" in result.reason


def test_read_only_classic_selectors_do_not_count(setup):
    harness, member = setup
    arn = trail(harness, member)
    management_selectors(
        harness, member, arn, EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]
    )
    assert coverage(harness, member).enabled is False


def test_advanced_selectors_without_management_events_do_not_count(setup):
    harness, member = setup
    arn = trail(harness, member)
    management_selectors(
        harness,
        member,
        arn,
        AdvancedEventSelectors=[
            {
                "Name": "S3 data only",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                ],
            }
        ],
    )
    result = coverage(harness, member)
    assert result.enabled is False and "selects no management events" in result.reason


def test_advanced_selectors_with_management_events_count(setup):
    harness, member = setup
    arn = trail(harness, member)
    management_selectors(
        harness,
        member,
        arn,
        AdvancedEventSelectors=[
            {"Name": "Management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
        ],
    )
    assert coverage(harness, member).enabled is True


def test_a_single_region_trail_elsewhere_does_not_cover_us_east_1(setup):
    harness, member = setup
    arn = trail(harness, member, region="eu-west-1")
    management_selectors(harness, member, arn, region="eu-west-1", **CLASSIC_ALL)
    assert coverage(harness, member).enabled is False


def test_the_organization_trail_covers_members(setup, fake):
    harness, member = setup
    arn = trail(harness, MGMT, IsOrganizationTrail=True, IsMultiRegionTrail=True)
    try:
        management_selectors(harness, MGMT, arn, **CLASSIC_ALL)
        assert harness.run("trail_status")
        for account in (MGMT, member):
            result = harness.value(account, "trail_status")
            assert (result.enabled, result.trail) == (True, arn), account
    finally:
        clients(harness, MGMT)[0].delete_trail(Name=arn)
    calls = [call for call in fake.calls if call.service == "cloudtrail" and call.account_id == member]
    assert len(calls) <= 3  # DescribeTrails, GetTrailStatus, GetEventSelectors: a few calls per hour


def test_a_trail_that_cannot_be_read_makes_the_source_fail_not_detection_off(fake, setup):
    """Denied GetTrailStatus on the only trail: the exporter cannot tell whether root activity is
    logged, so trail_status fails with the AWS error code (last good value kept); it does not
    report detection off."""
    harness, member = setup
    arn = trail(harness, member, IsMultiRegionTrail=True)
    management_selectors(harness, member, arn, **CLASSIC_ALL)
    assert coverage(harness, member).enabled is True
    fake.fail(member, "GetTrailStatus", code="AccessDeniedException")
    assert not harness.run("trail_status")
    status = harness.state(member).sources["trail_status"]
    assert status.success is False and "AccessDenied" in status.error
    assert status.value.enabled is True  # the last good answer, shown stale
