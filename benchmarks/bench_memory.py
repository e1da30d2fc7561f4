"""Memory of the snapshot: per account, across snapshot swaps, and of console sign-in ids.

1. Steady state: tracemalloc and VmRSS around building a Snapshot of N accounts with every source
   filled (see _synthetic.py), with ``--seen`` remembered console-login ids per account and with
   none, so the share of those ids shows.
2. Swaps: ``--rounds`` full rounds of ``SnapshotStore.update(with_result, ...)`` for every account
   and source, each with a freshly built value (as a real run hands over new objects; the
   console-login ids are carried over in a new dict, as console_logins.fetch does). After each
   round: traced memory (after gc.collect), the round's peak, VmRSS. No growth round over round
   means old snapshots are freed. The time per update is printed too (tracemalloc off).
3. console_logins at the cap: one ConsoleLogins holding MAX_SEEN ids.
4. Outside the snapshot: the boto3 clients AwsAccess caches per account (no AWS call made), and
   the CPU of the per-run client root_audit makes.

    .venv/bin/python benchmarks/bench_memory.py [--sizes 1000,5000] [--rounds 10] [--seen 5]

Target: < 20 KiB per account in steady state; no growth across rounds. Prints figures only.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from dataclasses import replace
from types import MappingProxyType

from _synthetic import SOURCES, T0, account_id, build_snapshot, machine_note, rss_kib, seen_ids, sizes, source_values

from exporter.snapshot import SnapshotStore, with_result
from exporter.sources.console_logins import MAX_SEEN
from exporter.state import AccountState, ConsoleLogins, Snapshot

TARGET_KIB = 20.0


def traced_build(accounts: int, seen: int):
    """(snapshot, traced bytes it holds, VmRSS growth in KiB). Leaves tracemalloc running."""
    gc.collect()
    rss_before = rss_kib() or 0
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    snapshot = build_snapshot(accounts, seen=seen)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    return snapshot, held, (rss_kib() or 0) - rss_before


def steady_state(accounts: int, seen: int):
    """KiB per account, and the snapshot with ``seen`` ids (tracemalloc still running)."""
    print(f"\n== steady state, {accounts} accounts")
    per_account = {}
    snapshot = None
    for ids in (0, seen) if seen else (0,):
        if snapshot is not None:
            del snapshot
            tracemalloc.stop()
        snapshot, held, rss = traced_build(accounts, ids)
        per_account[ids] = held / accounts / 1024
        print(
            f"  {ids:>5} seen ids/account: traced {held / 2**20:8.1f} MiB = {per_account[ids]:6.1f} KiB/account"
            f"  (VmRSS +{rss / 1024:7.1f} MiB = {rss / accounts:6.1f} KiB/account)"
        )
    if seen:
        share = (per_account[seen] - per_account[0]) / per_account[seen]
        print(
            f"  console-login ids: {(per_account[seen] - per_account[0]) * 1024 / seen:.0f} B per id, "
            f"{share:.0%} of the per-account figure at {seen} ids"
        )
    return per_account[seen], snapshot


def next_values(index: int, round_no: int, previous: AccountState) -> dict:
    """New values for every source of one account, as a run would produce: new objects; the
    console-login ids carried over into a new dict with new times, as console_logins.fetch does."""
    values = source_values(index, round_no, seen=0)
    logins = previous.value("console_logins")
    values["console_logins"] = replace(
        values["console_logins"], seen={event_id: at + 300.0 for event_id, at in logins.seen.items()}
    )
    return values


def update_cost(store: SnapshotStore, ids: list[str], change) -> float:
    """CPU seconds per update of one source's results for every account (tracemalloc off)."""
    cpu = time.process_time()
    for key in ids:
        store.update(change, key, "account_summary", T0, value=store.current.accounts[key].value("account_summary"))
    return (time.process_time() - cpu) / len(ids)


