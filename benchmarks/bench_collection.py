"""The real collection path against a fake AWS organization, at several concurrency settings.

Starts a FakeAws (moto server, loopback HTTP, same process) with N member accounts whose roots vary
(no credentials, password with virtual / FIDO / hardware MFA, password without MFA, active keys,
signing certificates, console sign-ins), organization features on, and runs the exporter's own
``Collection.run_once()`` (exporter/scheduler.py) with ``accounts.root_audit: on`` for every
``--concurrency`` setting, ``--repeats`` times each; the median run is reported, in total and
per source (``snapshot.run_durations``). AWS calls per account come
from ``fake.calls``.

Before the settings, the first run of a fresh exporter (at the largest setting) is timed on its
own: it makes every boto3 client, fetches AssumeRole credentials, and the fake generates every
credential report (it answers STARTED first, so the exporter sleeps one 1 s poll per account);
afterwards reports are cached for four hours, as in AWS. Every setting then reuses that
exporter's AwsAccess (as a long-running exporter does) with a fresh SnapshotStore.

The fake runs in this process, so it competes with the exporter for the GIL and the 2 cores:
the speedups understate what concurrency gains against real, latency-bound AWS. ``--latency-ms``
makes the fake wait that long before answering each request of the timed runs
(``FakeAws.set_latency``; the wait is in the request's server thread and holds no lock, so
concurrent requests wait side by side, as they would on the network).

    .venv/bin/python benchmarks/bench_collection.py [--accounts 100] [--concurrency 1,4,8,16]
                                                   [--repeats 3] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from _synthetic import machine_note, median, rss_kib, sizes

from exporter.aws.sessions import AwsAccess
from exporter.config import parse_config
from fakeaws import FakeAccessKey, FakeAws, FakeCertificate, FakeRoot
from exporter.scheduler import Collection
from exporter.snapshot import SnapshotStore
from exporter.sources import account_sources
from exporter.sources.base import Context

SOURCE_ORDER = ("discovery", "account_summary", "credential_report", "mfa_devices", "console_logins", "root_audit")


def varied_root(index: int, now: datetime) -> FakeRoot:
    kind = index % 7
    created = now - timedelta(days=1000)
    if kind == 0:
        return FakeRoot.without_credentials()
    if kind == 1:
        return FakeRoot.with_password("virtual", last_used=now - timedelta(days=40))
    if kind == 2:
        return FakeRoot.with_password("fido")
    if kind == 3:
        return FakeRoot.with_password("hardware", "virtual")
    if kind == 4:
        root = FakeRoot.with_password()
        root.access_keys = [
            FakeAccessKey(
                created=created,
                last_used=now - timedelta(hours=3),
                last_used_service="s3",
                last_used_region="us-east-1",
            )
        ]
        return root
    if kind == 5:
        root = FakeRoot.with_password("hardware")
        root.certificates = [FakeCertificate(uploaded=created)]
        root.access_keys = [FakeAccessKey(active=False, created=created), FakeAccessKey(created=created)]
        return root
    return FakeRoot.with_password("virtual", last_used=now - timedelta(hours=2))


def build_organization(fake: FakeAws, accounts: int) -> list[str]:
    now = datetime.now(timezone.utc)
    fake.create_organization()
    fake.set_organization_features(root_credentials_management=True, root_sessions=True)
    ous = ("", "Security", "Workloads/Prod", "Workloads/Dev", "Sandbox")
    ids = []
    for index in range(1, accounts + 1):
        account_id = f"{300000000000 + index * 7919:012d}"
        fake.create_account(account_id, f"member-{index:05d}", ou=ous[index % len(ous)], root=varied_root(index, now))
        if index % 7 == 6:  # recent root and IAM-user console sign-ins
            for minutes, success, user in ((50, True, None), (45, False, None), (30, True, "alice")):
                fake.add_console_login(
                    account_id,
                    time=now - timedelta(minutes=minutes),
                    success=success,
                    mfa_used=success,
                    user_type="IAMUser" if user else "Root",
                    user_name=user,
                )
        ids.append(account_id)
    return ids


def bench_config(concurrency: int):
    return parse_config(
        {
            "accounts": {"root_audit": "on"},
            "collection": {"concurrency": concurrency, "credential_report_timeout": "30s"},
        },
        "bench",
    )


def new_collection(concurrency: int, access: AwsAccess) -> Collection:
    """A Collection with a fresh snapshot store, on ``access`` (its clients already made)."""
    return Collection(Context(access=access, config=bench_config(concurrency)), SnapshotStore(), account_sources())


def timed_run(collection: Collection) -> tuple[float, bool, dict[str, float]]:
    started = time.perf_counter()
    ok = collection.run_once()
    elapsed = time.perf_counter() - started
    return elapsed, ok, dict(collection.store.current.run_durations)


def measure(fake: FakeAws, concurrency: int, repeats: int, access: AwsAccess) -> dict:
    """``repeats`` run_once() with a fresh snapshot store on the shared, warm ``access``."""
    collection = new_collection(concurrency, access)
    runs, per_source, calls, failures, first_calls = [], {}, Counter(), 0, 0
    cpu = time.process_time()
    for repeat in range(repeats):
        fake.clear_calls()
        elapsed, ok, durations = timed_run(collection)
        failures += not ok
        runs.append(elapsed)
        for source, seconds in durations.items():
            per_source.setdefault(source, []).append(seconds)
        calls = Counter(f"{call.service}:{call.action}" for call in fake.calls)
        if repeat == 0:
            first_calls = sum(calls.values())
    cpu = (time.process_time() - cpu) / repeats
    snapshot = collection.store.current
    failed = sorted(
        {
            (source, status.error)
            for state in snapshot.accounts.values()
            for source, status in state.sources.items()
            if not status.success
        }
    )
    return {
        "concurrency": concurrency,
        "first": runs[0],
        "first_calls": first_calls,
        "runs": runs,
        "cpu": cpu,
        "per_source": per_source,
        "calls": calls,
        "failures": failures,
        "failed": failed,
        "accounts": len(snapshot.accounts),
    }


def report(result: dict, baseline: dict) -> None:
    runs = result["runs"]
    print(
        f"\n== concurrency {result['concurrency']}: run_once median {median(runs):.2f} s "
        f"(min {min(runs):.2f} / max {max(runs):.2f}), cpu {result['cpu']:.2f} s/run "
        f"({result['cpu'] / median(runs):.0%} of one core), speedup vs concurrency "
        f"{baseline['concurrency']} {median(baseline['runs']) / median(runs):.2f}x"
    )
    for source in SOURCE_ORDER:
        times = result["per_source"].get(source)
        if times:
            ratio = median(baseline["per_source"][source]) / median(times)
            print(
                f"  {source:<18} median {median(times):7.3f} s  = {median(times) / result['accounts'] * 1e3:6.1f} ms/account"
                f"  speedup {ratio:5.2f}x"
            )
    if result["failures"] or result["failed"]:
        print(f"  runs not fully successful: {result['failures']}; failing: {result['failed'][:5]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100, help="member accounts (default 100)")
    parser.add_argument("--concurrency", type=sizes, default=[1, 4, 8, 16], help="settings (default 1,4,8,16)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per setting (default 3)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="sleep added to every fake AWS request")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the exporter logs every run; failures are summed up below

    fake = FakeAws()
    fake.start()
    try:
        os.environ.update(fake.env())
        rss_start = rss_kib() or 0
        build_started = time.perf_counter()
        build_organization(fake, args.accounts)
        print(
            f"bench_collection: {machine_note()}; {args.accounts} members + management account, "
            f"{args.repeats} timed runs per setting, latency {args.latency_ms:g} ms/request; "
            f"fake built in {time.perf_counter() - build_started:.1f} s"
        )
        # One AwsAccess for every setting, as in a long-running exporter: clients and AssumeRole
        # credentials are made once per account (max_pool_connections fits the largest setting).
        access = AwsAccess(bench_config(max(args.concurrency)))
        prime = new_collection(max(args.concurrency), access)
        rss_before = rss_kib() or 0
        fake.clear_calls()
        elapsed, ok, durations = timed_run(prime)
        first_calls = len(fake.calls)
        print(
            f"\n== first run of a fresh exporter, concurrency {max(args.concurrency)}: {elapsed:.2f} s, "
            f"{first_calls} AWS calls; VmRSS +{((rss_kib() or 0) - rss_before) / 1024:.0f} MiB "
            f"= {((rss_kib() or 0) - rss_before) / 1024 / len(prime.store.current.accounts):.2f} MiB/account "
            "(clients, sessions; includes the fake's own growth)"
        )
        print(
            "   (makes every client, fetches AssumeRole credentials; the fake generates each credential report,"
            " so each account waits one 1 s poll)"
        )
        for source in SOURCE_ORDER:
            if source in durations:
                print(
                    f"  {source:<18} {durations[source]:7.3f} s"
                    f"  = {durations[source] / len(prime.store.current.accounts) * 1e3:6.1f} ms/account"
                )
        del prime
        if args.latency_ms > 0:
            fake.set_latency(args.latency_ms / 1000)  # every request of every account
        results = []
        for concurrency in args.concurrency:
            results.append(measure(fake, concurrency, args.repeats, access))
            report(results[-1], results[0])
        rss_end = rss_kib() or 0
    finally:
        fake.stop()

    accounts = results[0]["accounts"]
    calls = results[-1]["calls"]  # of its last run: steady state
    total = sum(calls.values())
    print(
        f"\n== AWS calls per run_once (steady state, last run at concurrency {results[-1]['concurrency']}): "
        f"{total} calls = {total / accounts:.1f} per account ({accounts} accounts incl. management)"
    )
    for action, count in calls.most_common():
        print(f"  {action:<45} {count:6d}  = {count / accounts:5.2f}/account")
    print(
        f"  first run of a fresh exporter: {first_calls} calls = {first_calls / accounts:.1f} per account "
        "(adds sts:AssumeRole once per account, and the report generation polls)"
    )
    print(
        f"\nprocess VmRSS grew {(rss_end - rss_start) / 1024:.0f} MiB over the benchmark "
        f"(one exporter's AwsAccess + the fake) = {(rss_end - rss_start) / accounts / 1024:.2f} MiB per account"
    )

    print("\n== summary (speedup = median run_once at concurrency 1 / at c)")
    for result in results:
        print(
            f"  concurrency {result['concurrency']:>3}: run_once {median(result['runs']):7.2f} s, "
            f"{median(result['runs']) / accounts * 1e3:6.1f} ms/account, speedup "
            f"{median(results[0]['runs']) / median(result['runs']):5.2f}x, cpu {result['cpu']:.2f} s/run"
        )
    print(
        "  note: the fake AWS answers in this process (GIL, 2 shared cores): these ratios understate the gain "
        "against real AWS, where each call mostly waits on the network."
    )


if __name__ == "__main__":
    main()
