"""Runs the sources: discovery, then every per-account source on its own interval.

Each source is one APScheduler job (``max_instances=1``, ``coalesce=True``: a tick is skipped
while the previous run still goes on). A run fetches up to ``collection.concurrency`` accounts at
once and swaps each account's outcome into the snapshot as soon as it is known, so a slow or
failing account neither delays nor hides the others; a failure keeps the account's last good
value. An account that hangs is given up at its source's deadline, so one account cannot make
the run, and with it the next tick of every other account, wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional, Sequence

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from exporter.aws.errors import SourceError, describe_error, error_code, metric_code, remedy
from exporter.config import format_duration
from exporter.shards import in_shard, stagger_fraction
from exporter.snapshot import (
    SnapshotStore,
    with_accounts,
    with_discovery,
    with_features,
    with_result,
    with_run_finished,
    with_staleness,
    without_source,
)
from exporter.sources import discovery, org_features
from exporter.sources.base import AccountSource, Context
from exporter.state import Account

log = logging.getLogger(__name__)
# One account's fetch in a run: (account, last good value) -> new value.
Fetch = Callable[[Account, Optional[Any]], Any]
PROGRESS_EVERY = 30.0  # seconds between progress lines of a long source run
RETRY_INITIAL = 5.0  # seconds before the first retry of a failed discovery; doubles on each failure
RETRY_MAX = 300.0  # at most this long (or the discovery interval) between retries
RETRY_JOB = "discovery-retry"
STALENESS_JOB = "staleness"
STALENESS_EVERY = 30.0  # seconds between staleness checks, at most (a tenth of the shortest stale_after)


STAGGER_SHARE = 0.5  # at most this share of a source's interval is used to spread its accounts


def stagger_spread(interval: float, deadline: float) -> float:
    """Seconds over which a staggered run spreads its accounts' starts: at most half the
    interval, and short enough that the last account's deadline ends before the next run."""
    return max(0.0, min(interval * STAGGER_SHARE, interval - deadline))


