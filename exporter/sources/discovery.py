"""Which accounts to collect: AWS Organizations, or the static list of the configuration."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Iterable, Optional

from exporter.aws.sessions import AwsAccess
from exporter.aws.untrusted import clean
from exporter.config import Config
from exporter.root_email import email_allowed
from exporter.state import Account

NAME = "discovery"
log = logging.getLogger(__name__)


def account_state(raw: dict[str, Any]) -> str:
    """``State`` (current) with a fall back to ``Status`` (being retired)."""
    return clean(raw.get("State") or raw.get("Status") or "UNKNOWN")


def management_account_id(account_arn: str) -> Optional[str]:
    """An account ARN (``arn:aws:organizations::<management id>:account/o-…/<id>``) names the
    management account in its account field."""
    parts = account_arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


class OuPaths:
    """Resolves the OU path of accounts with ``ListParents`` and ``DescribeOrganizationalUnit``,
    remembering every OU it met so that each is asked for once per discovery run."""

    def __init__(self, organizations: Any):
        self._org = organizations
        self._parent: dict[str, tuple[str, str]] = {}  # child id -> (parent id, parent type)
        self._name: dict[str, str] = {}

    def _parent_of(self, child_id: str) -> tuple[str, str]:
        if child_id not in self._parent:
            parents = self._org.list_parents(ChildId=child_id)["Parents"]
            if not parents:
                raise ValueError(f"ListParents returned no parent for {child_id}")
            self._parent[child_id] = (parents[0]["Id"], parents[0]["Type"])  # ids: used in calls, cleaned below
        return self._parent[child_id]

    def _name_of(self, ou_id: str, ou_type: str) -> str:
        if ou_type == "ROOT":
            return "Root"
        if ou_id not in self._name:
            self._name[ou_id] = clean(self._org.describe_organizational_unit(OrganizationalUnitId=ou_id)[
                "OrganizationalUnit"]["Name"])
        return self._name[ou_id]

    def resolve(self, account_id: str) -> tuple[str, tuple[str, ...]]:
        """(``"Root/Workloads/Prod"``, ids from the root down)."""
        names: list[str] = []
        ids: list[str] = []
        child = account_id
        for _ in range(10):  # Organizations nests OUs five deep at most
            parent_id, parent_type = self._parent_of(child)
            names.append(self._name_of(parent_id, parent_type))
            ids.append(parent_id)
            if parent_type == "ROOT":
                break
            child = parent_id
        return "/".join(reversed(names)), tuple(clean(ou_id) for ou_id in reversed(ids))


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
    ou_paths = OuPaths(organizations)
    accounts = []
    for page in organizations.get_paginator("list_accounts").paginate():
        for raw in page.get("Accounts", []):
            state = account_state(raw)
            if state != "ACTIVE":
                log.debug("skipping account that is not active", extra={"account_id": clean(raw["Id"]), "state": state})
                continue
            path, ou_ids = ou_paths.resolve(raw["Id"])
            accounts.append(Account(
                id=clean(raw["Id"]),
                name=clean(raw.get("Name", "")),
                email=clean(raw.get("Email", "")),
                ou_path=path,
                ou_ids=ou_ids,
                state=state,
                management=management_account_id(raw.get("Arn", "")) == raw["Id"],
            ))
    return accounts


def discover_static(config: Config) -> list[Account]:
    return [Account(id=item.id, name=item.name, role_arn=item.role_arn) for item in config.accounts.static]


def discover(access: AwsAccess, config: Config) -> list[Account]:
    """The accounts to collect now, sorted by id, after include/exclude."""
    if config.accounts.discovery == "static":
        found = discover_static(config)
    else:
        found = discover_organization(access, config)
    chosen = [replace(a, root_email_allowed=email_allowed(config.accounts.root_email_allowed, a.email))
              for a in found if selected(a, config.accounts.include, config.accounts.exclude)]
    return sorted(chosen, key=lambda a: a.id)
