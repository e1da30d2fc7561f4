"""CloudTrail coverage: can this account's root activity be seen at all?

Root sign-ins and the IAM calls that change root credentials are recorded in us-east-1. An
account is covered when a trail that applies to us-east-1 (its own, a multi-region trail homed
elsewhere, or the organization trail, which members see as a shadow trail) is logging and selects
management events: classic selectors with ``IncludeManagementEvents`` and ``ReadWriteType`` All or
WriteOnly, or advanced selectors with ``eventCategory = Management`` that do not keep reads only.

Few calls: ``DescribeTrails(includeShadowTrails)`` once, then ``GetTrailStatus`` and
``GetEventSelectors`` per applicable trail, stopping at the first that covers the account.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping, Optional

from botocore.exceptions import ClientError

from exporter.aws.errors import SourceError, error_code
from exporter.sources.base import AccountSource, Context
from exporter.sources.registry import MEMBER_ROLE, AwsCall, SourceSpec
from exporter.state import Account, TrailCoverage

NAME = "trail_status"
SPEC = SourceSpec(
    NAME,
    "CloudTrail coverage in us-east-1: a logging trail (own, multi-region or the organization's shadow trail) "
    "that selects management events, i.e. whether the account's root activity can be seen",
    calls=tuple(
        AwsCall(f"cloudtrail:{action}", MEMBER_ROLE)
        for action in ("DescribeTrails", "GetTrailStatus", "GetEventSelectors")
    ),
    interval=3600.0,
)
REGION = "us-east-1"
log = logging.getLogger(__name__)


def applicable(trails: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The trails that record us-east-1, the organization's first (it covers every member)."""
    found = [
        trail
        for trail in trails
        if isinstance(trail, Mapping)
        and isinstance(trail.get("TrailARN"), str)
        and (trail.get("HomeRegion") == REGION or trail.get("IsMultiRegionTrail") is True)
    ]
    return sorted(found, key=lambda trail: trail.get("IsOrganizationTrail") is not True)


def _classic_covers(selector: Mapping[str, Any]) -> bool:
    # AWS's defaults when a key is absent: IncludeManagementEvents true, ReadWriteType All.
    return selector.get("IncludeManagementEvents", True) is True and selector.get("ReadWriteType", "All") in (
        "All",
        "WriteOnly",
    )


def _advanced_covers(selector: Mapping[str, Any]) -> bool:
    fields = selector.get("FieldSelectors")
    if not isinstance(fields, list):
        return False
    management = reads_only = False
    for field in fields:
        if not isinstance(field, Mapping):
            continue
        equals = field.get("Equals") or []
        if field.get("Field") == "eventCategory" and "Management" in equals:
            management = True
        if field.get("Field") == "readOnly" and equals == ["true"]:
            reads_only = True
    return management and not reads_only


def selects_management_events(response: Mapping[str, Any]) -> bool:
    """Whether a ``GetEventSelectors`` answer logs management events (writes at least)."""
    classic = response.get("EventSelectors") or []
    advanced = response.get("AdvancedEventSelectors") or []
    return any(_classic_covers(s) for s in classic if isinstance(s, Mapping)) or any(
        _advanced_covers(s) for s in advanced if isinstance(s, Mapping)
    )


def coverage(cloudtrail: Any) -> TrailCoverage:
    try:
        trails = applicable(cloudtrail.describe_trails(includeShadowTrails=True).get("trailList") or [])
    except (AttributeError, TypeError) as error:
        raise SourceError("TrailsUnparsable", f"DescribeTrails answer is not a trail list: {error}") from None
    if not trails:
        return TrailCoverage(enabled=False, trail=None, reason="no trail records us-east-1")
    reasons = []
    unanswered: Optional[ClientError] = None
    for trail in trails:
        arn = trail["TrailARN"]
        try:
            if cloudtrail.get_trail_status(Name=arn).get("IsLogging") is not True:
                reasons.append(f"{arn} is not logging")
                continue
            if not selects_management_events(cloudtrail.get_event_selectors(TrailName=arn)):
                reasons.append(f"{arn} selects no management events")
                continue
        except ClientError as error:
            reasons.append(f"{arn}: {error_code(error)}")
            unanswered = unanswered or error
            continue
        return TrailCoverage(enabled=True, trail=arn, reason="")
    if unanswered is not None:
        # A trail that could not be read may be the one that covers the account: "cannot tell"
        # is a failing source (last good value kept, error code shown), never "detection off".
        raise unanswered
    return TrailCoverage(enabled=False, trail=None, reason="; ".join(reasons))


def fetch(context: Context, account: Account, previous: Optional[TrailCoverage] = None) -> TrailCoverage:
    result = coverage(context.access.client(account, "cloudtrail", REGION))
    if not result.enabled:  # the runbook of AWSRootActivityDetectionOff points here
        log.info(
            "root activity cannot be seen",
            extra={"source": NAME, "account_id": account.id, "account_name": account.name, "reason": result.reason},
        )
    return result


SOURCE = AccountSource(SPEC, fetch)
