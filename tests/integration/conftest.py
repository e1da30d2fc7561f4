"""Integration fixtures: a ``FakeAws`` over HTTP, and the exporter's own collection path against it.

Nothing here is mocked: the exporter's ``AwsAccess`` makes real boto3 calls to the fake on a
loopback port, its sources parse what comes back, and its ``Collection`` records the outcome in a
``SnapshotStore``. Tests set the root-user state in the fake and read the snapshot.

moto keeps its state per process, so one ``FakeAws`` runs at a time: each test module has its own
(module scope), and tests inside a module use accounts of their own (``new_account``).
"""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import pytest

from exporter.aws.sessions import AwsAccess
from exporter.config import parse_config
from fakeaws import FakeAws, FakeRoot
from exporter.root_facts import RootFacts, root_facts
from exporter.scheduler import Collection
from exporter.snapshot import SnapshotStore
from exporter.sources import account_sources
from exporter.sources.base import AccountSource, Context
from exporter.state import AccountState, SourceStatus

MGMT = FakeAws.MANAGEMENT_ACCOUNT_ID
# The credential report wait may not go below 10 s; the fake answers within a few polls.
FAST_COLLECTION = {"credential_report_timeout": "10s", "concurrency": 8}
_account_numbers = itertools.count(1)


@contextmanager
def running_fake(build: Optional[Callable[[FakeAws], None]] = None) -> Iterator[FakeAws]:
    """A started fake with an organization (empty, or made by ``build``), and the environment
    pointing boto3 at it."""
    fake = FakeAws()
    fake.start()
    patch = pytest.MonkeyPatch()
    try:
        for name, value in fake.env().items():
            patch.setenv(name, value)
        (build or FakeAws.create_organization)(fake)
        yield fake
    finally:
        patch.undo()
        fake.stop()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAws]:
    with running_fake() as running:
        yield running


def new_account(
    fake: FakeAws, root: Optional[FakeRoot] = None, ou: str = "", name: str = "", state: str = "ACTIVE"
) -> str:
    """A member account with an id no other test uses; returns the id."""
    number = next(_account_numbers)
    account_id = f"{300000000000 + number * 1001:012d}"
    fake.create_account(account_id, name or f"member-{number}", ou=ou, root=root, state=state)
    return account_id


class Harness:
    """The exporter's collection path (as ``cli._run`` wires it) against the running fake."""

    def __init__(
        self,
        accounts: Optional[dict[str, Any]] = None,
        collection: Optional[dict[str, Any]] = None,
        aws: Optional[dict[str, Any]] = None,
    ):
        data: dict[str, Any] = {"collection": {**FAST_COLLECTION, **(collection or {})}}
        if accounts:
            data["accounts"] = accounts
        if aws:
            data["aws"] = aws
        self.config = parse_config(data, "test")
        self.access = AwsAccess(self.config)
        self.clock_offset = 0.0  # seconds added to the clock the sources see (``later``)
        self.context = Context(access=self.access, config=self.config, clock=lambda: time.time() + self.clock_offset)
        self.store = SnapshotStore()
        self.collection = Collection(self.context, self.store, account_sources())

    def later(self, seconds: float) -> None:
        """Move the sources' clock ``seconds`` ahead (the fake AWS keeps its own clock)."""
        self.clock_offset += seconds

    def source(self, name: str) -> AccountSource:
        return next(source for source in self.collection.sources if source.name == name)

    def run(self, *names: str) -> bool:
        """Run discovery or sources by name, in order; True when every run fully succeeded."""
        ok = True
        for name in names:
            if name == "discovery":
                ok = self.collection.run_discovery() and ok
            else:
                ok = self.collection.run_source(self.source(name)) and ok
        return ok

    @property
    def snapshot(self):
        return self.store.current

    def state(self, account_id: str) -> AccountState:
        return self.store.current.accounts[account_id]

    def status(self, account_id: str, source: str) -> SourceStatus:
        return self.state(account_id).sources[source]

    def value(self, account_id: str, source: str) -> Any:
        return self.state(account_id).value(source)

    def facts(self, account_id: str) -> RootFacts:
        return root_facts(self.state(account_id))


def only(*account_ids: str, **more: Any) -> dict[str, Any]:
    """``accounts`` settings that collect just these accounts."""
    return {"include": list(account_ids), **more}
