"""The Prometheus collector: renders the current snapshot, never calls AWS.

AWS is polled in the background on each source's interval (the accepted exception to
"collect on scrape" for slow, rate-limited APIs); every HELP text says which source a value
comes from. Event times are gauges of Unix seconds, never sample timestamps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable, Iterator, Mapping, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from exporter import __version__
from exporter.root_facts import MFA_KINDS, RootFacts, root_facts
from exporter.state import AccountState, Snapshot

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

        self.mfa_active = gauge("root_mfa_active", "1 if the root user has an MFA device (account summary or root audit, else credential report).")
        self.mfa_hardware = gauge("root_mfa_hardware", "1 if root MFA is active and includes a FIDO or hardware device (root audit), or no virtual device is assigned to root (ListVirtualMFADevices).")
        self.mfa_devices = gauge("root_mfa_devices", "Number of root MFA devices by kind (root audit via sts:AssumeRoot).", ["kind"])
        self.password = gauge("root_password_enabled", "1 if the root user has a console password (root audit or account summary, else credential report); absent when no source can tell.")
        self.key_active = gauge("root_access_key_active", "1 if that root access key is active (credential report, overruled by the live account summary or root audit).", ["key"])
        self.key_used = gauge("root_access_key_last_used_timestamp", "Unix seconds of the root access key's last use (credential report); absent when never used.", ["key"])
        self.key_rotated = gauge("root_access_key_last_rotated_timestamp", "Unix seconds of the root access key's creation or last rotation (credential report); absent when no key.", ["key"])
        self.cert_active = gauge("root_signing_certificate_active", "1 if that root signing certificate is active (credential report, overruled by the live account summary or root audit).", ["cert"])
        self.keys_present = gauge("root_access_keys_present", "1 if the root user has at least one access key, active or not (Security Hub IAM.4); live: account summary or root audit, whichever is fresher; absent when neither ran.")
        self.certificates_present = gauge("root_signing_certificates_present", "1 if the root user has at least one signing certificate, active or not; live: account summary or root audit, whichever is fresher; absent when neither ran.")
        self.credentials = gauge("root_credentials_present", "1 if root has any password, access key, signing certificate or MFA device; 0 for a root without credentials (root audit or account summary).")
        self.last_login = gauge("root_last_console_login_timestamp", "Unix seconds of root's last console sign-in: latest of the credential report's password_last_used and the newest successful CloudTrail ConsoleLogin; absent when never or unknown.")
        self.last_login_info = gauge("root_last_console_login_info", "The newest successful root console sign-in seen in CloudTrail; value 1.", ["source_ip", "mfa_used"])
        self.report_generated = gauge("root_credential_report_generated_timestamp", "Unix seconds when AWS generated the credential report in use (AWS regenerates it at most every 4 hours).")
        self.info = gauge("root_account_info", "Account details from AWS Organizations discovery; value 1.", ["email", "ou_path", "state", "management"])
        self.logins = CounterMetricFamily("root_console_login_events", f"Root console sign-in events seen in CloudTrail since the exporter started. {BACKGROUND}", labels=ACCOUNT_LABELS + ["outcome", "mfa_used"])
        self.assumed_root_logins = CounterMetricFamily("root_assumed_root_console_login_events", f"Console sign-ins through sts:AssumeRoot sessions (centrally issued privileged tasks, not the root user's own credentials) seen in CloudTrail since the exporter started; not part of root_console_login_events_total or root_last_console_login_timestamp. {BACKGROUND}", labels=ACCOUNT_LABELS + ["outcome"])
        self.success = gauge("root_exporter_collection_success", "1 if the last run of that source for that account succeeded; on failure the last good values are kept (stale).", ["source"])
        self.last_success = gauge("root_exporter_last_success_timestamp", "Unix seconds of the last successful run of that source for that account.", ["source"])
        self.malformed = CounterMetricFamily("root_exporter_malformed_events", f"Malformed events skipped, by source, since the exporter started. {BACKGROUND}", labels=ACCOUNT_LABELS + ["source"])

    def all(self) -> list[Metric]:
        return [value for value in vars(self).values() if isinstance(value, Metric)]

    def add_account(self, state: AccountState) -> None:
        account = state.account
        ids = [account.id, account.name]
        facts = root_facts(state)
        self.info.add_metric(ids + [account.email, account.ou_path, account.state, str(account.management).lower()], 1)
        self._add_facts(ids, facts)
        for source, status in sorted(state.sources.items()):
            self.success.add_metric(ids + [source], float(status.success))
            if status.last_success is not None:
                self.last_success.add_metric(ids + [source], status.last_success)
        logins = state.value("console_logins")
        if logins is not None:
            for (success, mfa), count in sorted(logins.counts.items()):
                self.logins.add_metric(ids + ["success" if success else "failure", str(mfa).lower()], count)
            for success, count in sorted(logins.assumed_root_counts.items()):
                self.assumed_root_logins.add_metric(ids + ["success" if success else "failure"], count)
            self.malformed.add_metric(ids + ["console_logins"], logins.malformed)

    def add_discovery(self, snapshot: Snapshot) -> None:
        """Discovery is organization-wide: reported on the account the exporter runs in, only
        while that account is known and collected (so never with empty account labels); the
        organization-level series in ``RootCollector._discovery`` always carry it."""
        status = snapshot.discovery
        home_state = snapshot.accounts.get(snapshot.home_account_id or "")
        if status is None or home_state is None:
            return
        ids = [home_state.account.id, home_state.account.name]
        self.success.add_metric(ids + ["discovery"], float(status.success))
        if status.last_success is not None:
            self.last_success.add_metric(ids + ["discovery"], status.last_success)

    def _add_facts(self, ids: list[str], facts: RootFacts) -> None:
        def put(family: GaugeMetricFamily, value: Optional[float], extra: Iterable[str] = ()) -> None:
            if value is not None:
                family.add_metric(ids + list(extra), value)

        put(self.mfa_active, _num(facts.mfa_active))
        put(self.mfa_hardware, _num(facts.mfa_hardware))
        for kind in MFA_KINDS if facts.mfa_devices is not None else ():
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
            families.add_account(snapshot.accounts[account_id])
        families.add_discovery(snapshot)
        yield from families.all()
        yield from self._discovery(snapshot)
        yield from self._organization(snapshot)
        yield from self._exporter(snapshot)

    @staticmethod
    def _discovery(snapshot: Snapshot) -> Iterator[Metric]:
        """Without account labels: discovery can fail before any account, even the exporter's
        own, is known (no credentials, expired SSO, no network)."""
        status = snapshot.discovery
        if status is None:
            return
        success = GaugeMetricFamily("root_exporter_discovery_success", "1 if the last discovery of the accounts to collect succeeded (AWS Organizations or the static list, and the exporter's own credentials).")
        success.add_metric([], float(status.success))
        yield success
        if status.last_success is not None:
            last = GaugeMetricFamily("root_exporter_discovery_last_success_timestamp", "Unix seconds of the last successful discovery.")
            last.add_metric([], status.last_success)
            yield last

    @staticmethod
    def _organization(snapshot: Snapshot) -> Iterator[Metric]:
        """Organization-wide facts, exported by every shard (under its own ``instance``): the
        alerts join per-account series with them ``on (job, instance)``."""
        index, count = snapshot.shard
        shard = GaugeMetricFamily("root_exporter_shard_info", "The shard of the organization's accounts this replica collects (index from 0, count of shards; 0 of 1 when unsharded); value 1.", labels=["index", "count"])
        shard.add_metric([str(index), str(count)], 1)
        yield shard
        features = snapshot.organization_features
        if features is None:
            return
        family = GaugeMetricFamily("root_organization_feature_enabled", f"1 if the organization has that centralized root access feature enabled (iam:ListOrganizationsFeatures). {BACKGROUND}", labels=["feature"])
        family.add_metric(["RootCredentialsManagement"], float(features.root_credentials_management))
        family.add_metric(["RootSessions"], float(features.root_sessions))
        yield family

    def _exporter(self, snapshot: Snapshot) -> Iterator[Metric]:
        duration = GaugeMetricFamily("root_exporter_collection_duration_seconds", "Duration of the last full run of that source over every account.", labels=["source"])
        for source, seconds in sorted(snapshot.run_durations.items()):
            duration.add_metric([source], seconds)
        interval = GaugeMetricFamily("root_exporter_collection_interval_seconds", "Configured interval between runs of that source.", labels=["source"])
        for source, seconds in sorted(self._intervals.items()):
            interval.add_metric([source], seconds)
        build = GaugeMetricFamily("root_exporter_build_info", "Build information of aws-root-exporter; value 1.", labels=["version"])
        build.add_metric([__version__], 1)
        yield from (duration, interval, build)


def exposition(snapshot: Snapshot, intervals: Mapping[str, float], accept: str = "") -> tuple[bytes, str]:
    """``snapshot`` encoded in the format ``accept`` asks for: (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RootCollector(lambda: snapshot, intervals))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