def swaps(handed: list[Snapshot], rounds: int) -> tuple[list[dict], float]:
    """Rounds of updates on the snapshot in ``handed`` (taken out, so that nothing else holds it;
    tracemalloc running since it was built)."""
    snapshot = handed.pop()
    accounts = len(snapshot.accounts)
    print(
        f"\n== snapshot swaps, {accounts} accounts: {rounds} rounds x {accounts} accounts x {len(SOURCES)} sources "
        "of SnapshotStore.update(with_result)"
    )
    store = SnapshotStore(snapshot)
    del snapshot
    ids = [account_id(i) for i in range(accounts)]
    figures = []
    print(
        f"  {'round':>5} {'traced (gc)':>12} {'vs round 0':>11} {'round peak':>11} {'VmRSS':>10} "
        f"{'live snapshots':>15} {'round time':>11}"
    )
    for round_no in range(rounds + 1):
        started = time.perf_counter()
        tracemalloc.reset_peak()
        if round_no:
            for index, key in enumerate(ids):
                values = next_values(index, round_no, store.current.accounts[key])
                for source in SOURCES:
                    if source == "root_audit" and index == 0:
                        continue
                    store.update(with_result, key, source, T0 + round_no * 300.0, value=values[source])
                del values
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        gc.collect()
        current = tracemalloc.get_traced_memory()[0]
        live = sum(1 for obj in gc.get_objects() if type(obj) is Snapshot)
        figure = {"round": round_no, "current": current, "peak": peak, "rss": rss_kib() or 0}
        figures.append(figure)
        print(
            f"  {round_no:>5} {current / 2**20:8.1f} MiB {(current - figures[0]['current']) / 2**20:+8.2f} MiB "
            f"{peak / 2**20:7.1f} MiB {figure['rss'] / 1024:6.1f} MiB {live:>15} {elapsed:9.2f} s"
        )
    tracemalloc.stop()
    last = figures[-1]["current"] - figures[1]["current"]
    print(
        f"  growth from round 1 to round {rounds}: {last / 2**10:+.1f} KiB "
        f"({last / max(1, rounds - 1) / 2**10:+.1f} KiB/round); VmRSS {figures[-1]['rss'] - figures[1]['rss']:+d} KiB"
    )

    as_is = update_cost(store, ids, with_result)
    print(
        f"  cost of one with_result swap (tracemalloc off): {as_is * 1e6:.1f} us cpu; one source run over "
        f"{accounts} accounts spends {as_is * accounts:.2f} s cpu in swaps (under the store lock)"
    )
    return figures, as_is


def capped_logins() -> None:
    print(f"\n== console_logins at the cap: one account remembering MAX_SEEN = {MAX_SEEN:,} event ids")
    rng = random.Random(7)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    seen = seen_ids(rng, MAX_SEEN, T0)
    logins = ConsoleLogins(
        counts=MappingProxyType({}),
        newest_success=None,
        malformed=0,
        seen=seen,
        resume_from=source_values(0)["console_logins"].resume_from,
    )
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(
        f"  traced {held / 2**20:.2f} MiB = {held / MAX_SEEN:.0f} B per id; "
        f"{held / 2**10 / TARGET_KIB:.0f}x the {TARGET_KIB:.0f} KiB per-account target"
    )
    for accounts in (100, 1000, 5000):
        print(f"  if every one of {accounts} accounts were at the cap: {held * accounts / 2**30:6.2f} GiB")
    del logins


