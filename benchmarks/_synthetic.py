"""Synthetic, realistic snapshots for the benchmarks: the real dataclasses of exporter/state.py.

Every account gets every source filled, with values shaped like what the sources parse from AWS:
a credential report with key and certificate dates, a root audit with MFA devices, console
sign-ins with counts, a newest success and a few hundred remembered event ids. Values vary by
account (seeded, so runs are comparable), so label sets and code paths vary as in a real
organization. Also small helpers shared by the benchmark scripts (medians, formatting).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import uuid
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Callable, Optional

# Runnable as `.venv/bin/python benchmarks/<name>.py` from the repository root or elsewhere.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from exporter.state import (
    Account,
    AccountState,
    AccountSummary,
    ConsoleLoginEvent,  # noqa: E402
    ConsoleLogins,
    CredentialReport,
    MfaDevice,
    OrganizationFeatures,
    ReportAccessKey,
    ReportCertificate,
    RootAudit,
    Snapshot,
    SourceStatus,
    VirtualMfa,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
T0 = NOW.timestamp()
SOURCES = ("account_summary", "credential_report", "mfa_devices", "console_logins", "root_audit")
INTERVALS = {
    "discovery": 3600.0,
    "account_summary": 300.0,
    "credential_report": 3600.0,
    "mfa_devices": 300.0,
    "console_logins": 300.0,
    "root_audit": 900.0,
}
OUS = (
    "Root",
    "Root/Security",
    "Root/Workloads/Prod",
    "Root/Workloads/Dev",
    "Root/Infrastructure",
    "Root/Sandbox",
    "Root/Workloads/Prod/Payments",
    "Root/Suspended",
)
HOME_ID = "123456789012"


def account_id(index: int) -> str:
    return HOME_ID if index == 0 else f"{200000000000 + index * 7919:012d}"


def make_account(index: int) -> Account:
    rng = random.Random(index)
    ou = OUS[0] if index == 0 else rng.choice(OUS)
    depth = ou.count("/")
    return Account(
        id=account_id(index),
        name="management" if index == 0 else f"team-{rng.choice(['pay', 'web', 'data', 'ml', 'ops'])}-{index:05d}",
        email=f"aws+acct-{index:05d}@example.com",
        ou_path=ou,
        ou_ids=("r-ab12",) + tuple(f"ou-ab12-{rng.getrandbits(32):08x}" for _ in range(depth)),
        state="SUSPENDED" if ou == "Root/Suspended" else "ACTIVE",
        management=index == 0,
    )


def _ok(value: Any, at: float) -> SourceStatus:
    return SourceStatus(value=value, success=True, last_success=at, last_attempt=at)


def _failed(value: Any, last_success: float, at: float) -> SourceStatus:
    return SourceStatus(
        value=value,
        success=False,
        last_success=last_success,
        last_attempt=at,
        error="Throttling: Rate exceeded (GetAccountSummary)",
    )


def seen_ids(rng: random.Random, count: int, newest: float) -> dict[str, float]:
    """``count`` CloudTrail event ids (UUID strings, as AWS gives them) within 20 minutes."""
    ids = {}
    for _ in range(count):
        digits = f"{rng.getrandbits(128):032x}"
        event_id = f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-a{digits[17:20]}-{digits[20:]}"
        ids[event_id] = newest - rng.uniform(0, 1200)
    return ids


def source_values(index: int, round_no: int = 0, seen: int = 5) -> dict[str, Any]:
    """One account's value for every source; ``round_no`` varies times like a later run would."""
    rng = random.Random(index * 1000 + round_no)
    at = T0 + round_no * 300.0
    kind = index % 6  # a spread of root situations
    password = kind not in (2, 5)
    mfa_kinds = [(), ("hardware",), (), ("virtual",), ("virtual", "fido"), ()][kind]
    keys = [(True, True), (False, False), (False, False), (True, False), (False, False), (False, False)][kind]
    report = CredentialReport(
        generated=NOW - timedelta(hours=rng.uniform(0, 4)),
        password_enabled=None,
        password_last_used=NOW - timedelta(days=rng.uniform(1, 400)) if password else None,
        mfa_active=bool(mfa_kinds),
        access_keys=tuple(
            ReportAccessKey(
                active,
                NOW - timedelta(days=rng.uniform(30, 900)),
                NOW - timedelta(hours=rng.uniform(1, 500)) if used else None,
            )
            if (active or used or kind == 3)
            else ReportAccessKey(False, None, None)
            for active, used in (keys, (False, False))
        ),
        certificates=(
            ReportCertificate(kind == 1, NOW - timedelta(days=200) if kind == 1 else None),
            ReportCertificate(False, None),
        ),
    )
    summary = AccountSummary(
        mfa_enabled=bool(mfa_kinds),
        access_keys_present=int(keys[0]),
        signing_certificates_present=int(kind == 1),
        password_present=password,
    )
    audit = RootAudit(
        password=password,
        access_keys_active=(True,) if keys[0] else (),
        signing_certificates_active=(True,) if kind == 1 else (),
        mfa_devices=tuple(
            MfaDevice(
                f"arn:aws:iam::{account_id(index)}:{'u2f' if k == 'fido' else 'mfa'}/root-{n}"
                if k != "hardware"
                else f"GAHT{index:08d}",
                k,
            )
            for n, k in enumerate(mfa_kinds)
        ),
    )
    newest = ConsoleLoginEvent(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        time=NOW - timedelta(minutes=rng.uniform(5, 20000)),
        success=True,
        mfa_used=bool(mfa_kinds),
        source_ip=f"203.0.113.{index % 250 + 1}",
    )
    logins = ConsoleLogins(
        counts=MappingProxyType(
            {
                (True, True): rng.randint(0, 40),
                (True, False): rng.randint(0, 5),
                (False, True): rng.randint(0, 3),
                (False, False): rng.randint(0, 9),
            }
        ),
        newest_success=newest if password else None,
        malformed=rng.randint(0, 2),
        seen=MappingProxyType(seen_ids(rng, seen, at)),
        resume_from=NOW + timedelta(seconds=round_no * 300),
    )
    return {
        "account_summary": summary,
        "credential_report": report,
        "mfa_devices": VirtualMfa(root_has_virtual="virtual" in mfa_kinds),
        "console_logins": logins,
        "root_audit": audit,
    }


