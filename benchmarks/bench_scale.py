"""Organization scale (issue 10): full cycle against a reference client, exporter CPU, resident
memory at 5,000 accounts, AWS calls per account per hour, discovery of 5,000 accounts.

The fake AWS runs in a process of its own (``_fake_server.py``), so the CPU and memory measured
are the exporter's alone. Each figure is printed as a ``#row`` line (``_rows.py``) for
``make bench``; the details above it. Prints figures only, never asserts.

    .venv/bin/python benchmarks/bench_scale.py cycle     [--accounts 1000] [--latency-ms 50] [--concurrency 32] [--repeats 3]
    .venv/bin/python benchmarks/bench_scale.py memory    [--accounts 5000] [--ous 100] [--samples 5] [--discovery-repeats 3]
    .venv/bin/python benchmarks/bench_scale.py all       (both, defaults)

``cycle``: the exporter's ``Collection.run_once()`` (``accounts.root_audit: off``) and a
reference client (below: plain boto3 making the same calls at the same concurrency, nothing
else), alternately, ``--repeats`` times each, medians; the calls both made (``FakeAws.calls``)
are compared by operation. Then, on the same fake without latency, the calls of one steady-state
run of every source, turned into calls per account per hour at the default intervals.

``memory``: the real exporter (``python -m exporter``) as a subprocess against a fake of
5,000 accounts in 100 OUs; VmRSS once ``/-/ready`` answers 200 (every source has run over every
account) and while ``/metrics`` is scraped; then discovery of those accounts at 50 ms per call.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _fake_server import FakeServer, member_id, use_fake  # noqa: E402
from _rows import row  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANAGEMENT = "123456789012"
CYCLE_RATIO_TARGET = 1.25
CPU_TARGET_MS = 40.0
RSS_TARGET_MB = 200.0
CALLS_TARGET = 40.0
DISCOVERY_TARGET_S = 30.0


def machine() -> str:
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} CPUs, load {load:.1f}, Python {sys.version.split()[0]}"


def median(values: list[float]) -> float:
    return statistics.median(values)


# ----------------------------------------------------------------------------------- the exporter


def exporter_config(concurrency: int, root_audit: str = "off") -> Any:
    from exporter.config import parse_config

    return parse_config(
        {
            "accounts": {"root_audit": root_audit},
            "collection": {"concurrency": concurrency, "credential_report_timeout": "60s"},
        },
        "bench",
    )


def new_collection(config: Any) -> Any:
    from exporter.aws.sessions import AwsAccess
    from exporter.scheduler import Collection
    from exporter.snapshot import SnapshotStore
    from exporter.sources import account_sources
    from exporter.sources.base import Context

    return Collection(Context(access=AwsAccess(config), config=config), SnapshotStore(), account_sources())


def exporter_cycle(config: Any) -> tuple[float, float, bool]:
    """(seconds, CPU seconds of this process, success) of one ``run_once`` of a fresh exporter."""
    collection = new_collection(config)
    cpu, started = time.process_time(), time.perf_counter()
    ok = collection.run_once()
    return time.perf_counter() - started, time.process_time() - cpu, ok


# ----------------------------------------------------------------------------------- the reference


def reference_cycle(concurrency: int, lookback: timedelta) -> tuple[float, float]:
    """Plain boto3, the same calls as the exporter at the same concurrency, nothing else:
    discovery (the same OU walk), the organization features, ListRoots (root_policies: are SCPs
    enabled), then per account AssumeRole, GetAccountSummary, the credential report (Generate
    until COMPLETE, Get), the virtual MFA listing where the summary says MFA, one LookupEvents
    page, DescribeTrails (trail_status). No parsing, no snapshot."""
    import boto3

    cpu, started = time.process_time(), time.perf_counter()
    session = boto3.Session(region_name="us-east-1")
    local = threading.local()

    def thread_session() -> Any:
        """A boto3 Session is not thread-safe: one per worker thread, made once."""
        if not hasattr(local, "session"):
            local.session = boto3.Session(region_name="us-east-1")
        return local.session

    sts, org, iam = session.client("sts"), session.client("organizations"), session.client("iam")
    home = sts.get_caller_identity()["Account"]

    def pages(operation: str, key: str, **params: Any) -> list[dict]:
        out: list[dict] = []
        for page in org.get_paginator(operation).paginate(PaginationConfig={"PageSize": 20}, **params):
            out.extend(page[key])
        return out

    accounts: list[dict] = []
    with ThreadPoolExecutor(max_workers=min(8, concurrency)) as pool:
        parents = [root["Id"] for root in pages("list_roots", "Roots")]
        while parents:
            ous = pool.map(
                lambda p: pages("list_organizational_units_for_parent", "OrganizationalUnits", ParentId=p), parents
            )
            found = pool.map(lambda p: pages("list_accounts_for_parent", "Accounts", ParentId=p), parents)
            parents = [ou["Id"] for batch in ous for ou in batch]
            accounts.extend(account for batch in found for account in batch if account["State"] == "ACTIVE")
    iam.list_organizations_features()
    org.list_roots()  # root_policies: the fake has SCPs off, so nothing more

    def one(account_id: str) -> None:
        if account_id == home:
            member_iam, trail = iam, thread_session().client("cloudtrail")
        else:
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
                RoleSessionName="aws-root-exporter",
                DurationSeconds=3600,
            )["Credentials"]
            keys = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
            member_iam, trail = thread_session().client("iam", **keys), thread_session().client("cloudtrail", **keys)
        summary = member_iam.get_account_summary()["SummaryMap"]
        while member_iam.generate_credential_report()["State"] != "COMPLETE":
            time.sleep(1)
        member_iam.get_credential_report()
        if summary["AccountMFAEnabled"]:
            member_iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")
        now = datetime.now(timezone.utc)
        trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
            StartTime=now - lookback,
            EndTime=now,
            MaxResults=50,
        )
        trail.describe_trails(includeShadowTrails=True)  # no trail in the fake: no GetTrailStatus

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, [account["Id"] for account in accounts]))
    return time.perf_counter() - started, time.process_time() - cpu


# ----------------------------------------------------------------------------------- calls


def by_operation(calls: list) -> Counter:
    return Counter(f"{call.service}:{call.action}" for call in calls)


def calls_per_hour(server: FakeServer, root_audit: str, sample: int) -> tuple[dict[str, float], float]:
    """Calls per account per hour by operation at the default intervals: one steady-state run of
    each source (after a first full cycle), scaled by 3600 / its interval; over the management
    account and the first ``sample`` members (discovery still walks every OU)."""
    from exporter.aws.sessions import ASSUME_ROLE_SECONDS
    from exporter.config import default_config, parse_config
    from exporter.sources.credential_report import REPORT_LIFETIME

    intervals = default_config().collection.intervals
    config = parse_config(
        {
            "accounts": {
                "root_audit": root_audit,
                "include": [MANAGEMENT] + [member_id(i) for i in range(1, sample + 1)],
            },
            "collection": {"concurrency": 32, "credential_report_timeout": "60s"},
        },
        "bench",
    )
    collection = new_collection(config)
    server.clear_calls()
    collection.run_once()
    first = server.calls()
    accounts = len(collection.store.current.accounts)
    hourly: Counter = Counter()
    # AssumeRole: botocore refreshes a 1 h session 15 min before it expires.
    for operation, count in by_operation(first).items():
        if operation == "sts:AssumeRole":
            hourly[operation] += count / accounts * 3600 / (ASSUME_ROLE_SECONDS - 15 * 60)
    # The credential report is fetched once its last one is four hours old: the first run's calls.
    report_calls = [c for c in first if c.action in ("GenerateCredentialReport", "GetCredentialReport")]
    for operation, count in by_operation(report_calls).items():
        hourly[operation] += count / accounts * 3600 / max(intervals["credential_report"], REPORT_LIFETIME)
    for source in collection.sources:
        if source.name == "credential_report":
            continue
        server.clear_calls()
        collection.run_source(source)
        for operation, count in by_operation(server.calls()).items():
            if operation == "sts:AssumeRole":
                continue
            hourly[operation] += count / accounts * 3600 / intervals[source.name]
    server.clear_calls()
    collection.run_discovery()
    for operation, count in by_operation(server.calls()).items():
        hourly[operation] += count / accounts * 3600 / intervals["discovery"]
    return dict(hourly), sum(hourly.values())


# ----------------------------------------------------------------------------------- commands


def cycle(args: argparse.Namespace) -> None:
    from exporter.config import default_config

    print(
        f"== full cycle: {args.accounts} members + management, {args.latency_ms:g} ms per call, "
        f"concurrency {args.concurrency}, root audit off ({machine()})",
        flush=True,
    )
    with FakeServer(args.accounts, ous=10) as server:
        use_fake(server)
        print(f"  fake AWS built in {server.build_seconds:.1f} s (pid {server.pid})", flush=True)
        lookback = timedelta(seconds=default_config().collection.console_login_lookback)
        exporter_cycle(exporter_config(args.concurrency))  # warm-up: every credential report generated once
        server.set_latency(args.latency_ms / 1000)
        exporter_runs, reference_runs, cpu_runs, reference_cpu = [], [], [], []
        exporter_calls: Counter = Counter()
        reference_calls: Counter = Counter()
        fake_cpu: dict[str, list[float]] = {"exporter": [], "reference": []}
        for repeat in range(args.repeats):
            server.clear_calls()
            before = cpu_seconds(server.pid)
            seconds, cpu, ok = exporter_cycle(exporter_config(args.concurrency))
            fake_cpu["exporter"].append(cpu_seconds(server.pid) - before)
            exporter_calls = by_operation(server.calls())
            server.clear_calls()
            before = cpu_seconds(server.pid)
            ref_seconds, ref_cpu = reference_cycle(args.concurrency, lookback)
            fake_cpu["reference"].append(cpu_seconds(server.pid) - before)
            reference_calls = by_operation(server.calls())
            exporter_runs.append(seconds)
            reference_runs.append(ref_seconds)
            cpu_runs.append(cpu)
            reference_cpu.append(ref_cpu)
            print(
                f"  run {repeat + 1}: exporter {seconds:6.1f} s ({'ok' if ok else 'FAILED'}), cpu {cpu:5.1f} s; "
                f"reference {ref_seconds:6.1f} s, cpu {ref_cpu:5.1f} s; ratio {seconds / ref_seconds:.2f}",
                flush=True,
            )
        accounts = args.accounts + 1
        print(
            f"  the fake's own CPU per cycle (median): {median(fake_cpu['exporter']):.1f} s under the exporter, "
            f"{median(fake_cpu['reference']):.1f} s under the reference; the latency floor "
            f"(calls x latency / concurrency) is {sum(exporter_calls.values()) * args.latency_ms / 1000 / args.concurrency:.1f} s"
        )
        print(f"  calls of one cycle by operation (exporter / reference), {accounts} accounts:")
        for operation in sorted(set(exporter_calls) | set(reference_calls)):
            mark = "" if exporter_calls[operation] == reference_calls[operation] else "   <- differs"
            print(f"    {operation:45} {exporter_calls[operation]:7} {reference_calls[operation]:7}{mark}")
        same = exporter_calls == reference_calls
        ratio = median(exporter_runs) / median(reference_runs)
        cpu_ms = median(cpu_runs) / accounts * 1000
        row(
            f"full cycle, {args.accounts:,} accounts, {args.latency_ms:g} ms/call, concurrency {args.concurrency}",
            f"{ratio:.2f}x ({median(exporter_runs):.1f} s vs reference {median(reference_runs):.1f} s; "
            f"{'same calls' if same else 'CALLS DIFFER'})",
            f"<= {CYCLE_RATIO_TARGET}x the reference",
            ratio <= CYCLE_RATIO_TARGET and same,
            f"median of {args.repeats}",
        )
        row(
            "exporter CPU (user + sys) per account per full cycle",
            f"{cpu_ms:.1f} ms",
            f"<= {CPU_TARGET_MS:g} ms",
            cpu_ms <= CPU_TARGET_MS,
            f"median of {args.repeats}; the fake runs in another process; reference client "
            f"{median(reference_cpu) / accounts * 1000:.1f} ms",
        )

        server.set_latency(0)
        print("  AWS calls per account per hour at the default intervals (steady state):")
        sample = min(args.accounts, 200)
        tables = {"off": calls_per_hour(server, "off", sample)}
        server.set_organization_features(True)
        tables["on"] = calls_per_hour(server, "auto", sample)  # auto: on, as centralized root access is enabled
        server.set_organization_features(False)
        operations = sorted(set(tables["off"][0]) | set(tables["on"][0]))
        print(f"    {'operation':45} {'root audit off':>15} {'root audit on':>15}")
        for operation in operations:
            print(
                f"    {operation:45} {tables['off'][0].get(operation, 0):15.2f} {tables['on'][0].get(operation, 0):15.2f}"
            )
        print(f"    {'total':45} {tables['off'][1]:15.2f} {tables['on'][1]:15.2f}")
        # Half the fake's roots have no MFA, so their virtual MFA listing is skipped; where every
        # root has MFA, the listing runs every 5 minutes for each: the worst case.
        everywhere = tables["off"][1] - tables["off"][0].get("iam:ListVirtualMFADevices", 0) + 3600 / 300
        print(f"    with MFA on every root (the listing for every account): {everywhere:.2f} (root audit off)")
        worst = max(everywhere, tables["on"][1])
        row(
            "AWS calls per account per hour, default intervals",
            f"{tables['off'][1]:.1f} (root audit off; {everywhere:.1f} if every root has MFA), "
            f"{tables['on'][1]:.1f} (root audit on)",
            f"<= {CALLS_TARGET:g}",
            worst <= CALLS_TARGET,
            f"table by operation in the bench_scale output; measured over {sample + 1} accounts",
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(args: argparse.Namespace) -> None:
    print(
        f"== resident memory: {args.accounts} members in {args.ous} OUs, the exporter as a subprocess ({machine()})",
        flush=True,
    )
    with FakeServer(args.accounts, ous=args.ous) as server:
        print(f"  fake AWS built in {server.build_seconds:.1f} s (pid {server.pid})", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "config.yaml")
            with open(config, "w") as out:
                out.write("collection:\n  concurrency: 32\n  credential_report_timeout: 60s\n")
            port = free_port()
            env = {**os.environ, **server.env}
            started = time.monotonic()
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "exporter",
                    "--config.file",
                    config,
                    "--web.listen-address",
                    f"127.0.0.1:{port}",
                    "--log.level",
                    "warn",
                ],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                while http_status(f"{base}/-/ready") != 200:
                    if process.poll() is not None:
                        raise SystemExit(f"the exporter exited with {process.returncode}")
                    if time.monotonic() - started > args.timeout:
                        raise SystemExit(f"the exporter was not ready after {args.timeout} s")
                    time.sleep(1)
                cycle_seconds = time.monotonic() - started
                cpu = cpu_seconds(process.pid)
                samples = [rss_mb(process.pid)]
                for _ in range(args.samples - 1):
                    status = http_status(f"{base}/metrics")
                    samples.append(rss_mb(process.pid))
                print(
                    f"  first full cycle (start to ready) {cycle_seconds:.0f} s, exporter CPU {cpu:.0f} s = "
                    f"{cpu / (args.accounts + 1) * 1000:.1f} ms per account; last scrape HTTP {status}"
                )
                print(
                    f"  VmRSS after the cycle and during {args.samples - 1} scrapes: "
                    + ", ".join(f"{s:.0f}" for s in samples)
                    + " MB"
                )
            finally:
                process.terminate()
                process.wait(30)
        value = median(samples)
        row(
            f"resident memory, {args.accounts:,} accounts, after a full cycle, serving",
            f"{value:.0f} MB",
            f"< {RSS_TARGET_MB:g} MB",
            value < RSS_TARGET_MB,
            f"median of {args.samples} VmRSS samples of one exporter process (ready, then scraped)",
        )

        use_fake(server)
        server.set_latency(0.05)
        from exporter.aws.sessions import AwsAccess
        from exporter.sources import discovery

        config = exporter_config(32)
        runs, found = [], 0
        for _ in range(args.discovery_repeats):
            access = AwsAccess(config)
            access.home_account_id  # noqa: B018 - GetCallerIdentity is not discovery
            server.clear_calls()
            started = time.perf_counter()
            found = len(discovery.discover(access, config))
            runs.append(time.perf_counter() - started)
        calls = by_operation(server.calls())
        print(
            f"  discovery: {found} accounts in {median(runs):.1f} s (runs: "
            + ", ".join(f"{r:.1f}" for r in runs)
            + f"); calls {dict(calls)}"
        )
        row(
            f"discovery of {args.accounts:,} accounts in {args.ous} OUs at 50 ms/call",
            f"{median(runs):.1f} s",
            f"< {DISCOVERY_TARGET_S:g} s",
            median(runs) < DISCOVERY_TARGET_S,
            f"median of {args.discovery_repeats}; {sum(calls.values())} calls",
        )


def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # the exporter's per-run log lines are not figures
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("cycle", "all"):
        sub = commands.add_parser(name)
        sub.add_argument("--accounts", type=int, default=1000)
        sub.add_argument("--latency-ms", type=float, default=50)
        sub.add_argument("--concurrency", type=int, default=32)
        sub.add_argument("--repeats", type=int, default=3)
        if name == "all":
            sub.add_argument("--memory-accounts", type=int, default=5000)
    for name in ("memory", "all"):
        sub = commands.choices[name] if name in commands.choices else commands.add_parser(name)
        if name == "memory":
            sub.add_argument("--accounts", type=int, default=5000)
        sub.add_argument("--ous", type=int, default=100)
        sub.add_argument("--samples", type=int, default=5)
        sub.add_argument("--discovery-repeats", type=int, default=3)
        sub.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    if args.command in ("cycle", "all"):
        cycle(args)
    if args.command == "all":
        args.accounts = args.memory_accounts
    if args.command in ("memory", "all"):
        memory(args)


if __name__ == "__main__":
    main()