class Collection:
    """One run of discovery or of a source, recorded in the snapshot store."""

    def __init__(self, context: Context, store: SnapshotStore, sources: Sequence[AccountSource]):
        self.context = context
        self.store = store
        self.sources = tuple(sources)
        self.progress_every = PROGRESS_EVERY

    @property
    def source_names(self) -> tuple[str, ...]:
        return (discovery.NAME,) + tuple(source.name for source in self.sources)

    def run_discovery(self) -> bool:
        started = time.monotonic()
        try:
            accounts = discovery.discover(self.context.access, self.context.config)
            home = self.context.access.home_account_id
        except Exception as error:  # noqa: BLE001 - keep the accounts we had; retried with backoff
            hint = remedy(error)
            description = self._failed(discovery.NAME, None, error, hint)
            self.store.update(
                with_discovery,
                self.context.clock(),
                error=description,
                home_account_id=self._home_or_none(),
                hint=hint,
                code=metric_code(error),
            )
            ok = False
        else:
            collection = self.context.config.collection
            shard = (collection.shard_index, collection.shard_count)
            found = len(accounts)
            accounts = [account for account in accounts if in_shard(account.id, *shard)]
            # Credentials of accounts that left would otherwise stay for the life of the process.
            self.context.access.retain({account.id for account in accounts})
            features_started = time.monotonic()
            features, features_error = org_features.fetch(self.context.access, self.store.current.organization_features)
            features_duration = time.monotonic() - features_started
            now = self.context.clock()
            self.store.update(
                lambda snapshot: with_discovery(
                    with_features(
                        with_accounts(replace(snapshot, shard=shard), accounts, home), now, features, features_error
                    ),
                    now,
                )
            )
            self.store.update(with_run_finished, org_features.NAME, features_duration)
            fields: dict[str, Any] = {"source": discovery.NAME, "accounts": len(accounts)}
            if shard[1] > 1:
                fields.update(shard_index=shard[0], shard_count=shard[1], organization_accounts=found)
            log.info("discovered accounts", extra=fields)
            ok = True
        self.store.update(with_run_finished, discovery.NAME, time.monotonic() - started)
        self.mark_stale()
        return ok

    def mark_stale(self) -> None:
        """Mark the values older than their source's ``collection.stale_after`` as stale (and
        clear marks that no longer hold): they leave /metrics and the findings. Runs after every
        source run and on its own schedule, so data goes stale even when nothing else runs."""
        self.store.update(with_staleness, self.context.clock(), self.context.config.collection.stale_after)

    def run_source(self, source: AccountSource, interval: Optional[float] = None) -> bool:
        """Fetch ``source`` for every account it applies to; True when every account succeeded.

        With the ``interval`` it runs at (the schedule), every run after the source's first one starts each
        account at its own stable offset (``stagger_fraction`` of its id) within the first part
        of the interval (``stagger_spread``), so AWS sees a steady trickle of calls and the
        snapshot changes account by account instead of all at once. The first run is never
        staggered: readiness (every source run once) comes as soon as AWS answers. An account's
        second fetch therefore comes up to one spread later than an interval after its first;
        from then on, one interval apart.

        At most ``collection.concurrency`` accounts are fetched at once, each in a thread of its
        own. An account still running at its deadline is recorded as failed (DeadlineExceeded)
        and abandoned: the run finishes without waiting for it, its thread ends when botocore's
        timeouts end the call, and its late result is dropped.
        """
        started = time.monotonic()
        snapshot = self.store.current
        config = self.context.config
        accounts = []
        for state in snapshot.accounts.values():
            if source.applies(state.account, snapshot, config):
                accounts.append(state.account)
            elif source.name in state.sources:
                self.store.update(without_source, state.account.id, source.name)
        fetch = self._prepared(source, accounts)
        if fetch is None:
            failed = len(accounts)
        else:
            deadline = config.collection.deadline(source.name)
            spread = 0.0
            if interval is not None and source.name in snapshot.completed_sources:
                spread = stagger_spread(interval, deadline)
            run = _SourceRun(
                self,
                source,
                accounts,
                deadline,
                max(1, min(config.collection.concurrency, len(accounts))),
                fetch,
                spread,
            )
            failed = run.wait(self.progress_every)
        duration = time.monotonic() - started
        self.store.update(with_run_finished, source.name, duration)
        self.mark_stale()
        log.info(
            "source run finished",
            extra={
                "source": source.name,
                "accounts": len(accounts),
                "failed": failed,
                "duration_seconds": round(duration, 3),
            },
        )
        return failed == 0

    def _prepared(self, source: AccountSource, accounts: Sequence[Account]) -> Optional[Fetch]:
        """The per-account fetch of this run; for an organization-wide source, after its one
        shared read. None when that read failed: then it is recorded for every account."""
        if source.prepare is None or not accounts:
            return lambda account, previous: source.fetch(self.context, account, previous)
        try:
            return source.prepare(self.context)
        except Exception as error:  # noqa: BLE001 - the source fails visibly; the others go on
            description = self._failed(source.name, None, error)
            now = self.context.clock()
            for account in accounts:
                self.store.update(with_result, account.id, source.name, now, error=description)
            return None

    def fetch_one(self, source: AccountSource, account: Account, fetch: Fetch) -> tuple[Any, Optional[BaseException]]:
        """(value, None) or (None, error) of one account's fetch; records nothing."""
        state = self.store.current.accounts.get(account.id)
        previous = state.value(source.name) if state else None
        try:
            # Member clients are shared; this thread's requests sign with this account's credentials.
            with self.context.access.acting_for(account):
                return fetch(account, previous), None
        except Exception as error:  # noqa: BLE001 - one account's failure stays inside that account
            return None, error

    def record(self, source: AccountSource, account: Account, value: Any, error: Optional[BaseException]) -> bool:
        if error is not None:
            description = self._failed(source.name, account, error)
            self.store.update(
                with_result, account.id, source.name, self.context.clock(), error=description, code=metric_code(error)
            )
            return False
        now = self.context.clock()
        if source.merge is None:
            self.store.update(with_result, account.id, source.name, now, value=value)
        else:
            merge = source.merge
            self.store.update(
                lambda snapshot: merge(
                    with_result(snapshot, account.id, source.name, now, value=value), account, value, now
                )
            )
        return True

    def _home_or_none(self) -> Optional[str]:
        try:
            return self.context.access.home_account_id
        except Exception:  # noqa: BLE001 - the caller is already reporting the failure
            return None

    @staticmethod
    def _failed(source: str, account: Optional[Account], error: BaseException, hint: str = "") -> str:
        """Log the failure with account, source, AWS error code and what to do; return its description."""
        description = describe_error(error)
        fields: dict[str, Any] = {"source": source, "error_code": error_code(error), "error": description}
        if account is not None:
            fields.update(account_id=account.id, account_name=account.name)
        if hint:
            fields["hint"] = hint
        log.warning("collection failed", extra=fields)
        return description

    def run_once(self) -> bool:
        """Discovery, then every source once, in order: for ``--once`` and tests."""
        ok = self.run_discovery()
        for source in self.sources:
            ok = self.run_source(source) and ok
        return ok


