"""Soak: many cycles of collection against the fake AWS with churn and faults; is anything growing?

The fake AWS (moto plus the root-user extension) runs in a process of its own, driven through a
``multiprocessing`` manager, so that every figure printed is the exporter's alone: this process
holds only the exporter's collection path (``AwsAccess``, ``Collection``, the snapshot store) and
what it renders. Each cycle:

1. churn: ``--churn`` accounts leave the organization and as many new ones join;
2. faults, on accounts drawn at random: AssumeRole denied, throttling (once), a hang on
   GetAccountSummary past its deadline (``DeadlineExceeded``, the call abandoned), a credential
   report in progress once, a ReportExpired once, short-lived AssumeRole credentials that
   expire between cycles, a new root console sign-in, a malformed CloudTrail record;
3. one collection: discovery and every source (``Collection.run_once``), staleness marks,
   ``/metrics`` encoded and the landing page rendered from the snapshot.

After each cycle (after ``gc.collect()``): VmRSS, VmRSS after ``malloc_trim`` (heap the allocator
kept although it is free, handed back), memory traced by tracemalloc, threads, open file
descriptors, accounts with cached AWS clients. Flat lines after the first cycles mean no
leak. Prints figures only.

    .venv/bin/python benchmarks/bench_soak.py [--cycles 30] [--accounts 20] [--churn 2]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import logging
import os
import random
import statistics
import threading
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from multiprocessing.managers import BaseManager

from _synthetic import machine_note, rss_kib

from exporter.aws.sessions import AwsAccess
from exporter.collector import exposition
from exporter.config import parse_config
from fakeaws import FakeAccessKey, FakeAws, FakeRoot
from exporter.landing import render
from exporter.scheduler import Collection
from exporter.snapshot import SnapshotStore
from exporter.sources import account_sources
from exporter.sources.base import Context

HANG_SECONDS = 3.0
DEADLINE = "2s"  # account_summary: the hung account is abandoned at this deadline


class _FakeManager(BaseManager):
    pass


# The fake's calls this benchmark makes, listed: the manager's own discovery of public methods
# reads every attribute, and a property of the fake (root_id) raises before the organization exists.
FAKE_CALLS = (
    "start",
    "stop",
    "env",
    "create_organization",
    "create_account",
    "remove_account",
    "fail",
    "clear_failures",
    "set_latency",
    "clear_latency",
    "expire_report",
    "add_console_login",
    "add_raw_cloudtrail_event",
    "set_assume_role_lifetime",
    "clear_calls",
)
_FakeManager.register("FakeAws", FakeAws, exposed=FAKE_CALLS)


def _root(rng: random.Random) -> FakeRoot:
    return rng.choice(
        [
            FakeRoot.without_credentials(),
            FakeRoot.with_password("virtual"),
            FakeRoot.with_password("fido", last_used=datetime.now(timezone.utc) - timedelta(days=3)),
            FakeRoot(password=True, access_keys=[FakeAccessKey()]),
        ]
    )


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _trimmed_rss_mib() -> float:
    """VmRSS after glibc's malloc_trim(0) hands free heap pages back to the system: what stays
    is memory in use (or fragmented), not memory freed and kept by the allocator."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return (rss_kib() or 0) / 1024


