"""What is wrong with a root user: one definition of each finding, shared by every output.

The landing page, ``/api/roots.json`` and ``--once`` list the findings defined here; the alert
rules of ``prometheus/alerts.yml`` implement the same findings in PromQL, one alert each (named
in ``Finding.alert``), and ``tests/e2e/test_findings_agree.py`` proves on the demo organization
that both name the same accounts. A predicate reads what the metrics show: the merged
``RootFacts`` (the same values the collector renders), the source statuses, the organization's
features and the clock. It holds the alert's condition only; an alert's ``for:`` is the rule's
own patience before it notifies, so the page shows a finding at once and the alert follows.

Stale values (a source whose last success is older than ``collection.stale_after``) are left out
of the metrics, so they are left out of the findings too: the account gets "Data stale" instead.
What the stale values would still show is listed apart as "last known" (``stale_hits``), on the
page only, so a problem known before collection broke does not simply vanish from it.

Controls: ``cis_control`` numbers refer to the CIS AWS Foundations Benchmark v3.0.0;
``securityhub_control`` ids to AWS Security Hub's controls (e.g. IAM.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping, Optional

from exporter.root_facts import RootFacts, _fresher, root_facts
from exporter.root_activity import ROOT_CREDENTIALS
from exporter.sources import account_summary, console_logins, discovery, root_audit
from exporter.state import AccountState, AccountSummary, RootAudit, RootPolicies, Snapshot, SourceStatus, TrailCoverage

SEVERITIES = ("critical", "warning", "info")  # worst first
RECENT_SECONDS = 24 * 3600  # the alert rules' recent window
EVENT_WINDOW_SECONDS = 3600  # the root activity alerts' window (increase(...[1h]))
REPORT_MAX_AGE_SECONDS = 8 * 3600  # twice AWS's 4h credential report cycle
DISCOVERY = discovery.NAME


@dataclass(frozen=True)
class Subject:
    """Everything a predicate may read about one account, at one instant."""

    state: AccountState
    facts: RootFacts
    snapshot: Snapshot
    now: float  # Unix seconds
    intervals: Mapping[str, float]  # source -> configured interval, seconds
    include_stale: bool = False  # read stale values too (the "last known" findings)

    def value(self, source: str):
        """A source's value as the facts see it: current only, unless ``include_stale``."""
        return self.state.value(source) if self.include_stale else self.state.current(source)

    def sources(self) -> list[tuple[str, SourceStatus]]:
        """The account's source statuses; organization-wide discovery counts on the home account,
        as the collector reports it there."""
        found = sorted(self.state.sources.items())
        if self.snapshot.discovery is not None and self.state.account.id == self.snapshot.home_account_id:
            found.append((DISCOVERY, self.snapshot.discovery))
        return found


@dataclass(frozen=True)
class Finding:
    id: str
    title: str  # what a person reads on the page, e.g. "Root has credentials but no MFA"
    severity: str  # critical | warning | info
    alert: Optional[str]  # the alert of prometheus/alerts.yml that carries it
    cis_control: Optional[str]  # CIS AWS Foundations Benchmark v3.0.0 recommendation
    securityhub_control: Optional[str]
    description: str  # one line: what it means
    view: str  # the page's view key: /?view=<view>
    check: Callable[[Subject], Optional[str]]  # the detail when the finding holds, else None

    @property
    def controls(self) -> str:
        """``CIS 1.5 · Security Hub IAM.9``, or "" where no control exists."""
        parts = []
        if self.cis_control:
            parts.append(f"CIS {self.cis_control}")
        if self.securityhub_control:
            parts.append(f"Security Hub {self.securityhub_control}")
        return " · ".join(parts)


@dataclass(frozen=True)
class Hit:
    """A finding that holds for one account, with what exactly was seen."""

    finding: Finding
    detail: str


