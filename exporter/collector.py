"""The Prometheus collector: renders the current snapshot, never calls AWS.

AWS is polled in the background on each source's interval (the accepted exception to
"collect on scrape" for slow, rate-limited APIs); every HELP text says which source a value
comes from. Event times are gauges of Unix seconds, never sample timestamps. Values of a source
that the snapshot marks stale (older than ``collection.stale_after``) are left out, so day-old
data never looks current; the collection series of that source stay and say why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable, Iterator, Mapping, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from exporter import __version__
from exporter.root_facts import MFA_KINDS, RootFacts, root_facts
from exporter.sources import console_logins, discovery, org_features, root_events, root_policies, trail_status
from exporter.state import AccountState, RootPolicies, Snapshot

ACCOUNT_LABELS = ["account_id", "account_name"]
BACKGROUND = "Collected in the background, not at scrape time."


def _num(value: Optional[bool]) -> Optional[float]:
    return None if value is None else float(value)


def _ts(value: Optional[datetime]) -> Optional[float]:
    return None if value is None else value.timestamp()


class _Families:
    """The per-account gauge families, filled account by account."""

    def __init__(self) -> None:
        def gauge(name: str, help_text: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, f"{help_text} {BACKGROUND}", labels=ACCOUNT_LABELS + list(labels))

        def counter(name: str, help_text: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
            return CounterMetricFamily(name, f"{help_text} {BACKGROUND}", labels=ACCOUNT_LABELS + list(labels))

        self.mfa_active = gauge(
            "root_mfa_active",
            "1 if the root user has an MFA device (account summary or root audit, else credential report).",
        )
        self.mfa_hardware = gauge(
            "root_mfa_hardware",
            "1 if root MFA is active and includes a FIDO or hardware device (root audit), or no virtual device is assigned to root (ListVirtualMFADevices).",
        )
        self.mfa_devices = gauge(
            "root_mfa_devices", "Number of root MFA devices by kind (root audit via sts:AssumeRoot).", ["kind"]
        )
        self.password = gauge(
            "root_password_enabled",
            "1 if the root user has a console password (root audit or account summary, else credential report); absent when no source can tell.",
        )
        self.key_active = gauge(
            "root_access_key_active",
            "1 if that root access key is active (credential report, overruled by the live account summary or root audit).",
            ["key"],
        )
        self.key_used = gauge(
            "root_access_key_last_used_timestamp",
            "Unix seconds of the root access key's last use (credential report); absent when never used.",
            ["key"],
        )
        self.key_rotated = gauge(
            "root_access_key_last_rotated_timestamp",
            "Unix seconds of the root access key's creation or last rotation (credential report); absent when no key.",
            ["key"],
        )
        self.cert_active = gauge(
            "root_signing_certificate_active",
            "1 if that root signing certificate is active (credential report, overruled by the live account summary or root audit).",
            ["cert"],
        )
        self.keys_present = gauge(
            "root_access_keys_present",
            "1 if the root user has at least one access key, active or not (Security Hub IAM.4); live: account summary or root audit, whichever is fresher; absent when neither ran.",
        )
        self.certificates_present = gauge(
            "root_signing_certificates_present",
            "1 if the root user has at least one signing certificate, active or not; live: account summary or root audit, whichever is fresher; absent when neither ran.",
        )
        self.credentials = gauge(
            "root_credentials_present",
            "1 if root has any password, access key, signing certificate or MFA device; 0 for a root without credentials (root audit or account summary).",
        )
        self.last_login = gauge(
            "root_last_console_login_timestamp",
            "Unix seconds of root's last console sign-in: latest of the credential report's password_last_used and the newest successful CloudTrail ConsoleLogin; absent when never or unknown.",
        )
        self.last_login_info = gauge(
            "root_last_console_login_info",
            "The newest successful root console sign-in seen in CloudTrail; value 1.",
            ["source_ip", "mfa_used"],
        )
        self.report_generated = gauge(
            "root_credential_report_generated_timestamp",
            "Unix seconds when AWS generated the credential report in use (AWS regenerates it at most every 4 hours).",
        )
        self.info = gauge(
            "root_account_info",
            "Account details from AWS Organizations discovery; value 1.",
            ["email", "ou_path", "state", "management"],
        )
        self.scp_denies_root = gauge(
            "root_scp_denies_root",
            "1 if the service control policies in effect for this member account deny every action to the root user's own credentials (an exemption for sts:AssumeRoot sessions still counts), else 0; absent for the management account and when SCPs are not enabled (root_policies).",
        )
        self.scp_denied_actions = gauge(
            "root_scp_denied_root_actions",
            "Number of action patterns the SCPs in effect surely deny to the root user (ec2:* counts as one); +Inf when every action, or every action but a NotAction list, is denied (root_policies).",
        )
        self.email_compliant = gauge(
            "root_email_policy_compliant",
            "1 if the root user's e-mail address matches accounts.root_email.allowed, else 0; absent when no policy is configured (Organizations discovery).",
        )
        self.logins = counter(
            "root_console_login_events",
            "Root console sign-in events seen in CloudTrail since the exporter started.",
            ["outcome", "mfa_used"],
        )
        self.assumed_root_logins = counter(
            "root_assumed_root_console_login_events",
            "Console sign-ins through sts:AssumeRoot sessions (centrally issued privileged tasks, not the root user's own credentials) seen in CloudTrail since the exporter started; not part of root_console_login_events_total or root_last_console_login_timestamp.",
            ["outcome"],
        )
        self.success = gauge(
            "root_exporter_collection_success",
            "1 if the last run of that source for that account succeeded; on failure the last good values are kept (stale).",
            ["source"],
        )
        self.last_success = gauge(
            "root_exporter_last_success_timestamp",
            "Unix seconds of the last successful run of that source for that account.",
            ["source"],
        )
        self.errors = counter(
            "root_exporter_collection_errors",
            "Failed fetches of that source for that account since the exporter started, by AWS error code (or the exporter's own: DeadlineExceeded, ReportTimeout...; at most 10 codes per source, then Other); discovery counts on the exporter's own account.",
            ["source", "code"],
        )
        self.malformed = counter(
            "root_exporter_malformed_events",
            "Malformed events skipped, by source, since the exporter started.",
            ["source"],
        )
        self.activity = counter(
            "root_activity_events",
            "Root activity events (CIS filter: userIdentity.type Root, no invokedBy, not AwsServiceEvent) seen since the exporter started, by eventName (notable names, else other) and session (root_credentials, or assumed_root for sts:AssumeRoot sessions); the exporter's own audit is not counted. From the root event stream and the console_logins look-up (LookupEvents Username=root).",
            ["event_name", "session"],
        )
        self.last_activity = GaugeMetricFamily(
            "root_last_activity_timestamp",
            f"Unix seconds of the newest root activity event seen, by session. From the root event stream and the console_logins look-up (LookupEvents Username=root). {BACKGROUND}",
            labels=ACCOUNT_LABELS + ["session"],
        )
        self.detection = gauge(
            "root_activity_detection_enabled",
            "1 if a CloudTrail trail (organization trails included) is logging this account's management events in us-east-1, so root activity can be seen at all (trail_status).",
        )

    def all(self) -> list[Metric]:
        return [value for value in vars(self).values() if isinstance(value, Metric)]

    def add_account(self, state: AccountState) -> None:
        account = state.account
        ids = [account.id, account.name]
        facts = root_facts(state)
        self.info.add_metric(ids + [account.email, account.ou_path, account.state, str(account.management).lower()], 1)
        self._add_facts(ids, facts)
        if account.root_email_allowed is not None:
            self.email_compliant.add_metric(ids, float(account.root_email_allowed))
        policies: Optional[RootPolicies] = state.value(root_policies.NAME)
        if policies is not None and policies.scps_enabled:
            self.scp_denies_root.add_metric(ids, float(policies.denies_all))
            self.scp_denied_actions.add_metric(ids, policies.denied_actions)
        for source, status in sorted(state.sources.items()):
            self.success.add_metric(ids + [source], float(status.success))
            if status.last_success is not None:
                self.last_success.add_metric(ids + [source], status.last_success)
        for (source, code), count in sorted(state.errors.items()):
            self.errors.add_metric(ids + [source, code], count)
        # Counters stay when their source is stale: they count what was seen, and a counter that
        # left and came back would look new to the alert rules.
        logins = state.value(console_logins.NAME)
        if logins is not None:
            for (success, mfa), count in sorted(logins.counts.items()):
                self.logins.add_metric(ids + ["success" if success else "failure", str(mfa).lower()], count)
            for success, count in sorted(logins.assumed_root_counts.items()):
                self.assumed_root_logins.add_metric(ids + ["success" if success else "failure"], count)
            self.malformed.add_metric(ids + [console_logins.NAME], logins.malformed)

    def add_state(self, state: AccountState) -> None:
        """Every sample of one account that its state alone decides."""
        self.add_account(state)
        self.add_detection(state)

    def add_snapshot(self, snapshot: Snapshot) -> None:
        """The samples of these families that come from organization-wide state (discovery, the
        root event stream); they follow every account's own samples."""
        self.add_discovery(snapshot)
        self.add_root_events(snapshot)

    def add_root_events(self, snapshot: Snapshot) -> None:
        """Root activity of the accounts still collected, from the stream's organization-wide state."""
        events = snapshot.root_events
        for (account_id, event_name, session), count in sorted(events.counts.items()):
            state = snapshot.accounts.get(account_id)
            if state is not None:
                self.activity.add_metric([account_id, state.account.name, event_name, session], count)
        for (account_id, session), when in sorted(events.last_activity.items()):
            state = snapshot.accounts.get(account_id)
            if state is not None:
                self.last_activity.add_metric([account_id, state.account.name, session], when)
        for account_id, count in sorted(events.malformed.items()):
            state = snapshot.accounts.get(account_id)
            if state is not None:
                self.malformed.add_metric([account_id, state.account.name, root_events.NAME], count)

    def add_discovery(self, snapshot: Snapshot) -> None:
        """Discovery and org_features are organization-wide: reported on the account the exporter
        runs in, only while that account is known and collected (so never with empty account
        labels); the organization-level series in ``RootCollector._discovery`` always carry it."""
        home_state = snapshot.accounts.get(snapshot.home_account_id or "")
        if home_state is None:
            return
        ids = [home_state.account.id, home_state.account.name]
        for name, status in ((discovery.NAME, snapshot.discovery), (org_features.NAME, snapshot.org_features)):
            if status is None:
                continue
            self.success.add_metric(ids + [name], float(status.success))
            if status.last_success is not None:
                self.last_success.add_metric(ids + [name], status.last_success)
        for code, count in sorted(snapshot.discovery_errors.items()):
            self.errors.add_metric(ids + [discovery.NAME, code], count)

    def _add_facts(self, ids: list[str], facts: RootFacts) -> None:
        def put(family: GaugeMetricFamily, value: Optional[float], extra: Iterable[str] = ()) -> None:
            if value is not None:
                family.add_metric(ids + list(extra), value)

        put(self.mfa_active, _num(facts.mfa_active))
        put(self.mfa_hardware, _num(facts.mfa_hardware))
        if facts.mfa_devices is not None:
            for kind in MFA_KINDS:
                put(self.mfa_devices, float(facts.mfa_devices[kind]), [kind])
        put(self.password, _num(facts.password_enabled))
        for number, key in enumerate(facts.access_keys, start=1):
            put(self.key_active, _num(key.active), [str(number)])
            put(self.key_used, _ts(key.last_used), [str(number)])
            put(self.key_rotated, _ts(key.last_rotated), [str(number)])
        for number, cert in enumerate(facts.certificates, start=1):
            put(self.cert_active, _num(cert.active), [str(number)])
        put(self.keys_present, _num(facts.access_keys_present))
        put(self.certificates_present, _num(facts.signing_certificates_present))
        put(self.credentials, _num(facts.credentials_present))
        put(self.last_login, _ts(facts.last_console_login))
        event = facts.last_console_login_event
        if event is not None:
            put(self.last_login_info, 1.0, [event.source_ip, str(event.mfa_used).lower()])
        put(self.report_generated, _ts(facts.report_generated))

    def add_detection(self, state: AccountState) -> None:
        coverage = state.value(trail_status.NAME)
        if coverage is not None:
            self.detection.add_metric([state.account.id, state.account.name], float(coverage.enabled))


