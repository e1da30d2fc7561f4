"""Which accounts to collect: AWS Organizations, or the static list of the configuration."""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional

from exporter.aws.sessions import AwsAccess
from exporter.aws.untrusted import clean
from exporter.config import Config
from exporter.root_email import email_allowed
from exporter.sources.registry import EXPORTER, AwsCall, SourceSpec
from exporter.state import Account

NAME = "discovery"
DISCOVERY_WORKERS = 8  # Organizations calls at once during the walk (at most collection.concurrency)
PAGE_SIZE = 20  # the most ListAccountsForParent and ListOrganizationalUnitsForParent return per page
MAX_DEPTH = 6  # the root and five levels of OUs
SPEC = SourceSpec(
    NAME,
    "the accounts to collect: Organizations accounts with their OU paths, or accounts.static",
    calls=tuple(
        AwsCall(f"organizations:{action}", EXPORTER)
        for action in ("ListRoots", "ListOrganizationalUnitsForParent", "ListAccountsForParent")
    ),
    interval=3600.0,
)
log = logging.getLogger(__name__)


def account_state(raw: dict[str, Any]) -> str:
    """``State`` (current) with a fall back to ``Status`` (being retired)."""
    return clean(raw.get("State") or raw.get("Status") or "UNKNOWN")


def management_account_id(account_arn: str) -> Optional[str]:
    """An account ARN (``arn:aws:organizations::<management id>:account/o-…/<id>``) names the
    management account in its account field."""
    parts = account_arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


@dataclass(frozen=True)
class _Parent:
    """A root or OU met on the walk: its id, and the names and ids from the root down to it."""

    id: str
    names: tuple[str, ...]
    ids: tuple[str, ...]


class OrganizationWalk:
    """Walks the OU tree top-down: ``ListRoots``, then ``ListOrganizationalUnitsForParent`` and
    ``ListAccountsForParent`` for every root and OU, up to ``workers`` calls at once.

    The number of calls grows with the number of OUs (and pages of 20 accounts), not with one
    call per account; OU names come with ``ListOrganizationalUnitsForParent``, so no
    ``DescribeOrganizationalUnit`` is needed. Every name is untrusted text: kept as a string,
    never parsed.
    """

    def __init__(self, organizations: Any, workers: int = DISCOVERY_WORKERS):
        self._org = organizations
        self._workers = max(1, workers)

    def _pages(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        paginator = self._org.get_paginator(operation)
        for page in paginator.paginate(PaginationConfig={"PageSize": PAGE_SIZE}, **params):
            items.extend(page.get(key) or [])
        return items

    def _children(self, parent: _Parent) -> list[_Parent]:
        children = []
        for raw in self._pages("list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent.id):
            ou_id = str(raw["Id"])
            children.append(
                _Parent(ou_id, parent.names + (clean(str(raw.get("Name") or ou_id)),), parent.ids + (clean(ou_id),))
            )
        return children

    def _accounts(self, parent: _Parent) -> list[tuple[dict[str, Any], _Parent]]:
        return [(raw, parent) for raw in self._pages("list_accounts_for_parent", "Accounts", ParentId=parent.id)]

    def accounts(self) -> list[tuple[dict[str, Any], str, tuple[str, ...]]]:
        """(raw account of ``ListAccountsForParent``, OU path, OU ids from the root down), every
        account of the organization once. Any failed call fails the walk (discovery keeps the
        accounts it had and retries)."""
        roots = [
            _Parent(str(raw["Id"]), ("Root",), (clean(str(raw["Id"])),)) for raw in self._pages("list_roots", "Roots")
        ]
        found: list[tuple[dict[str, Any], str, tuple[str, ...]]] = []
        seen_parents: set[str] = set()
        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="discovery") as pool:
            pending: set[Future] = set()

            def visit(parent: _Parent) -> None:
                # Organizations nests OUs five deep; a longer chain or a repeated id is a bad answer.
                if parent.id in seen_parents or len(parent.ids) > MAX_DEPTH:
                    raise ValueError(f"the OU tree repeats or nests too deep at {parent.id}")
                seen_parents.add(parent.id)
                pending.add(pool.submit(self._children, parent))
                pending.add(pool.submit(self._accounts, parent))

            for root in roots:
                visit(root)
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        pending.discard(future)
                        for item in future.result():
                            if isinstance(item, _Parent):
                                visit(item)
                            else:
                                raw, parent = item
                                found.append((raw, "/".join(parent.names), parent.ids))
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return found


def selected(account: Account, include: Iterable[str], exclude: Iterable[str]) -> bool:
    """Include/exclude by account id or by the id of any OU above the account."""
    keys = {account.id, *account.ou_ids}
    include = set(include)
    if include and not keys & include:
        return False
    return not keys & set(exclude)


def discover_organization(access: AwsAccess, config: Config) -> list[Account]:
    home = Account(id=access.home_account_id, name="")
    organizations = access.client(home, "organizations")
    walk = OrganizationWalk(organizations, min(DISCOVERY_WORKERS, config.collection.concurrency))
    accounts = []
    for raw, path, ou_ids in walk.accounts():
        state = account_state(raw)
        if state != "ACTIVE":
            log.debug(
                "skipping account that is not active", extra={"account_id": clean(str(raw["Id"])), "state": state}
            )
            continue
        accounts.append(
            Account(
                id=clean(str(raw["Id"])),
                name=clean(str(raw.get("Name") or "")),
                email=clean(str(raw.get("Email") or "")),
                ou_path=path,
                ou_ids=ou_ids,
                state=state,
                management=management_account_id(str(raw.get("Arn") or "")) == raw["Id"],
            )
        )
    return accounts


def discover_static(config: Config) -> list[Account]:
    return [Account(id=item.id, name=item.name, role_arn=item.role_arn) for item in config.accounts.static]


def discover(access: AwsAccess, config: Config) -> list[Account]:
    """The accounts to collect now, sorted by id, after include/exclude."""
    if config.accounts.discovery == "static":
        found = discover_static(config)
    else:
        found = discover_organization(access, config)
    chosen = [
        replace(a, root_email_allowed=email_allowed(config.accounts.root_email_allowed, a.email))
        for a in found
        if selected(a, config.accounts.include, config.accounts.exclude)
    ]
    return sorted(chosen, key=lambda a: a.id)