def ago(seconds: float) -> str:
    """``30 minutes ago``, ``2 hours ago``, ``40 days ago``."""
    seconds = max(0.0, seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def _age(subject: Subject, when: Optional[datetime]) -> Optional[float]:
    return None if when is None else subject.now - when.timestamp()


# ------------------------------------------------------------------------------- predicates


def _without_mfa(s: Subject) -> Optional[str]:
    """AWSRootCredentialsWithoutMFA: no MFA and credentials; where ``root_credentials_present`` is
    unknown, only the evidence of a password, an active key or an active certificate counts."""
    facts = s.facts
    if facts.mfa_active is not False:
        return None
    evidence = [
        name
        for name, held in (
            ("password", facts.password_enabled is True),
            ("active access key", any(k.active is True for k in facts.access_keys)),
            ("active signing certificate", any(c.active is True for c in facts.certificates)),
        )
        if held
    ]
    if facts.credentials_present is True:
        return "no MFA device; credentials: " + (", ".join(evidence) or "present")
    if facts.credentials_present is None and evidence:
        return "no MFA device; credentials: " + ", ".join(evidence)
    return None


def _mfa_virtual_only(s: Subject) -> Optional[str]:
    if s.facts.mfa_active is True and s.facts.mfa_hardware is False:
        return "MFA is a virtual (authenticator app) device only"
    return None


def _key_active(s: Subject) -> Optional[str]:
    active = [str(n) for n, key in enumerate(s.facts.access_keys, 1) if key.active is True]
    return f"access key {', '.join(active)} active" if active else None


def _keys_present(s: Subject) -> Optional[str]:
    """AWSRootAccessKeyPresent (Security Hub IAM.4): a root key exists, active or not. Known from
    a slot that is active or has a rotation date, or from the live presence flag of the fresher
    live source (``AccountAccessKeysPresent`` is a 0/1 flag: 0 = none, 1 = at least one)."""
    slots = [n for n, key in enumerate(s.facts.access_keys, 1) if key.active is True or key.last_rotated is not None]
    if slots:
        states = [f"key {n} {'active' if s.facts.access_keys[n - 1].active else 'inactive'}" for n in slots]
        return "root access key exists: " + ", ".join(states)
    live = _live_keys_present(s)
    if live:
        return "root access key exists (live account summary or root audit)"
    return None


def _live_keys_present(s: Subject) -> Optional[bool]:
    summary: Optional[AccountSummary] = s.value(account_summary.NAME)
    audit: Optional[RootAudit] = s.value(root_audit.NAME)
    # The same choice of live source as root_facts makes: the fresher of the two.
    if audit is not None and (summary is None or _fresher(s.state, root_audit.NAME, account_summary.NAME)):
        return bool(audit.access_keys_active)
    if summary is not None:
        return summary.access_keys_present > 0
    return None


def _key_used_recently(s: Subject) -> Optional[str]:
    used = []
    for number, key in enumerate(s.facts.access_keys, 1):
        age = _age(s, key.last_used)
        if age is not None and age < RECENT_SECONDS:
            used.append(f"access key {number} used {ago(age)}")
    return ", ".join(used) or None


def _certificate_active(s: Subject) -> Optional[str]:
    active = [str(n) for n, cert in enumerate(s.facts.certificates, 1) if cert.active is True]
    return f"signing certificate {', '.join(active)} active" if active else None


def _password_centralized(s: Subject) -> Optional[str]:
    features = s.snapshot.organization_features
    if (
        s.facts.password_enabled is True
        and not s.state.account.management
        and features is not None
        and features.root_credentials_management
    ):
        return "console password present; the organization has RootCredentialsManagement enabled"
    return None


def _report_old(s: Subject) -> Optional[str]:
    age = _age(s, s.facts.report_generated)
    if age is not None and age > REPORT_MAX_AGE_SECONDS:
        return f"credential report generated {ago(age)}"
    return None


def _sign_in_recent(s: Subject) -> Optional[str]:
    age = _age(s, s.facts.last_console_login)
    if age is None or age >= RECENT_SECONDS:
        return None
    detail = f"console sign-in {ago(age)}"
    event = s.facts.last_console_login_event
    if event is not None and event.time == s.facts.last_console_login:
        detail += f" from {event.source_ip} (MFA {'used' if event.mfa_used else 'not used'})"
    return detail


def _sign_in_failures(s: Subject) -> Optional[str]:
    """Failed root sign-ins the exporter has seen since it started (the alert fires for an hour
    after each new one; the page keeps listing them while the exporter runs)."""
    logins = s.state.value(console_logins.NAME)
    if logins is None:
        return None
    failed = sum(count for (success, _), count in logins.counts.items() if not success)
    return f"{failed} failed sign-in attempt{'s' if failed != 1 else ''} seen" if failed else None


def _counted_within_hour(
    s: Subject, names: Optional[frozenset[str]] = None, session: Optional[str] = None
) -> list[tuple[str, str, int, float]]:
    """(event name, session, count, when counted) of the account's root activity counters that
    grew within the last hour: what ``increase(root_activity_events_total[1h]) > 0`` (or a series
    new within the hour) sees, for the event names and session given."""
    events = s.snapshot.root_events
    account = s.state.account.id
    found = []
    for key, when in events.counted_at.items():
        owner, name, kind = key
        if (
            owner == account
            and s.now - when < EVENT_WINDOW_SECONDS
            and (names is None or name in names)
            and (session is None or kind == session)
        ):
            found.append((name, kind, events.counts.get(key, 0), when))
    return sorted(found, key=lambda item: (-item[3], item[0], item[1]))


def _activity_detail(found: list[tuple[str, str, int, float]], now: float, sessions: bool) -> str:
    names = ", ".join(f"{name}{f' ({kind})' if sessions else ''}" for name, kind, _, _ in found)
    return f"{names}, counted {ago(now - found[0][3])}"


def _root_activity(s: Subject) -> Optional[str]:
    """AWSRootActivity: the root user's own credentials made calls or sign-ins (AssumeRoot
    sessions and the exporter's own audit are not counted as such)."""
    found = _counted_within_hour(s, session=ROOT_CREDENTIALS)
    return _activity_detail(found, s.now, False) if found else None


PASSWORD_RECOVERY = frozenset({"PasswordRecoveryRequested", "PasswordRecoveryCompleted"})
MFA_REMOVAL = frozenset({"DeactivateMFADevice", "DeleteVirtualMFADevice"})


def _password_recovery(s: Subject) -> Optional[str]:
    found = _counted_within_hour(s, PASSWORD_RECOVERY)
    return _activity_detail(found, s.now, False) if found else None


def _mfa_removed(s: Subject) -> Optional[str]:
    found = _counted_within_hour(s, MFA_REMOVAL)
    return _activity_detail(found, s.now, True) if found else None


def _access_key_created(s: Subject) -> Optional[str]:
    found = _counted_within_hour(s, frozenset({"CreateAccessKey"}))
    return _activity_detail(found, s.now, True) if found else None


def _detection_off(s: Subject) -> Optional[str]:
    """AWSRootActivityDetectionOff: ``root_activity_detection_enabled == 0`` (the last good
    trail_status value, as the gauge shows it)."""
    coverage: Optional[TrailCoverage] = s.state.value("trail_status")
    if coverage is None or coverage.enabled:
        return None
    return f"no trail logs management events in us-east-1: {coverage.reason or 'none found'}"


def _not_restricted_by_scp(s: Subject) -> Optional[str]:
    """AWSRootNotRestrictedBySCP: ``root_scp_denies_root == 0`` and ``root_credentials_present !=
    0``; the series exist only where SCPs are enabled (a member account) and the credentials are
    known."""
    policies: Optional[RootPolicies] = s.state.value("root_policies")
    if policies is None or not policies.scps_enabled or policies.denies_all or s.facts.credentials_present is not True:
        return None
    if not policies.restricting:
        return "root has credentials and no SCP in effect denies it anything"
    partial = sorted({a.policy_name or a.policy_id for a in policies.restricting})
    return f"root has credentials; the SCPs in effect deny it only some actions ({', '.join(partial)})"


def _email_not_allowed(s: Subject) -> Optional[str]:
    """AWSRootEmailNotAllowed: ``root_email_policy_compliant == 0`` (absent without a policy)."""
    if s.state.account.root_email_allowed is not False:
        return None
    return f"{s.state.account.email} matches none of accounts.root_email.allowed"


def failing_sources(sources) -> list[tuple[str, str]]:
    """(source names, error) of the failing ones among (name, status) pairs; sources failing
    with the same error (a denied AssumeRole fails every source of the account) share one entry."""
    by_error: dict[str, list[str]] = {}
    for name, status in sources:
        if not status.success:
            by_error.setdefault(status.error or "failed", []).append(name)
    return [(", ".join(names), error) for error, names in by_error.items()]


def _collection_failing(s: Subject) -> Optional[str]:
    return "; ".join(f"{names}: {error}" for names, error in failing_sources(s.sources())) or None


def _data_stale(s: Subject) -> Optional[str]:
    """AWSRootExporterDataStale: a source's last success is older than its stale_after (the
    snapshot marks it), so its values are no longer shown as current."""
    stale = []
    for name, status in s.sources():
        if status.stale_since is not None and status.last_success is not None:
            since = datetime.fromtimestamp(status.stale_since, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            stale.append(f"{name} stale since {since} (last refreshed {ago(s.now - status.last_success)})")
    return ", ".join(stale) or None


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "root_without_mfa",
        "Root has credentials but no MFA",
        "critical",
        "AWSRootCredentialsWithoutMFA",
        "1.5",
        "IAM.9",
        "The root user has a password, access key or signing certificate and no MFA device.",
        "no-mfa",
        _without_mfa,
    ),
    Finding(
        "access_key_active",
        "Active root access key",
        "critical",
        "AWSRootAccessKeyActive",
        "1.4",
        "IAM.4",
        "The root user has an active access key; root access keys should not exist.",
        "active-access-keys",
        _key_active,
    ),
    Finding(
        "access_key_used_recently",
        "Root access key used in the last 24h",
        "critical",
        "AWSRootAccessKeyUsedRecently",
        "1.7",
        None,
        "A root access key was used within the last 24 hours.",
        "access-key-used",
        _key_used_recently,
    ),
    Finding(
        "console_sign_in_recent",
        "Root signed in to the console in the last 24h",
        "critical",
        "AWSRootConsoleSignInRecent",
        "1.7",
        None,
        "Someone used the root credentials to sign in to the AWS console within the last 24 hours.",
        "signed-in-24h",
        _sign_in_recent,
    ),
    Finding(
        "root_activity",
        "Root user used in the last hour",
        "critical",
        "AWSRootActivity",
        "1.7",
        None,
        "The root user's own credentials made API calls or signed in within the last hour "
        "(sts:AssumeRoot sessions and the exporter's own audit are not counted).",
        "root-activity",
        _root_activity,
    ),
    Finding(
        "password_recovery",
        "Root password recovery in the last hour",
        "critical",
        "AWSRootPasswordRecovery",
        None,
        None,
        "Someone asked for or completed a root password recovery within the last hour.",
        "password-recovery",
        _password_recovery,
    ),
    Finding(
        "mfa_removed",
        "Root MFA device removed in the last hour",
        "critical",
        "AWSRootMFARemoved",
        None,
        None,
        "A root MFA device was deactivated or deleted within the last hour.",
        "mfa-removed",
        _mfa_removed,
    ),
    Finding(
        "access_key_created",
        "Root access key created in the last hour",
        "critical",
        "AWSRootAccessKeyCreated",
        None,
        None,
        "The root user created an access key within the last hour.",
        "access-key-created",
        _access_key_created,
    ),
    Finding(
        "access_key_present",
        "Root access key exists",
        "warning",
        "AWSRootAccessKeyPresent",
        "1.4",
        "IAM.4",
        "The root user has an access key, active or inactive; it should be deleted.",
        "access-keys",
        _keys_present,
    ),
    Finding(
        "console_sign_in_failures",
        "Failed root sign-in attempts",
        "warning",
        "AWSRootConsoleSignInFailures",
        None,
        None,
        "Someone tried and failed to sign in to the console as the root user (counted since the "
        "exporter started; the alert fires for an hour after each new one).",
        "failed-sign-ins",
        _sign_in_failures,
    ),
    Finding(
        "mfa_virtual_only",
        "Root MFA is virtual only",
        "warning",
        "AWSRootMFAVirtualOnly",
        "1.6",
        "IAM.6",
        "Root MFA is an authenticator app only; a FIDO key or hardware device is recommended.",
        "virtual-mfa",
        _mfa_virtual_only,
    ),
    Finding(
        "signing_certificate_active",
        "Active root signing certificate",
        "warning",
        "AWSRootSigningCertificateActive",
        None,
        None,
        "The root user has an active X.509 signing certificate.",
        "signing-certificates",
        _certificate_active,
    ),
    Finding(
        "password_with_centralized_root_access",
        "Password under centralized root access",
        "warning",
        "AWSRootPasswordWithCentralizedRootAccess",
        None,
        None,
        "The organization manages root credentials centrally, yet this member's root has a console password.",
        "password-centralized",
        _password_centralized,
    ),
    Finding(
        "not_restricted_by_scp",
        "Root not restricted by an SCP",
        "warning",
        "AWSRootNotRestrictedBySCP",
        None,
        None,
        "This member's root has credentials and the service control policies in effect do not deny it every action.",
        "not-restricted-by-scp",
        _not_restricted_by_scp,
    ),
    Finding(
        "email_not_allowed",
        "Root e-mail address not allowed",
        "warning",
        "AWSRootEmailNotAllowed",
        None,
        None,
        "The root user's e-mail address matches none of the patterns in accounts.root_email.allowed.",
        "email-not-allowed",
        _email_not_allowed,
    ),
    Finding(
        "activity_detection_off",
        "Root activity cannot be seen",
        "warning",
        "AWSRootActivityDetectionOff",
        None,
        None,
        "No CloudTrail trail logs this account's management events in us-east-1: root sign-ins and "
        "credential changes there leave no record.",
        "detection-off",
        _detection_off,
    ),
    Finding(
        "collection_failing",
        "Collection failing",
        "warning",
        "AWSRootExporterCollectionFailing",
        None,
        None,
        "A source cannot be read for this account; its values are the last good ones, or unknown.",
        "collection-failing",
        _collection_failing,
    ),
    Finding(
        "data_stale",
        "Data stale",
        "warning",
        "AWSRootExporterDataStale",
        None,
        None,
        "A source's last success is older than its collection.stale_after (default 3 intervals): its values "
        "are left out of the metrics and the findings, and listed as last known.",
        "stale",
        _data_stale,
    ),
    Finding(
        "credential_report_old",
        "Credential report older than 8h",
        "info",
        "AWSRootCredentialReportOld",
        None,
        None,
        "The credential report in use is older than twice AWS's 4h cycle; per-key values may be out of date.",
        "report-old",
        _report_old,
    ),
)
BY_ID: Mapping[str, Finding] = {finding.id: finding for finding in FINDINGS}
BY_VIEW: Mapping[str, Finding] = {finding.view: finding for finding in FINDINGS}


