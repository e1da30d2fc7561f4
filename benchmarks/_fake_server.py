"""The fake AWS of the benchmarks, in a process of its own, so that the exporter's CPU and memory
are measured alone (the fake is a moto server; in-process it would compete for the GIL).

``FakeServer(accounts, ous)`` spawns the process, builds an organization of ``accounts`` members
(plus the management account) spread over ``ous`` OUs, and answers a few commands over a pipe:
``latency``, ``clear_calls``, ``calls`` (every recorded call as a tuple), ``stop``.

Roots vary by account (index mod 4): password + virtual MFA, password without MFA, no
credentials, password + hardware MFA; so the sources take their different paths.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from typing import Any, NamedTuple, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Call(NamedTuple):
    service: str
    action: str
    account_id: str  # the calling account
    target_account: Optional[str]  # AssumeRole's role account
    time: float


def member_id(index: int) -> str:
    return f"{200000000000 + index * 7919:012d}"


def ou_path(index: int, ous: int) -> str:
    """``ous`` OUs: ten top-level ones, the rest nested one level below them."""
    number = index % ous
    top = number % 10
    return f"Top{top}" if number < 10 else f"Top{top}/Sub{number}"


def _serve(conn: Any, accounts: int, ous: int) -> None:
    from fakeaws import FakeAws, FakeRoot

    started = time.monotonic()
    fake = FakeAws()
    fake.start()
    fake.create_organization()
    for index in range(ous):
        fake.create_ou(ou_path(index, ous))
    for index in range(1, accounts + 1):
        kind = index % 4
        root = (
            FakeRoot.with_password("virtual"),
            FakeRoot.with_password(),
            FakeRoot.without_credentials(),
            FakeRoot.with_password("hardware"),
        )[kind]
        fake.create_account(member_id(index), f"bench-{index:05d}", ou=ou_path(index, ous), root=root)
    conn.send({"env": fake.env(), "build_seconds": time.monotonic() - started})
    while True:
        command, argument = conn.recv()
        if command == "latency":
            fake.clear_latency()
            if argument:
                fake.set_latency(argument)
            conn.send(None)
        elif command == "features":
            fake.set_organization_features(argument, argument)
            conn.send(None)
        elif command == "clear_calls":
            fake.clear_calls()
            conn.send(None)
        elif command == "calls":
            conn.send([Call(c.service, c.action, c.account_id, c.target_account, c.time) for c in fake.calls])
        elif command == "stop":
            fake.stop()
            conn.send(None)
            return


class FakeServer:
    def __init__(self, accounts: int, ous: int = 10):
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, accounts, ous), daemon=True)
        self._process.start()
        ready = self._conn.recv()
        self.env: dict[str, str] = ready["env"]
        self.build_seconds: float = ready["build_seconds"]
        self.pid = self._process.pid
        self.accounts = accounts

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def set_latency(self, seconds: float) -> None:
        self._ask("latency", seconds)

    def clear_calls(self) -> None:
        self._ask("clear_calls")

    def set_organization_features(self, enabled: bool) -> None:
        """Centralized root access on or off (sts:AssumeRoot is refused while off)."""
        self._ask("features", enabled)

    def calls(self) -> list[Call]:
        return self._ask("calls")

    def stop(self) -> None:
        if self._process.is_alive():
            self._ask("stop")
            self._process.join(10)

    def __enter__(self) -> "FakeServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def use_fake(server: FakeServer) -> None:
    """Point this process's boto3 (default chain, endpoint) at ``server``."""
    os.environ.update(server.env)
