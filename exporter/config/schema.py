"""The configuration's typed schema: frozen dataclasses with their defaults, and ``ConfigError``.

Interval defaults come from the source registry (``exporter.sources.REGISTRY``): a source
declares its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterable, Mapping, Optional

if TYPE_CHECKING:
    from exporter.sources.registry import Registry

DISCOVERY_MODES = ("organizations", "static")
ROOT_AUDIT_MODES = ("auto", "on", "off")

# Limits the loader enforces.
MIN_INTERVAL = 10.0
# Far beyond any useful interval, and well inside what the scheduler's date arithmetic can hold
# (an interval of millions of days overflows it at start).
MAX_INTERVAL = 30 * 86400.0
MIN_DEADLINE = 1.0
STALE_FACTOR = 3  # default collection.stale_after: this many intervals of the source
MAX_STALE_AFTER = 90 * 86400.0
MAX_LOOKBACK = 90 * 86400.0  # CloudTrail LookupEvents only reaches 90 days back
MIN_REPORT_TIMEOUT = 10.0
MAX_REPORT_TIMEOUT = 3600.0
MAX_SHARDS = 1024


class ConfigError(Exception):
    """The configuration cannot be used; ``errors`` holds every problem found, one per entry."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class StaticAccount:
    id: str
    name: str
    role_arn: Optional[str] = None  # None = built from accounts.role_name


@dataclass(frozen=True)
class AwsConfig:
    region: str = "us-east-1"
    max_attempts: int = 5


@dataclass(frozen=True)
class AccountsConfig:
    discovery: str = "organizations"
    role_name: str = "OrganizationAccountAccessRole"
    external_id: Optional[str] = field(default=None, repr=False)  # a secret: never shown
    session_name: str = "aws-root-exporter"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    root_audit: str = "auto"
    static: tuple[StaticAccount, ...] = ()
    root_email_allowed: tuple[str, ...] = ()  # accounts.root_email.allowed: regexes, full match, any case


@dataclass(frozen=True)
class RootEventsConfig:
    queue_url: Optional[str] = None  # the SQS queue of the root event stream; None = stream off


@dataclass(frozen=True)
class CollectionConfig:
    concurrency: int = 8
    cloudtrail_regions: tuple[str, ...] = ("us-east-1",)
    console_login_lookback: float = 86400.0  # seconds
    credential_report_timeout: float = 120.0  # seconds
    # seconds, one per source that runs on its own interval; defaults from the source registry
    intervals: Mapping[str, float] = field(default_factory=lambda: _registry(None).default_intervals())
    # Per-account sources only: how long one account's fetch may take before it is recorded as
    # failed (DeadlineExceeded) and the run goes on without it. Default: half the interval.
    deadlines: Mapping[str, float] = field(default_factory=lambda: _default_deadlines(_registry(None)))
    # Every source with an interval: values whose last success is older than this are left out of
    # /metrics and marked stale on the page. Default: STALE_FACTOR times the interval.
    stale_after: Mapping[str, float] = field(default_factory=lambda: _default_stale_after(_registry(None)))

    root_events: RootEventsConfig = field(default_factory=RootEventsConfig)
    # This replica collects the accounts of shard ``shard_index`` of ``shard_count`` (exporter/shards.py).
    shard_index: int = 0
    shard_count: int = 1

    def deadline(self, source: str) -> float:
        return self.deadlines.get(source, self.intervals[source] / 2)


@dataclass(frozen=True)
class Config:
    aws: AwsConfig = field(default_factory=AwsConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    collection: CollectionConfig = field(default_factory=CollectionConfig)
    source: str = "<defaults>"


def default_config(registry: Optional[Registry] = None) -> Config:
    """The built-in defaults; interval defaults come from ``registry`` (default: every source)."""
    registry = _registry(registry)
    return Config(
        collection=CollectionConfig(
            intervals=registry.default_intervals(),
            deadlines=_default_deadlines(registry),
            stale_after=_default_stale_after(registry),
        )
    )


def default_deadlines(intervals: Mapping[str, float], sources: Iterable[str]) -> Mapping[str, float]:
    """Half of each per-account source's interval: a hung account is given up on well before the
    next run is due."""
    return MappingProxyType({source: intervals[source] / 2 for source in sources})


def _default_deadlines(registry: Registry) -> Mapping[str, float]:
    return default_deadlines(registry.default_intervals(), registry.account_source_names)


def default_stale_after(intervals: Mapping[str, float], sources: Iterable[str]) -> Mapping[str, float]:
    """Three intervals of each source: two runs in a row may fail before its values go."""
    return MappingProxyType({source: STALE_FACTOR * intervals[source] for source in sources})


def _default_stale_after(registry: Registry) -> Mapping[str, float]:
    return default_stale_after(registry.default_intervals(), registry.interval_names)


def _registry(registry: Optional[Registry]) -> Registry:
    if registry is not None:
        return registry
    from exporter.sources import REGISTRY  # lazy: sources read the configuration types

    return REGISTRY
