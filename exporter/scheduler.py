"""Runs the sources: discovery, then every per-account source on its own interval.

Each source is one APScheduler job (``max_instances=1``, ``coalesce=True``: a tick is skipped
while the previous run still goes on). A run fetches every account in a bounded thread pool and
swaps each account's outcome into the snapshot as soon as it is known, so a slow or failing
account neither delays nor hides the others; a failure keeps the account's last good value.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Sequence

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from exporter.aws.errors import describe_error, error_code
from exporter.snapshot import (SnapshotStore, with_accounts, with_discovery, with_features, with_result,
                               with_run_finished, without_source)
from exporter.sources import discovery, org_features
from exporter.sources.base import AccountSource, Context
from exporter.state import Account

log = logging.getLogger(__name__)


class Collection:
    """One run of discovery or of a source, recorded in the snapshot store."""

    def __init__(self, context: Context, store: SnapshotStore, sources: Sequence[AccountSource]):
        self.context = context
        self.store = store
        self.sources = tuple(sources)

    @property
    def source_names(self) -> tuple[str, ...]:
        return (discovery.NAME,) + tuple(source.name for source in self.sources)

    def run_discovery(self) -> bool:
        started = time.monotonic()
        try:
            accounts = discovery.discover(self.context.access, self.context.config)
            home = self.context.access.home_account_id
        except Exception as error:  # noqa: BLE001 - keep the accounts we had; retried next interval
            description = self._failed(discovery.NAME, None, error)
            self.store.update(with_discovery, self.context.clock(), error=description,
                              home_account_id=self._home_or_none())
            ok = False
        else:
            features_started = time.monotonic()
            features, features_error = org_features.fetch(self.context.access,
                                                          self.store.current.organization_features)
            features_duration = time.monotonic() - features_started
            now = self.context.clock()
            self.store.update(lambda snapshot: with_discovery(
                with_features(with_accounts(snapshot, accounts, home), now, features, features_error), now))
            self.store.update(with_run_finished, org_features.NAME, features_duration)
            log.info("discovered accounts", extra={"source": discovery.NAME, "accounts": len(accounts)})
            ok = True
        self.store.update(with_run_finished, discovery.NAME, time.monotonic() - started)
        return ok

    def run_source(self, source: AccountSource) -> bool:
        """Fetch ``source`` for every account it applies to; True when every account succeeded."""
        started = time.monotonic()
        snapshot = self.store.current
        config = self.context.config
        accounts = []
        for state in snapshot.accounts.values():
            if source.applies(state.account, snapshot, config):
                accounts.append(state.account)
            elif source.name in state.sources:
                self.store.update(without_source, state.account.id, source.name)
        workers = max(1, min(config.collection.concurrency, len(accounts)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=source.name) as pool:
            results = list(pool.map(lambda account: self._run_one(source, account), accounts))
        duration = time.monotonic() - started
        self.store.update(with_run_finished, source.name, duration)
        failed = results.count(False)
        log.info("source run finished", extra={"source": source.name, "accounts": len(accounts),
                                               "failed": failed, "duration_seconds": round(duration, 3)})
        return failed == 0

    def _run_one(self, source: AccountSource, account: Account) -> bool:
        state = self.store.current.accounts.get(account.id)
        previous = state.value(source.name) if state else None
        try:
            value = source.fetch(self.context, account, previous)
        except Exception as error:  # noqa: BLE001 - one account's failure stays inside that account
            description = self._failed(source.name, account, error)
            self.store.update(with_result, account.id, source.name, self.context.clock(), error=description)
            return False
        self.store.update(with_result, account.id, source.name, self.context.clock(), value=value)
        return True

    def _home_or_none(self) -> Optional[str]:
        try:
            return self.context.access.home_account_id
        except Exception:  # noqa: BLE001 - the caller is already reporting the failure
            return None

    @staticmethod
    def _failed(source: str, account: Optional[Account], error: BaseException) -> str:
        """Log the failure with account, source and AWS error code; return its description."""
        description = describe_error(error)
        fields: dict[str, Any] = {"source": source, "error_code": error_code(error), "error": description}
        if account is not None:
            fields.update(account_id=account.id, account_name=account.name)
        log.warning("collection failed", extra=fields)
        return description

    def run_once(self) -> bool:
        """Discovery, then every source once, in order: for ``--once`` and tests."""
        ok = self.run_discovery()
        for source in self.sources:
            ok = self.run_source(source) and ok
        return ok


class Scheduler:
    """The background schedule: one job per source, each run once at start."""

    def __init__(self, collection: Collection, intervals: Mapping[str, float]):
        self._collection = collection
        self._intervals = intervals
        self._discovered = threading.Event()
        self._scheduler = BackgroundScheduler(
            executors={"default": JobExecutor(max_workers=len(collection.sources) + 1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone.utc,
        )

    def start(self) -> None:
        now = datetime.now(timezone.utc)
        self._scheduler.add_job(self._discovery_job, IntervalTrigger(seconds=self._intervals[discovery.NAME]),
                                id=discovery.NAME, name=discovery.NAME, next_run_time=now)
        for source in self._collection.sources:
            self._scheduler.add_job(self._source_job, IntervalTrigger(seconds=self._intervals[source.name]),
                                    args=[source], id=source.name, name=source.name, next_run_time=now)
        self._scheduler.start()

    def _discovery_job(self) -> None:
        try:
            self._collection.run_discovery()
        finally:
            self._discovered.set()  # the first discovery gates the first run of every source

    def _source_job(self, source: AccountSource) -> None:
        self._discovered.wait()
        self._collection.run_source(source)

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