def aws_clients(accounts: int) -> tuple[float, float]:
    """RSS and CPU per account of the clients AwsAccess caches for one account (iam + cloudtrail).

    No AWS call is made: AssumeRole credentials are deferred until a first request, and the home
    account id is set directly (it would come from sts:GetCallerIdentity)."""
    import os

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    import boto3

    from exporter.aws.sessions import AwsAccess
    from exporter.config import default_config
    from exporter.state import Account

    print(f"\n== AWS clients AwsAccess caches per account (iam + cloudtrail), {accounts} accounts")
    access = AwsAccess(default_config())
    access._home_account_id = "123456789012"
    access._base_client("iam")  # the home session's models are loaded once anyway
    gc.collect()
    rss, cpu = rss_kib() or 0, time.process_time()
    for index in range(accounts):
        account = Account(id=f"{400000000000 + index:012d}", name=f"a{index}")
        with access.acting_for(account):  # member clients are shared; only the credentials are per account
            access.client(account, "iam")
            access.client(account, "cloudtrail")
    cpu = (time.process_time() - cpu) / accounts
    gc.collect()
    per_account = ((rss_kib() or 0) - rss) / accounts / 1024
    print(
        f"  VmRSS +{per_account:.2f} MiB per account, {cpu * 1e3:.0f} ms cpu per account "
        "(one client per service for every member; per account only its refreshable AssumeRole credentials)"
    )

    # root_audit makes a new boto3.Session for every account on every run (sessions.root_session_client).
    session = boto3.Session(region_name="us-east-1")
    session.client("iam")
    creds = {"aws_access_key_id": "ASIAEXAMPLE", "aws_secret_access_key": "secret", "aws_session_token": "token"}
    runs = 10
    started = time.process_time()
    for _ in range(runs):
        boto3.Session(region_name="us-east-1", **creds).client(
            "iam", region_name="us-east-1", config=access._client_config
        )
    fresh = (time.process_time() - started) / runs
    started = time.process_time()
    for _ in range(runs):
        session.client("iam", region_name="us-east-1", config=access._client_config, **creds)
    shared = (time.process_time() - started) / runs
    print(
        f"  root_audit's per-run client: new boto3.Session + client {fresh * 1e3:.0f} ms cpu; "
        f"client from one shared session with the same credentials {shared * 1e3:.0f} ms cpu"
    )
    return per_account, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=sizes, default=[1000, 5000], help="account counts (default 1000,5000)")
    parser.add_argument("--rounds", type=int, default=10, help="full rounds of updates (default 10)")
    parser.add_argument(
        "--seen",
        type=int,
        default=5,
        help="root console-login event ids remembered per account (default 5: root sign-ins within the 20-minute overlap; the cap is measured separately)",
    )
    parser.add_argument(
        "--client-accounts", type=int, default=20, help="accounts for the AWS client measure (default 20)"
    )
    args = parser.parse_args()

    print(f"bench_memory: {machine_note()}")
    summary = {}
    for accounts in args.sizes:
        per_account, snapshot = steady_state(accounts, args.seen)
        handed = [snapshot]
        del snapshot
        figures, as_is = swaps(handed, args.rounds)
        gc.collect()
        summary[accounts] = (per_account, figures, as_is)
    capped_logins()
    clients_mib, _ = aws_clients(args.client_accounts)

    print("\n== summary")
    for accounts, (per_account, figures, per_update) in summary.items():
        growth = (figures[-1]["current"] - figures[1]["current"]) / 2**10
        verdict = "holds" if per_account < TARGET_KIB else "MISSED"
        print(
            f"  {accounts} accounts: {per_account:.1f} KiB/account with {args.seen} seen ids "
            f"(target < {TARGET_KIB:.0f} KiB: {verdict}); growth rounds 1->{args.rounds}: {growth:+.1f} KiB; "
            f"with_result {per_update * 1e6:.1f} us cpu/update"
        )
    print(
        f"  AWS clients cached per account (not in the snapshot, not in the figures above): {clients_mib:.2f} MiB/account"
        f" = {clients_mib * 1024 / TARGET_KIB:.0f}x the {TARGET_KIB:.0f} KiB target"
    )
    ordered = sorted(summary)
    for small, large in zip(ordered, ordered[1:]):
        print(
            f"  with_result cost per update {large}/{small} accounts: {summary[large][2] / summary[small][2]:.2f}x "
            f"(O(1) = 1.00, O(accounts) = {large / small:.2f}); a source run costs this x accounts"
        )


if __name__ == "__main__":
    main()
