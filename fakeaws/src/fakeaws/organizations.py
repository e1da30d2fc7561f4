"""Organizations (moto's backend, with exact account ids, OU paths and account states) and
``iam:ListOrganizationsFeatures``, the organization-wide centralized root access features."""

from __future__ import annotations

from typing import Any, Optional
from unittest import mock

from fakeaws import wire
from fakeaws.base import FakeBase
from fakeaws.dispatch import _Request
from fakeaws.model import (
    FEATURE_ROOT_CREDENTIALS_MANAGEMENT,
    FEATURE_ROOT_SESSIONS,
    MANAGEMENT_ACCOUNT_ID,
    FakeRoot,
    _Account,
    _AwsError,
    _now,
)

_STATUS_FOR_STATE = {
    "ACTIVE": "ACTIVE",
    "PENDING_ACTIVATION": "ACTIVE",
    "SUSPENDED": "SUSPENDED",
    "PENDING_CLOSURE": "PENDING_CLOSURE",
    "CLOSED": "SUSPENDED",
}


class OrganizationsService(FakeBase):

    def create_organization(self) -> None:
        """An organization (all features) whose management account is 123456789012."""
        backend = _org_backend()
        with self._lock:
            backend.create_organization(region="us-east-1", FeatureSet="ALL")
            master = backend.get_account_by_id(MANAGEMENT_ACCOUNT_ID)
            master.name = "management"
            master.email = "management@example.com"
            assert backend.org is not None
            backend.org.master_account_email = master.email
            self._accounts[MANAGEMENT_ACCOUNT_ID] = _Account(
                MANAGEMENT_ACCOUNT_ID, master.name, master.email, FakeRoot(), _now()
            )

    def create_ou(self, path: str) -> str:
        """The id of OU ``path`` ("Workloads/Prod") under Root, creating missing levels."""
        backend = _org_backend()
        with self._lock:
            parent = self._root_id()
            for name in [part for part in path.split("/") if part]:
                existing = [
                    ou for ou in backend.ou
                    if getattr(ou, "parent_id", None) == parent and ou.name == name
                ]
                if existing:
                    parent = existing[0].id
                else:
                    parent = backend.create_organizational_unit(Name=name, ParentId=parent)[
                        "OrganizationalUnit"
                    ]["Id"]
            return parent

    def create_account(
        self,
        account_id: str,
        name: str,
        email: Optional[str] = None,
        ou: str = "",
        root: Optional[FakeRoot] = None,
        state: str = "ACTIVE",
    ) -> None:
        """A member account with exactly this id, in OU path ``ou`` ("" = Root)."""
        if len(account_id) != 12 or not account_id.isdigit():
            raise ValueError(f"account id must be 12 digits, not {account_id!r}")
        if state not in _STATUS_FOR_STATE:
            raise ValueError(f"unknown account state {state!r}")
        import moto.organizations.utils as org_utils

        backend = _org_backend()
        email = email or f"{name}@example.com"
        with self._lock:
            if any(account.id == account_id for account in backend.accounts):
                raise ValueError(f"account {account_id} already exists")
            # moto draws member ids at random; make it draw ours. Its FakeAccount also creates
            # OrganizationAccountAccessRole in the new account's IAM.
            with mock.patch.object(org_utils, "make_random_account_id", lambda: account_id):
                backend.create_account(AccountName=name, Email=email)
            account = backend.get_account_by_id(account_id)
            account.state = state
            account.status = _STATUS_FOR_STATE[state]
            if ou:
                backend.move_account(
                    AccountId=account_id,
                    SourceParentId=account.parent_id,
                    DestinationParentId=self.create_ou(ou),
                )
            self._accounts[account_id] = _Account(
                account_id, name, email, root if root is not None else FakeRoot(), _now()
            )
            self._normalize(self._accounts[account_id])

    def remove_account(self, account_id: str) -> None:
        """The account leaves the organization (its root state stays)."""
        with self._lock:
            _org_backend().remove_account_from_organization(AccountId=account_id)

    def set_organization_features(self, root_credentials_management: bool, root_sessions: bool) -> None:
        with self._lock:
            self._features = set()
            if root_credentials_management:
                self._features.add(FEATURE_ROOT_CREDENTIALS_MANAGEMENT)
            if root_sessions:
                self._features.add(FEATURE_ROOT_SESSIONS)

    def _root_id(self) -> str:
        backend = _org_backend()
        if backend.org is None:
            raise RuntimeError("create_organization first")
        return backend.org.root_id

    def _org_member_ids(self) -> set[str]:
        backend = _org_backend()
        return {account.id for account in backend.accounts} if backend.org else set()
    def _list_organizations_features(self, request: _Request, account_id: str) -> wire.Response:
        backend = _org_backend()
        with self._lock:
            if backend.org is None:
                raise _AwsError(
                    "OrganizationNotFoundException",
                    "The request was rejected because no organization is associated with your account.",
                )
            if account_id != backend.org.master_account_id:
                raise _AwsError(
                    "AccountNotManagementOrDelegatedAdministratorException",
                    "The request was rejected because the account making the request is not the "
                    "management account or delegated administrator account for centralized root access.",
                )
            features = sorted(self._features)
            org_id = backend.org.id
        return wire.query_response(
            "iam", "ListOrganizationsFeatures", {"OrganizationId": org_id, "EnabledFeatures": features}
        )

def _org_backend() -> Any:
    from moto.organizations.models import organizations_backends

    return organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"]
