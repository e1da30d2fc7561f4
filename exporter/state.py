"""Typed, immutable state: what each source learned about one account.

Every source module parses its raw AWS payload into one of the value classes below, so nothing
past the edge sees ``"N/A"``, ``"not_supported"`` or a string boolean. ``AccountState`` holds the
last result of every source for one account; ``Snapshot`` holds every account and is replaced
whole (see ``snapshot.py``), never mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Generic, Mapping, Optional, TypeVar

T = TypeVar("T")

EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class Account:
    """An AWS account to collect, as discovery (or the static list) describes it."""

    id: str
    name: str
    email: str = ""
    ou_path: str = ""  # names from the root down, e.g. "Root/Workloads/Prod"
    ou_ids: tuple[str, ...] = ()  # ids of the root and every OU above the account
    state: str = "ACTIVE"
    management: bool = False  # the organization's management account
    role_arn: Optional[str] = None  # explicit role for static accounts; None = built from role_name
    # accounts.root_email.allowed: whether the e-mail matches; None = no policy or no e-mail known
    root_email_allowed: Optional[bool] = None


# ---------------------------------------------------------------- per-source values


@dataclass(frozen=True)
class AccountSummary:
    """``iam:GetAccountSummary``: live presence flags for the root user's credentials."""

    mfa_enabled: bool
    access_keys_present: bool  # at least one root access key exists, active or not
    signing_certificates_present: bool
    password_present: Optional[bool]  # None where the partition omits AccountPasswordPresent


@dataclass(frozen=True)
class ReportAccessKey:
    active: Optional[bool]  # None when the report has no such column
    last_rotated: Optional[datetime]
    last_used: Optional[datetime]


@dataclass(frozen=True)
class ReportCertificate:
    active: Optional[bool]
    last_rotated: Optional[datetime]


@dataclass(frozen=True)
class CredentialReport:
    """The ``<root_account>`` row of the IAM credential report (up to four hours old)."""

    generated: datetime
    password_enabled: Optional[bool]  # None for not_supported or a missing column
    password_last_used: Optional[datetime]
    mfa_active: Optional[bool]
    access_keys: tuple[ReportAccessKey, ReportAccessKey]
    certificates: tuple[ReportCertificate, ReportCertificate]


@dataclass(frozen=True)
class VirtualMfa:
    """``iam:ListVirtualMFADevices(Assigned)``: whether root's MFA is a virtual device."""

    root_has_virtual: bool


@dataclass(frozen=True)
class ConsoleLoginEvent:
    """One root ``ConsoleLogin`` CloudTrail event, parsed."""

    event_id: str
    time: datetime
    success: bool
    mfa_used: bool
    source_ip: str
    # Made through an sts:AssumeRoot session (a centrally issued privileged task), not with the
    # root user's own credentials. Only set where the record says so beyond doubt.
    assumed_root: bool = False


@dataclass(frozen=True)
class ConsoleLogins:
    """Cumulative view of root console sign-ins since the exporter started.

    ``counts`` maps (success, mfa_used) to the number of distinct sign-ins with the root user's
    credentials; ``assumed_root_counts`` maps success to the number of sign-ins through
    ``sts:AssumeRoot`` sessions, kept apart. ``seen`` maps the ids of recent events to their Unix
    time: the window in which overlapping look-ups can meet an event again, pruned as it slides
    and capped, so memory stays bounded. ``resume_from`` is the end of the last look-up: the next
    starts there, less an overlap for CloudTrail's delivery delay. When the cap made ids inside
    that overlap be forgotten, ``forgotten_through`` is the Unix time of the newest forgotten
    one: the next look-up starts there and skips unseen events up to it rather than count the
    forgotten ones again.
    """

    counts: Mapping[tuple[bool, bool], int]
    newest_success: Optional[ConsoleLoginEvent]
    malformed: int
    seen: Mapping[str, float]
    resume_from: datetime
    assumed_root_counts: Mapping[bool, int] = field(default_factory=lambda: EMPTY)
    forgotten_through: Optional[float] = None
    # The root activities this run found that no earlier run had (``root_activity.RootActivity``,
    # sign-ins included), for the snapshot update that records the run to count organization-wide.
    activities: tuple = ()


@dataclass(frozen=True)
class MfaDevice:
    serial: str
    kind: str  # "virtual" | "fido" | "hardware"


@dataclass(frozen=True)
class RootAudit:
    """What an ``sts:AssumeRoot`` session (IAMAuditRootUserCredentials) sees of a member's root."""

    password: bool
    access_keys_active: tuple[bool, ...]  # one entry per key, in ListAccessKeys order
    signing_certificates_active: tuple[bool, ...]
    mfa_devices: tuple[MfaDevice, ...]


@dataclass(frozen=True)
class OrganizationFeatures:
    """``iam:ListOrganizationsFeatures``: centralized root access features of the organization."""

    root_credentials_management: bool
    root_sessions: bool


@dataclass(frozen=True)
class TrailCoverage:
    """``trail_status``: whether a trail logs this account's management events in us-east-1
    (where root sign-ins are recorded), so that root activity can be seen at all."""

    enabled: bool
    trail: Optional[str]  # ARN of the first trail that covers the account; None when none does
    reason: str  # why not, or "" when enabled


@dataclass(frozen=True)
class DelayHistogram:
    """Cumulative bucket counts of a histogram (``bounds`` ascending, +Inf implied), with sum and count."""

    bounds: tuple[float, ...]
    buckets: tuple[int, ...]  # cumulative: observations <= bounds[i]
    count: int = 0
    total: float = 0.0


