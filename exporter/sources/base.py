"""What every per-account source has in common."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from exporter.aws.sessions import AwsAccess
from exporter.config import Config
from exporter.sources.registry import SourceSpec
from exporter.state import Account, Snapshot


@dataclass(frozen=True)
class Context:
    """What a fetch may use: AWS access, the configuration and a clock (Unix seconds)."""

    access: AwsAccess
    config: Config
    clock: Callable[[], float] = field(default=time.time)


@dataclass(frozen=True)
class AccountSource:
    """A source that yields one typed value per account.

    ``fetch(context, account, previous)`` returns the new value or raises; ``previous`` is the
    last good value (sources that accumulate, such as console sign-in counters, build on it).
    ``applies(account, snapshot, config)`` says whether the source runs for that account now.
    ``prepare(context)``, for organization-wide sources, reads what every account shares once
    per run and returns the per-account ``fetch(account, previous)`` for that run; when it
    raises, the run fails for every account it applies to.
    ``spec`` declares its name, default interval, AWS calls and description (see ``registry``).
    ``merge(snapshot, account, value, now)``, for a source whose value also speaks of
    organization-wide state (root activity found by polling), is applied in the same swap that
    records a successful result: a pure function, so the fetch itself never writes the snapshot.
    """

    spec: SourceSpec
    fetch: Callable[[Context, Account, Optional[Any]], Any]
    applies: Callable[[Account, Snapshot, Config], bool] = lambda account, snapshot, config: True
    prepare: Optional[Callable[[Context], Callable[[Account, Optional[Any]], Any]]] = None
    merge: Optional[Callable[[Snapshot, Account, Any, float], Snapshot]] = None

    @property
    def name(self) -> str:
        return self.spec.name
