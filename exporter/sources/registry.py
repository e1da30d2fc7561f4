"""What a source declares about itself, and the registry that everything else reads it from.

Each source module declares one ``SourceSpec``: its name, default interval, whether it is on by
default, the AWS calls it makes and by which principal, and a one-line description. The list
of sources, the default intervals and ``collection.intervals`` keys, the ``--[no-]collector.<name>``
flags, the ``--verify-config`` text and the README's sources and permissions tables all come from
the registry (like node_exporter's ``registerCollector``), so adding a source is one module and
one line in ``exporter/sources/__init__.py``.

This module imports nothing else from the exporter: the configuration schema reads it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterable, Mapping, Optional

if TYPE_CHECKING:
    from exporter.sources.base import AccountSource

# Who makes a call. The member role is assumed with sts:AssumeRole in every other account; in the
# exporter's own account the same calls go out with the exporter's own credentials.
EXPORTER = "exporter"
MEMBER_ROLE = "member_role"
ROOT_SESSION = "root_session"
PRINCIPALS: Mapping[str, str] = MappingProxyType(
    {
        EXPORTER: "exporter's credentials",
        MEMBER_ROLE: "member role",
        ROOT_SESSION: "AssumeRoot session",
    }
)


@dataclass(frozen=True)
class AwsCall:
    """One AWS operation (``iam:GetAccountSummary``) and the principal that makes it.

    ``permission`` is the IAM action that allows it when that is not the operation's own name
    (``sqs:DeleteMessageBatch`` is allowed by ``sqs:DeleteMessage``).
    """

    operation: str
    principal: str
    permission: Optional[str] = None

    @property
    def action(self) -> str:
        """The IAM action a policy must allow for this call."""
        return self.permission or self.operation

    def __post_init__(self) -> None:
        if self.principal not in PRINCIPALS:
            raise ValueError(f"unknown principal {self.principal!r}; one of {', '.join(PRINCIPALS)}")
        if ":" not in self.operation:
            raise ValueError(f"operation {self.operation!r} must be service:Action")


@dataclass(frozen=True)
class SourceSpec:
    """A source's declaration.

    ``interval`` is its default run interval in seconds, the default of
    ``collection.intervals.<name>``; None for a source that does not run on an interval of its
    own, which has no interval key: ``runs`` then says when it runs (``org_features`` within
    each discovery, the ``root_events`` stream as a thread while its queue is configured).
    ``default_on`` is the default of a per-account source's ``--[no-]collector.<name>`` flag.
    """

    name: str
    description: str
    calls: tuple[AwsCall, ...]
    interval: Optional[float] = 300.0
    default_on: bool = True
    runs: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"source name {self.name!r} must be an identifier (it is a flag and a config key)")
        if self.interval is None and not self.runs:
            raise ValueError(f"source {self.name!r} has no interval: say when it runs (runs=...)")


class Registry:
    """The declared sources in run order: organization-wide ones, then the per-account ones.

    Per-account sources (``AccountSource``, each with its ``spec``) get a ``--[no-]collector``
    flag; organization-wide ones (discovery, org_features, the root_events stream) have none.
    An organization-wide read shared by every account of a run (root_policies' SCPs) is still a
    per-account source: it reads once in ``AccountSource.prepare`` and evaluates per account.
    """

    def __init__(self, organization: Iterable[SourceSpec], account_sources: Iterable[AccountSource]):
        self.organization: tuple[SourceSpec, ...] = tuple(organization)
        self.account_sources: tuple[AccountSource, ...] = tuple(account_sources)
        self.specs: tuple[SourceSpec, ...] = self.organization + tuple(s.spec for s in self.account_sources)
        names = [spec.name for spec in self.specs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"sources declared twice: {', '.join(duplicates)}")
        missing = [source.spec.name for source in self.account_sources if source.spec.interval is None]
        if missing:
            raise ValueError(f"per-account sources need an interval: {', '.join(missing)}")
        self._by_name = {spec.name: spec for spec in self.specs}

    def __getitem__(self, name: str) -> SourceSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def with_source(self, source: AccountSource) -> Registry:
        """This registry plus one per-account source, run last."""
        return Registry(self.organization, self.account_sources + (source,))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    @property
    def account_source_names(self) -> tuple[str, ...]:
        """The per-account sources (each has a flag and a ``collection.deadlines`` key)."""
        return tuple(source.spec.name for source in self.account_sources)

    @property
    def interval_names(self) -> tuple[str, ...]:
        """The ``collection.intervals`` keys: every source that runs on its own interval."""
        return tuple(spec.name for spec in self.specs if spec.interval is not None)

    def default_intervals(self) -> Mapping[str, float]:
        return MappingProxyType({spec.name: spec.interval for spec in self.specs if spec.interval is not None})

    def operations(self, principal: str) -> tuple[str, ...]:
        """Every operation ``principal`` makes, sorted, once each."""
        return tuple(
            sorted({call.operation for spec in self.specs for call in spec.calls if call.principal == principal})
        )

    def permissions(self, principal: str) -> tuple[str, ...]:
        """Every IAM action ``principal`` needs for its calls, sorted, once each (for a policy)."""
        return tuple(sorted({call.action for spec in self.specs for call in spec.calls if call.principal == principal}))

    def markdown_table(self) -> str:
        """The README's sources table."""
        from exporter.config.durations import format_duration  # lazy: the configuration reads this module

        lines = ["| source | default | AWS calls, by principal | what |", "|---|---|---|---|"]
        for spec in self.specs:
            if spec.interval is None:
                default = str(spec.runs)
            elif spec in self.organization:
                default = f"every {format_duration(spec.interval)}"
            else:
                default = f"{'on' if spec.default_on else 'off'}, every {format_duration(spec.interval)}"
            calls = "; ".join(
                f"{PRINCIPALS[principal]}: "
                + ", ".join(f"`{c.operation}`" for c in spec.calls if c.principal == principal)
                for principal in PRINCIPALS
                if any(c.principal == principal for c in spec.calls)
            )
            lines.append(f"| `{spec.name}` | {default} | {calls} | {spec.description} |")
        return "\n".join(lines)

    def permissions_table(self) -> str:
        """The README's table of IAM actions by principal, from the declared calls."""
        lines = ["| principal | IAM actions the sources need |", "|---|---|"]
        for principal, title in PRINCIPALS.items():
            actions = self.permissions(principal)
            if actions:
                lines.append(f"| {title} | " + ", ".join(f"`{action}`" for action in actions) + " |")
        return "\n".join(lines)