class _SourceRun:
    """One run of a source over its accounts, bounded per account by ``deadline`` seconds."""

    def __init__(
        self,
        collection: Collection,
        source: AccountSource,
        accounts: Sequence[Account],
        deadline: float,
        workers: int,
        fetch: Fetch,
        spread: float = 0.0,
    ):
        self._collection = collection
        self._source = source
        self._fetch = fetch
        begin = time.monotonic()
        # (monotonic time not to start before, account), earliest first; all at once without a spread.
        self._pending = deque(
            sorted(
                ((begin + spread * stagger_fraction(account.id), account) for account in accounts),
                key=lambda item: item[0],
            )
        )
        self._total = len(accounts)
        self._deadline = deadline
        self._workers = workers
        self._running: dict[str, tuple[Account, float]] = {}  # account id -> (account, monotonic start)
        self._settled: set[str] = set()
        self._failed = 0
        self._done = threading.Condition()

    def wait(self, progress_every: float) -> int:
        """Run every account to its outcome or its deadline; returns how many failed."""
        started = time.monotonic()
        next_progress = started + progress_every
        with self._done:
            while self._pending or self._running:
                while self._pending and len(self._running) < self._workers and self._pending[0][0] <= time.monotonic():
                    self._start(self._pending.popleft()[1])
                now = time.monotonic()
                for account, begun in list(self._running.values()):
                    if now - begun >= self._deadline:
                        self._give_up(account)
                if now >= next_progress:
                    self._log_progress(now - started)
                    next_progress = now + progress_every
                wake = next_progress
                if self._running:
                    wake = min(wake, min(begun for _, begun in self._running.values()) + self._deadline)
                if self._pending and len(self._running) < self._workers:
                    wake = min(wake, self._pending[0][0])  # the next staggered account's turn
                if self._running or self._pending:
                    self._done.wait(max(0.0, wake - time.monotonic()))
        return self._failed

    def _start(self, account: Account) -> None:
        self._running[account.id] = (account, time.monotonic())
        # A daemon thread per account rather than a pool: a hung call must neither hold a pool
        # slot nor keep the process from exiting.
        threading.Thread(
            target=self._work, args=(account,), daemon=True, name=f"{self._source.name}-{account.id}"
        ).start()

    def _work(self, account: Account) -> None:
        value, error = self._collection.fetch_one(self._source, account, self._fetch)
        with self._done:
            if account.id in self._settled:
                return  # given up at the deadline: the run recorded its outcome already
            self._settled.add(account.id)
            del self._running[account.id]
            if not self._collection.record(self._source, account, value, error):
                self._failed += 1
            self._done.notify()

    def _give_up(self, account: Account) -> None:
        self._settled.add(account.id)
        del self._running[account.id]
        self._failed += 1
        error = SourceError(
            "DeadlineExceeded",
            f"{self._source.name} took longer than its deadline of "
            f"{format_duration(self._deadline)} for this account; abandoned "
            "until the next run (collection.deadlines)",
        )
        self._collection.record(self._source, account, None, error)

    def _log_progress(self, elapsed: float) -> None:
        log.info(
            "source run in progress",
            extra={
                "source": self._source.name,
                "accounts": self._total,
                "done": self._total - len(self._pending) - len(self._running),
                "waiting": len(self._pending),
                "running": len(self._running),
                "failed": self._failed,
                "elapsed_seconds": round(elapsed, 1),
            },
        )