@dataclass(frozen=True)
class RootEvents:
    """Root activity seen on the event stream (``root_events``), organization-wide.

    ``counts`` maps (account id, event name, session) to distinct events and ``counted_at`` each
    such key to when its count last grew (Unix seconds the exporter applied the event, which is
    when ``root_activity_events_total`` increases: what the "in the last hour" alerts see); ``seen`` maps recent
    CloudTrail event ids to when they were applied, bounded, so that an event met again (stream
    redelivery, or the polling path) is counted once. ``assumed_root_keys`` maps the access key
    ids that ``AssumeRoot`` issued to when they stop mattering (session end plus a margin).
    """

    counts: Mapping[tuple[str, str, str], int] = field(default_factory=lambda: EMPTY)
    last_activity: Mapping[tuple[str, str], float] = field(default_factory=lambda: EMPTY)  # (account, session)
    counted_at: Mapping[tuple[str, str, str], float] = field(default_factory=lambda: EMPTY)  # key of counts
    seen: Mapping[str, float] = field(default_factory=lambda: EMPTY)
    assumed_root_keys: Mapping[str, float] = field(default_factory=lambda: EMPTY)
    malformed: Mapping[str, int] = field(default_factory=lambda: EMPTY)  # account id -> records
    malformed_messages: int = 0  # messages without a readable account
    foreign: int = 0  # events of accounts outside the collected set
    last_message: Optional[float] = None  # Unix seconds a message was last applied
    last_heartbeat: Optional[float] = None  # Unix seconds of the newest heartbeat event
    started: Optional[float] = None  # Unix seconds the consumer started; None = stream off
    delay: Optional[DelayHistogram] = None
    errors: Mapping[tuple[str, str], int] = field(default_factory=lambda: EMPTY)  # (operation, error code) -> calls


@dataclass(frozen=True)
class PolicyAttachment:
    """A service control policy and one place it is attached (root, OU or account)."""

    policy_id: str
    policy_name: str
    target_id: str
    target_name: str
    target_type: str  # "ROOT" | "ORGANIZATIONAL_UNIT" | "ACCOUNT"


@dataclass(frozen=True)
class RootPolicies:
    """The SCPs in effect for one member account, as far as they restrict its root user.

    ``scps_enabled`` False: the organization has service control policies switched off, so none
    applies (and nothing is reported). ``denied_actions`` is the number of action patterns
    surely denied to root, ``inf`` when all are or all but a ``NotAction`` list are.
    ``restricting`` lists the policies that deny root something, with where each is attached.
    """

    scps_enabled: bool
    denies_all: bool = False
    denied_actions: float = 0.0
    restricting: tuple[PolicyAttachment, ...] = ()


# ---------------------------------------------------------------- status and snapshot


@dataclass(frozen=True)
class SourceStatus(Generic[T]):
    """The outcome of the latest run of one source for one account, with the last good value.

    A failed run keeps ``value`` and ``last_success`` from the last success. Once that success is
    older than the source's ``collection.stale_after``, ``stale_since`` says since when the value
    is stale: it stays here for the page ("last known"), but no longer counts as current.
    """

    value: Optional[T]
    success: bool
    last_success: Optional[float]  # Unix seconds
    last_attempt: float  # Unix seconds
    error: Optional[str] = None  # "<AWS error code>: <message>", never credentials
    hint: Optional[str] = None  # what to do about the error (``aws.errors.remedy``), for log and page
    stale_since: Optional[float] = None  # Unix seconds: last_success + stale_after, once passed


@dataclass(frozen=True)
class AccountState:
    account: Account
    sources: Mapping[str, SourceStatus] = field(default_factory=lambda: EMPTY)
    # (source, error code) -> failed fetches since the exporter started; codes capped per source
    errors: Mapping[tuple[str, str], int] = field(default_factory=lambda: EMPTY)

    def value(self, source: str):
        """The last good value of ``source``, or None when it never succeeded."""
        status = self.sources.get(source)
        return status.value if status is not None else None

    def current(self, source: str):
        """The last good value of ``source`` unless it is stale (then None, as if never read)."""
        status = self.sources.get(source)
        return status.value if status is not None and status.stale_since is None else None


@dataclass(frozen=True)
class Snapshot:
    """Everything ``/metrics`` and the landing page show; replaced whole, never mutated."""

    accounts: Mapping[str, AccountState] = field(default_factory=lambda: EMPTY)
    home_account_id: Optional[str] = None  # the account whose credentials the exporter runs with
    discovery: Optional[SourceStatus] = None  # organization-wide, reported on the home account
    org_features: Optional[SourceStatus] = None  # organization-wide, reported on the home account
    run_durations: Mapping[str, float] = field(default_factory=lambda: EMPTY)  # source -> seconds
    completed_sources: frozenset[str] = frozenset()  # sources whose first run has finished
    root_events: RootEvents = field(default_factory=RootEvents)  # the event stream (root_events)
    discovery_errors: Mapping[str, int] = field(default_factory=lambda: EMPTY)  # error code -> failed discoveries
    stale_after: Mapping[str, float] = field(default_factory=lambda: EMPTY)  # source -> seconds, as last applied
    shard: tuple[int, int] = (0, 1)  # (index, count) of this replica's shard (exporter/shards.py)

    @property
    def organization_features(self) -> Optional[OrganizationFeatures]:
        """The organization's centralized root access features; None while unknown."""
        return self.org_features.value if self.org_features is not None else None