def account_state(index: int, seen: int = 5) -> AccountState:
    values = source_values(index, seen=seen)
    statuses = {}
    for position, source in enumerate(SOURCES):
        if source == "root_audit" and index == 0:
            continue  # AssumeRoot cannot target the management account
        if index % 97 == 5 and source == "account_summary":  # a few stale, failing sources
            statuses[source] = _failed(values[source], T0 - 3600, T0)
        else:
            statuses[source] = _ok(values[source], T0 - position * 7)
    return AccountState(make_account(index), MappingProxyType(statuses))


def build_snapshot(accounts: int, seen: int = 5) -> Snapshot:
    states = {account_id(i): account_state(i, seen) for i in range(accounts)}
    return Snapshot(
        accounts=MappingProxyType(states),
        home_account_id=HOME_ID,
        discovery=_ok(None, T0 - 60),
        org_features=_ok(OrganizationFeatures(root_credentials_management=True, root_sessions=False), T0 - 60),
        run_durations=MappingProxyType(
            {
                "discovery": 4.2,
                "account_summary": 31.0,
                "credential_report": 95.5,
                "mfa_devices": 28.1,
                "console_logins": 40.7,
                "root_audit": 120.3,
            }
        ),
        completed_sources=frozenset(INTERVALS),
    )


# ---------------------------------------------------------------- measuring and printing


class Timing:
    """Wall-clock and CPU seconds (this process) of each timed call."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []


def timed(fn: Callable[[], Any], repeats: int) -> Timing:
    """Times ``repeats`` calls (after one warm-up call, not counted). CPU time is reported too:
    on a shared, noisy machine it is the steadier figure."""
    import gc
    import time

    fn()
    timing = Timing()
    for _ in range(repeats):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        timing.cpu.append(time.process_time() - cpu)
        timing.wall.append(time.perf_counter() - wall)
    return timing


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    return f"min {min(values) * 1e3:.1f} / max {max(values) * 1e3:.1f}"


def sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def rss_kib() -> Optional[int]:
    """VmRSS of this process in KiB (Linux), None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_note() -> str:
    import platform

    return (
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