class Scheduler:
    """The background schedule: one job per source.

    Discovery runs at start; until it first succeeds it is retried with capped exponential
    backoff (``retry_initial``, doubling, at most ``retry_max`` or its interval), and the
    per-account sources wait, paused: there is nothing to collect yet. Its first success (or, after
    a reload, its first attempt when an earlier success left accounts in the store) starts every
    source at once; later failures are retried the same way while the accounts already known go
    on being collected.
    """

    def __init__(
        self,
        collection: Collection,
        intervals: Mapping[str, float],
        retry_initial: float = RETRY_INITIAL,
        retry_max: float = RETRY_MAX,
    ):
        self._collection = collection
        self._intervals = intervals
        self._retry_initial = retry_initial
        self._retry_max = min(retry_max, intervals[discovery.NAME])
        self._failures = 0  # discovery failures in a row
        self._sources_started = False
        self._discovering = threading.Lock()
        self._scheduler = BackgroundScheduler(
            executors={"default": JobExecutor(max_workers=len(collection.sources) + 3)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone.utc,
        )

    def start(self) -> None:
        self._scheduler.add_job(
            self._discovery_job,
            IntervalTrigger(seconds=self._intervals[discovery.NAME]),
            id=discovery.NAME,
            name=discovery.NAME,
            next_run_time=_now(),
        )
        stale_after = self._collection.context.config.collection.stale_after.values()
        every = max(1.0, min(STALENESS_EVERY, min(stale_after, default=STALENESS_EVERY * 10) / 10))
        self._scheduler.add_job(
            self._collection.mark_stale, IntervalTrigger(seconds=every), id=STALENESS_JOB, name=STALENESS_JOB
        )
        for source in self._collection.sources:
            # Paused (no next run time) until discovery first succeeds.
            self._scheduler.add_job(
                self._collection.run_source,
                IntervalTrigger(seconds=self._intervals[source.name]),
                args=[source, self._intervals[source.name]],
                id=source.name,
                name=source.name,
                next_run_time=None,
            )
        self._scheduler.start()

    def _discovery_job(self) -> None:
        # The interval job and a retry job may come due together: one discovery at a time.
        if not self._discovering.acquire(blocking=False):
            return
        try:
            self._discover()
        finally:
            self._discovering.release()

    def _discover(self) -> None:
        succeeded = self._collection.run_discovery()
        status = self._collection.store.current.discovery
        # After a reload the store may know accounts from an earlier success: collect them on.
        if not self._sources_started and status is not None and status.last_success is not None:
            self._sources_started = True
            for source in self._collection.sources:
                self._scheduler.modify_job(source.name, next_run_time=_now())
        if succeeded:
            self._failures = 0
            return
        self._failures += 1
        delay = min(self._retry_max, self._retry_initial * 2 ** (self._failures - 1))
        fields: dict[str, Any] = {"source": discovery.NAME, "failures": self._failures, "retry_in_seconds": delay}
        if status is not None and status.hint:
            fields["hint"] = status.hint
        log.warning("discovery failed; retrying", extra=fields)
        self._scheduler.add_job(
            self._discovery_job,
            DateTrigger(_now() + timedelta(seconds=delay)),
            id=RETRY_JOB,
            name=RETRY_JOB,
            replace_existing=True,
        )

    def stop(self) -> None:
        """Stop scheduling; runs in progress are abandoned (their threads do not block exit)."""
        self._scheduler.shutdown(wait=False)


def _now() -> datetime:
    return datetime.now(timezone.utc)