@dataclass(frozen=True)
class Assessment:
    """One account with its facts and every finding that holds, worst first."""

    state: AccountState
    facts: RootFacts
    hits: tuple[Hit, ...]
    # Findings that only the stale values still show: "last known", not counted, no alert.
    stale_hits: tuple[Hit, ...] = ()

    def has(self, finding_id: str) -> bool:
        return any(hit.finding.id == finding_id for hit in self.hits)

    def hit(self, finding_id: str) -> Optional[Hit]:
        return next((hit for hit in self.hits if hit.finding.id == finding_id), None)

    @property
    def worst(self) -> Optional[str]:
        return self.hits[0].finding.severity if self.hits else None

    def sort_key(self) -> tuple:
        """Worst finding first, then more findings, then by name."""
        rank = SEVERITIES.index(self.worst) if self.worst else len(SEVERITIES)
        account = self.state.account
        return rank, -len(self.hits), account.name.lower(), account.id


def _hits(subject: Subject) -> list[Hit]:
    hits = []
    for finding in FINDINGS:
        detail = finding.check(subject)
        if detail is not None:
            hits.append(Hit(finding, detail))
    hits.sort(key=lambda hit: SEVERITIES.index(hit.finding.severity))
    return hits


def assess(state: AccountState, snapshot: Snapshot, now: float, intervals: Mapping[str, float]) -> Assessment:
    facts = root_facts(state)
    hits = _hits(Subject(state, facts, snapshot, now, intervals))
    stale = [status for status in state.sources.values() if status.stale_since is not None]
    if not stale:
        return Assessment(state, facts, tuple(hits))
    current = {hit.finding.id for hit in hits}
    refreshed = ago(now - min(status.last_success or now for status in stale))
    last_known = tuple(
        Hit(hit.finding, f"{hit.detail} (last known, from data last refreshed {refreshed})")
        for hit in _hits(Subject(state, root_facts(state, include_stale=True), snapshot, now, intervals, True))
        if hit.finding.id not in current
    )
    return Assessment(state, facts, tuple(hits), last_known)


def assess_all(snapshot: Snapshot, now: float, intervals: Mapping[str, float]) -> list[Assessment]:
    """Every account of the snapshot, worst first."""
    found = [assess(state, snapshot, now, intervals) for state in snapshot.accounts.values()]
    found.sort(key=Assessment.sort_key)
    return found


def discovery_problem(snapshot: Snapshot) -> Optional[str]:
    """Why the exporter cannot see the organization, or None when discovery is fine (or has not
    finished its first run yet)."""
    status = snapshot.discovery
    if status is None or status.success:
        return None
    error = status.error or "unknown error"
    advice = f". What to do: {status.hint}" if status.hint else ""
    if status.last_success is None:
        return f"Discovery of the organization's accounts has never succeeded: {error}{advice}"
    return f"Discovery of the organization's accounts is failing: {error}{advice}"


def severity_counts(assessments: list[Assessment]) -> dict[str, int]:
    counts = {severity: 0 for severity in SEVERITIES}
    for item in assessments:
        for hit in item.hits:
            counts[hit.finding.severity] += 1
    return counts