class RootCollector(Collector):
    """Renders the snapshot returned by ``snapshot()`` on every scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot], intervals: Mapping[str, float]):
        self._snapshot = snapshot
        self._intervals = dict(intervals)

    def describe(self) -> list[Metric]:
        # Present so that registering the collector does not call collect().
        return []

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot()
        families = _Families()
        for account_id in sorted(snapshot.accounts):
            families.add_state(snapshot.accounts[account_id])
        families.add_snapshot(snapshot)
        yield from families.all()
        yield from self.organization_wide(snapshot)

    def organization_wide(self, snapshot: Snapshot) -> Iterator[Metric]:
        """The families without account labels, after the per-account ones."""
        yield from self._discovery(snapshot)
        yield from self._organization(snapshot)
        yield from self._stream(snapshot)
        yield from self._exporter(snapshot)

    @staticmethod
    def _discovery(snapshot: Snapshot) -> Iterator[Metric]:
        """Without account labels: discovery can fail before any account, even the exporter's
        own, is known (no credentials, expired SSO, no network)."""
        status = snapshot.discovery
        if status is None:
            return
        success = GaugeMetricFamily(
            "root_exporter_discovery_success",
            "1 if the last discovery of the accounts to collect succeeded (AWS Organizations or the static list, and the exporter's own credentials).",
        )
        success.add_metric([], float(status.success))
        yield success
        if status.last_success is not None:
            last = GaugeMetricFamily(
                "root_exporter_discovery_last_success_timestamp", "Unix seconds of the last successful discovery."
            )
            last.add_metric([], status.last_success)
            yield last

    @staticmethod
    def _organization(snapshot: Snapshot) -> Iterator[Metric]:
        """Organization-wide facts, exported by every shard (under its own ``instance``): the
        alerts join per-account series with them ``on (job, instance)``."""
        index, count = snapshot.shard
        shard = GaugeMetricFamily(
            "root_exporter_shard_info",
            "The shard of the organization's accounts this replica collects (index from 0, count of shards; 0 of 1 when unsharded); value 1.",
            labels=["index", "count"],
        )
        shard.add_metric([str(index), str(count)], 1)
        yield shard
        features = snapshot.organization_features
        if features is None:
            return
        family = GaugeMetricFamily(
            "root_organization_feature_enabled",
            f"1 if the organization has that centralized root access feature enabled (iam:ListOrganizationsFeatures). {BACKGROUND}",
            labels=["feature"],
        )
        family.add_metric(["RootCredentialsManagement"], float(features.root_credentials_management))
        family.add_metric(["RootSessions"], float(features.root_sessions))
        yield family

    @staticmethod
    def _stream(snapshot: Snapshot) -> Iterator[Metric]:
        """The root event stream's health; present only while the stream is configured."""
        events = snapshot.root_events
        if events.started is None:
            return

        def gauge(name: str, help_text: str, value: Optional[float]) -> Iterator[Metric]:
            family = GaugeMetricFamily(name, help_text)
            if value is not None:  # no sample before the first message or heartbeat
                family.add_metric([], value)
            yield family

        yield from gauge(
            "root_events_started_timestamp", "Unix seconds the root event stream consumer started.", events.started
        )
        yield from gauge(
            "root_events_last_message_timestamp",
            "Unix seconds the root event stream last applied a message.",
            events.last_message,
        )
        yield from gauge(
            "root_events_last_heartbeat_timestamp",
            "Unix seconds (event time) of the newest heartbeat the templates' schedule put on the central bus.",
            events.last_heartbeat,
        )
        malformed = CounterMetricFamily(
            "root_events_malformed_messages",
            "Root event stream messages that could not be read and named no collected account (those count in root_exporter_malformed_events_total), deleted.",
        )
        malformed.add_metric([], events.malformed_messages)
        foreign = CounterMetricFamily(
            "root_events_foreign_events",
            "Root event stream events of accounts outside the collected set (another shard, or not collected), deleted.",
        )
        foreign.add_metric([], events.foreign)
        errors = CounterMetricFamily(
            "root_events_errors",
            "Root event stream calls that failed, by SQS operation and error code (AccessDenied: the exporter's "
            "policy lacks sqs:ReceiveMessage or sqs:DeleteMessage on the queue); retried every 5 s.",
            labels=["operation", "error_code"],
        )
        for (operation, code), count in sorted(events.errors.items()):
            errors.add_metric([operation, code], count)
        delay = HistogramMetricFamily(
            "root_event_delivery_delay_seconds",
            "Seconds from an event's time to its application by the root event stream.",
        )
        histogram = events.delay
        if histogram is not None:
            buckets = [(floatToGoString(bound), count) for bound, count in zip(histogram.bounds, histogram.buckets)]
            delay.add_metric([], buckets + [("+Inf", histogram.count)], histogram.total)
        else:
            delay.add_metric([], [("+Inf", 0)], 0.0)
        yield from (malformed, foreign, errors, delay)

    def _exporter(self, snapshot: Snapshot) -> Iterator[Metric]:
        duration = GaugeMetricFamily(
            "root_exporter_collection_duration_seconds",
            "Duration of the last full run of that source over every account.",
            labels=["source"],
        )
        for source, seconds in sorted(snapshot.run_durations.items()):
            duration.add_metric([source], seconds)
        interval = GaugeMetricFamily(
            "root_exporter_collection_interval_seconds",
            "Configured interval between runs of that source.",
            labels=["source"],
        )
        for source, seconds in sorted(self._intervals.items()):
            interval.add_metric([source], seconds)
        stale_after = GaugeMetricFamily(
            "root_exporter_collection_stale_after_seconds",
            "Configured collection.stale_after of that source: values whose last success is older are left out of these metrics (collection success and last success stay).",
            labels=["source"],
        )
        for source, seconds in sorted(snapshot.stale_after.items()):
            if source in self._intervals:
                stale_after.add_metric([source], seconds)
        build = GaugeMetricFamily(
            "root_exporter_build_info", "Build information of aws-root-exporter; value 1.", labels=["version"]
        )
        build.add_metric([__version__], 1)
        yield from (duration, interval, stale_after, build)


def exposition(snapshot: Snapshot, intervals: Mapping[str, float], accept: str = "") -> tuple[bytes, str]:
    """``snapshot`` encoded in the format ``accept`` asks for: (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RootCollector(lambda: snapshot, intervals))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