class Soak:
    def __init__(self, fake, accounts: int, churn: int, seed: int):
        self.fake = fake
        self.rng = random.Random(seed)
        self.churn = churn
        self.next_id = 360_000_000_000
        self.members: list[str] = []
        fake.create_organization()
        for _ in range(accounts):
            self._join()
        config = parse_config(
            {
                "aws": {"max_attempts": 2},
                "collection": {
                    "credential_report_timeout": "10s",
                    "concurrency": 8,
                    "deadlines": {"account_summary": DEADLINE},
                },
            },
            "soak",
        )
        self.store = SnapshotStore()
        self.collection = Collection(Context(access=AwsAccess(config), config=config), self.store, account_sources())
        self.intervals = {name: config.collection.intervals[name] for name in self.collection.source_names}

    def _join(self) -> None:
        self.next_id += 1001
        account_id = f"{self.next_id:012d}"
        self.fake.create_account(
            account_id,
            f"soak-{account_id[-6:]}",
            ou=self.rng.choice(["", "Work/Prod", "Sandbox"]),
            root=_root(self.rng),
        )
        self.members.append(account_id)

    def _faults(self) -> None:
        fake, rng = self.fake, self.rng
        fake.clear_failures()
        fake.clear_latency()
        now = datetime.now(timezone.utc)
        denied, throttled, hung, slow_report, expired, signed_in, malformed = rng.sample(self.members, 7)
        fake.fail(denied, "AssumeRole", "AccessDenied")
        fake.fail(throttled, "GetAccountSummary", "Throttling", status=400, times=1)
        fake.set_latency(HANG_SECONDS, action="GetAccountSummary", account_id=hung)
        fake.fail(slow_report, "GetCredentialReport", "ReportInProgress", status=404, times=1)
        fake.expire_report(expired)
        fake.fail(expired, "GetCredentialReport", "ReportExpired", status=410, times=1)
        fake.add_console_login(
            signed_in,
            time=now - timedelta(minutes=rng.randint(1, 30)),
            source_ip=f"203.0.113.{rng.randint(1, 254)}",
            success=rng.random() < 0.7,
        )
        fake.add_raw_cloudtrail_event(malformed, time=now - timedelta(minutes=5), cloudtrail_event="{not json")
        fake.set_assume_role_lifetime(rng.choice([None, 2.0]))  # some cycles: credentials expire before the next

    def cycle(self) -> float:
        started = time.monotonic()
        for _ in range(self.churn):
            leaving = self.members.pop(self.rng.randrange(len(self.members)))
            self.fake.remove_account(leaving)
            self._join()
        self._faults()
        self.collection.run_once()
        self.collection.mark_stale()
        snapshot = self.store.current
        exposition(snapshot, self.intervals)
        render(snapshot, intervals=self.intervals)
        self.fake.clear_calls()
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--churn", type=int, default=2, help="accounts leaving and joining per cycle")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    logging.disable(logging.WARNING)  # the injected faults log a warning each; the figures are the output
    manager = _FakeManager()
    manager.start()
    fake = manager.FakeAws()
    fake.start()
    os.environ.update(fake.env())
    try:
        soak = Soak(fake, args.accounts, args.churn, args.seed)
        print(
            f"soak: {args.cycles} cycles, {args.accounts} accounts, {args.churn} leaving and joining per cycle; "
            f"{machine_note()}"
        )
        print(
            f"{'cycle':>5} {'seconds':>8} {'accounts':>8} {'failing':>7} {'errors':>6} {'VmRSS MiB':>10} "
            f"{'trimmed':>8} {'traced MiB':>10} {'threads':>7} {'fds':>4} {'clients':>7}"
        )
        tracemalloc.start()
        rows = []
        for number in range(1, args.cycles + 1):
            seconds = soak.cycle()
            gc.collect()
            row = (
                seconds,
                len(soak.store.current.accounts),
                (rss_kib() or 0) / 1024,
                tracemalloc.get_traced_memory()[0] / 2**20,
                threading.active_count(),
                _open_fds(),
                len(soak.collection.context.access.cached_account_ids()),
                _trimmed_rss_mib(),
            )
            rows.append(row)
            states = soak.store.current.accounts.values()
            failing = sum(not status.success for state in states for status in state.sources.values())
            errors = sum(sum(state.errors.values()) for state in states)
            print(
                f"{number:>5} {row[0]:>8.1f} {row[1]:>8} {failing:>7} {errors:>6} {row[2]:>10.1f} {row[7]:>8.1f} "
                f"{row[3]:>10.2f} {row[4]:>7} {row[5]:>4} {row[6]:>7}"
            )
        # Warm-up: the first cycles load service models and fill caches; compare what follows.
        half = max(1, len(rows) // 2)
        early, late = rows[2:half] or rows[:1], rows[half:]
        print("\nmedian of the first half (after 2 warm-up cycles) -> median of the second half:")
        for index, name, unit in (
            (2, "VmRSS", "MiB"),
            (7, "trimmed", "MiB"),
            (3, "traced", "MiB"),
            (4, "threads", ""),
            (5, "fds", ""),
            (0, "cycle", "s"),
        ):
            a, b = statistics.median(r[index] for r in early), statistics.median(r[index] for r in late)
            print(f"  {name:>8}: {a:8.2f} -> {b:8.2f} {unit}  ({b - a:+.2f})")
    finally:
        tracemalloc.stop()
        fake.stop()
        manager.shutdown()


if __name__ == "__main__":
    main()
